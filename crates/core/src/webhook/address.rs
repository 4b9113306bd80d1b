//! Where a webhook may go: `http` or `https` URLs whose host is a name or a public address.
//! Loopback, private, link-local, CGNAT, unique-local, multicast, unspecified, reserved and
//! cloud-metadata addresses are refused, also inside IPv4-mapped and similar IPv6 forms.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forbidden {
    Loopback,
    Private,
    LinkLocal,
    Cgnat,
    UniqueLocal,
    Multicast,
    Unspecified,
    CloudMetadata,
    Reserved,
}

impl Forbidden {
    pub fn as_str(self) -> &'static str {
        match self {
            Forbidden::Loopback => "a loopback address",
            Forbidden::Private => "a private address",
            Forbidden::LinkLocal => "a link-local address",
            Forbidden::Cgnat => "a carrier-grade NAT address",
            Forbidden::UniqueLocal => "a unique-local address",
            Forbidden::Multicast => "a multicast or broadcast address",
            Forbidden::Unspecified => "an unspecified address",
            Forbidden::CloudMetadata => "a cloud metadata address",
            Forbidden::Reserved => "a reserved address",
        }
    }
}

/// Why `ip` may not be called, or `None` when it is a public address.
pub fn classify(ip: IpAddr) -> Option<Forbidden> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Forbidden> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip == Ipv4Addr::new(169, 254, 169, 254) => Forbidden::CloudMetadata,
        // Alibaba Cloud's metadata service sits in the CGNAT range.
        _ if ip == Ipv4Addr::new(100, 100, 100, 200) => Forbidden::CloudMetadata,
        (0, ..) => Forbidden::Unspecified,
        (127, ..) => Forbidden::Loopback,
        (10, ..) | (192, 168, _) => Forbidden::Private,
        (172, 16..=31, _) => Forbidden::Private,
        (169, 254, _) => Forbidden::LinkLocal,
        (100, 64..=127, _) => Forbidden::Cgnat,
        (224..=239, ..) | (255, 255, 255) => Forbidden::Multicast,
        // Protocol assignments, documentation, benchmarking, and 240/4.
        (192, 0, 0 | 2) | (198, 18 | 19, _) | (198, 51, 100) | (203, 0, 113) | (240..=255, ..) => {
            Forbidden::Reserved
        }
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<Forbidden> {
    let s = ip.segments();
    if ip.is_unspecified() {
        return Some(Forbidden::Unspecified);
    }
    if ip.is_loopback() {
        return Some(Forbidden::Loopback);
    }
    if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        return Some(Forbidden::CloudMetadata);
    }
    let embedded = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    // Forms that carry an IPv4 address: the verdict is the IPv4 address's.
    let v4 = match s {
        // IPv4-mapped ::ffff:a.b.c.d and IPv4-compatible ::a.b.c.d.
        [0, 0, 0, 0, 0, 0xffff | 0, hi, lo] => Some(embedded(hi, lo)),
        // NAT64 64:ff9b::a.b.c.d and 64:ff9b:1::/48.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] | [0x64, 0xff9b, 1, _, _, _, hi, lo] => {
            Some(embedded(hi, lo))
        }
        // 6to4 2002:aabb:ccdd::.
        [0x2002, hi, lo, ..] => Some(embedded(hi, lo)),
        _ => None,
    };
    if let Some(v4) = v4 {
        return classify_v4(v4);
    }
    Some(match s[0] {
        0xfc00..=0xfdff => Forbidden::UniqueLocal,
        0xfe80..=0xfebf => Forbidden::LinkLocal,
        // Site-local, deprecated but still routed inside some networks.
        0xfec0..=0xfeff => Forbidden::Private,
        0xff00..=0xffff => Forbidden::Multicast,
        // Documentation 2001:db8::/32 and the discard prefix 100::/64.
        0x2001 if s[1] == 0xdb8 => Forbidden::Reserved,
        0x0100 if s[1..4] == [0, 0, 0] => Forbidden::Reserved,
        _ => return None,
    })
}

/// The host of a webhook URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    /// A DNS name, lowercase: checked after resolution, at each attempt.
    Name(String),
    /// An address written in the URL.
    Ip(IpAddr),
}

/// A webhook URL that parses: `http` or `https`, a host, an optional port, a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookUrl {
    pub https: bool,
    pub host: Host,
    pub port: u16,
}

/// What a URL that cannot be used looks like, for error messages.
pub const EXPECTED_URL: &str =
    "an http:// or https:// URL with a host name or a public address and no user name";

/// Parses a webhook URL. Only dotted-decimal IPv4 and bracketed IPv6 count as addresses;
/// a host that a browser would read as a number in another form (`2130706433`, `0x7f.1`,
/// `127.1`) is refused rather than guessed, so this check and the HTTP client never
/// disagree on where a URL goes.
pub fn parse_url(text: &str) -> Result<WebhookUrl, &'static str> {
    let t = text.trim();
    if t.len() > 2048 || t.bytes().any(|b| b <= b' ' || b == 0x7f || b == b'\\') {
        return Err(EXPECTED_URL);
    }
    let lower = t.get(..8).map(str::to_ascii_lowercase).unwrap_or_default();
    let (https, rest) = if lower.starts_with("https://") {
        (true, &t[8..])
    } else if lower.starts_with("http://") {
        (false, &t[7..])
    } else {
        return Err(EXPECTED_URL);
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.contains('@') || authority.is_empty() {
        return Err(EXPECTED_URL);
    }
    let default_port = if https { 443 } else { 80 };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (addr, after) = v6.split_once(']').ok_or(EXPECTED_URL)?;
        let ip: Ipv6Addr = addr.parse().map_err(|_| EXPECTED_URL)?;
        (Host::Ip(IpAddr::V6(ip)), port_of(after, default_port)?)
    } else {
        let (name, after) = match authority.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (authority, None),
        };
        let port = match after {
            Some(p) => port_of(&format!(":{p}"), default_port)?,
            None => default_port,
        };
        (host_of(name)?, port)
    };
    Ok(WebhookUrl { https, host, port })
}

fn port_of(after: &str, default_port: u16) -> Result<u16, &'static str> {
    match after {
        "" => Ok(default_port),
        p => {
            let digits = p.strip_prefix(':').ok_or(EXPECTED_URL)?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(EXPECTED_URL);
            }
            match digits.parse::<u16>() {
                Ok(0) | Err(_) => Err(EXPECTED_URL),
                Ok(n) => Ok(n),
            }
        }
    }
}

fn host_of(name: &str) -> Result<Host, &'static str> {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if let Ok(v4) = name.parse::<Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(v4)));
    }
    let labels_ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    // WHATWG URL parsers read a host whose last label is numeric (or 0x…) as an IPv4
    // address in some other notation: refuse those.
    let last = name.rsplit('.').next().unwrap_or("");
    let numeric = last.bytes().all(|b| b.is_ascii_digit())
        || (last.starts_with("0x") && last[2..].bytes().all(|b| b.is_ascii_hexdigit()));
    if !labels_ok || numeric {
        return Err(EXPECTED_URL);
    }
    Ok(Host::Name(name))
}

/// Checks a URL when it is saved: it parses, and a literal address is allowed (always when
/// `allow_private`). Names are checked after resolution, at each attempt.
pub fn check_url(text: &str, allow_private: bool) -> Result<WebhookUrl, String> {
    let url = parse_url(text).map_err(str::to_string)?;
    if allow_private {
        return Ok(url);
    }
    let refused = match &url.host {
        Host::Ip(ip) => classify(*ip).map(|why| format!("{ip} is {}", why.as_str())),
        Host::Name(n)
            if n == "localhost" || n.ends_with(".localhost") || n == "metadata.google.internal" =>
        {
            Some(format!("{n} is an internal name"))
        }
        Host::Name(_) => None,
    };
    if let Some(why) = refused {
        return Err(format!("{why}: webhooks only go to public addresses"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    #[test]
    fn every_class_is_named() {
        let cases: &[(&str, Option<Forbidden>)] = &[
            ("127.0.0.1", Some(Forbidden::Loopback)),
            ("10.1.2.3", Some(Forbidden::Private)),
            ("172.16.0.1", Some(Forbidden::Private)),
            ("172.32.0.1", None),
            ("192.168.1.1", Some(Forbidden::Private)),
            ("169.254.1.1", Some(Forbidden::LinkLocal)),
            ("169.254.169.254", Some(Forbidden::CloudMetadata)),
            ("100.64.0.1", Some(Forbidden::Cgnat)),
            ("100.128.0.1", None),
            ("224.0.0.1", Some(Forbidden::Multicast)),
            ("255.255.255.255", Some(Forbidden::Multicast)),
            ("0.0.0.0", Some(Forbidden::Unspecified)),
            ("8.8.8.8", None),
            ("::", Some(Forbidden::Unspecified)),
            ("::1", Some(Forbidden::Loopback)),
            ("fe80::1", Some(Forbidden::LinkLocal)),
            ("fc00::1", Some(Forbidden::UniqueLocal)),
            ("fd12:3456::1", Some(Forbidden::UniqueLocal)),
            ("fd00:ec2::254", Some(Forbidden::CloudMetadata)),
            ("ff02::1", Some(Forbidden::Multicast)),
            ("::ffff:127.0.0.1", Some(Forbidden::Loopback)),
            ("::ffff:169.254.169.254", Some(Forbidden::CloudMetadata)),
            ("::ffff:10.0.0.1", Some(Forbidden::Private)),
            ("::127.0.0.1", Some(Forbidden::Loopback)),
            ("64:ff9b::10.0.0.1", Some(Forbidden::Private)),
            ("2002:7f00:1::", Some(Forbidden::Loopback)),
            ("::ffff:8.8.8.8", None),
            ("2606:4700::1111", None),
        ];
        for (text, want) in cases {
            let ip: IpAddr = text.parse().unwrap();
            assert_eq!(classify(ip), *want, "{text}");
        }
    }

    #[test]
    fn urls_parse_strictly() {
        let u = parse_url("HTTPS://Hooks.Example.com:8443/in?x=1").unwrap();
        assert_eq!(
            u,
            WebhookUrl {
                https: true,
                host: Host::Name("hooks.example.com".into()),
                port: 8443
            }
        );
        assert_eq!(
            parse_url("http://[::1]/x").unwrap().host,
            Host::Ip("::1".parse().unwrap())
        );
        assert_eq!(parse_url("http://127.0.0.1:9/").unwrap().port, 9);
        for bad in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "http://user:pw@example.com/",
            "http://@example.com/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://127.1/",
            "http://example.com:0/",
            "http://example.com:99999/",
            "http://exa mple.com/",
            "http:///x",
            "http://[::1/",
            "example.com",
            "javascript:alert(1)",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn saving_refuses_internal_targets_unless_allowed() {
        for bad in [
            "http://127.0.0.1/",
            "http://[::1]/",
            "http://169.254.169.254/latest/meta-data",
            "http://[fd00:ec2::254]/",
            "http://[::ffff:7f00:1]/",
            "http://localhost:8080/",
            "http://10.0.0.1/",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
            assert!(check_url(bad, true).is_ok(), "{bad} allowed");
        }
        assert!(check_url("https://hooks.example.com/x", false).is_ok());
        assert!(check_url("http://93.184.216.34/", false).is_ok());
    }

    proptest! {
        #[test]
        fn private_ranges_are_refused(x: u32) {
            let [_, b, c, d] = x.to_be_bytes();
            prop_assert_eq!(classify(v4(10, b, c, d)), Some(Forbidden::Private));
            prop_assert_eq!(classify(v4(192, 168, c, d)), Some(Forbidden::Private));
            prop_assert_eq!(classify(v4(172, 16 + (b & 15), c, d)), Some(Forbidden::Private));
            prop_assert_eq!(classify(v4(127, b, c, d)), Some(Forbidden::Loopback));
            prop_assert_eq!(classify(v4(100, 64 + (b & 63), c, d)).is_some(), true);
            prop_assert!(classify(v4(169, 254, c, d)).is_some());
            prop_assert!(classify(v4(224 + (b & 15), b, c, d)).is_some());
            prop_assert_eq!(classify(v4(0, b, c, d)), Some(Forbidden::Unspecified));
        }

        #[test]
        fn ipv4_in_ipv6_gets_the_ipv4_verdict(x: u32) {
            let ip = Ipv4Addr::from(x);
            let want = classify(IpAddr::V4(ip));
            prop_assert_eq!(classify(IpAddr::V6(ip.to_ipv6_mapped())), want);
            let [a, b, c, d] = ip.octets();
            let nat64 = Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]));
            prop_assert_eq!(classify(IpAddr::V6(nat64)), want);
        }

        #[test]
        fn ipv6_internal_prefixes_are_refused(x: u128) {
            let top = 0xfc00u128 | ((x >> 112) & 0x1ff);
            let ula = Ipv6Addr::from((top << 112) | (x & ((1u128 << 112) - 1)));
            prop_assert!(classify(IpAddr::V6(ula)).is_some());
            let ll = Ipv6Addr::from((0xfe80u128 << 112) | (x & ((1u128 << 118) - 1)));
            prop_assert_eq!(classify(IpAddr::V6(ll)), Some(Forbidden::LinkLocal));
            let mc = Ipv6Addr::from((0xffu128 << 120) | (x & ((1u128 << 120) - 1)));
            prop_assert_eq!(classify(IpAddr::V6(mc)), Some(Forbidden::Multicast));
        }

        #[test]
        fn parsing_never_panics(s in ".{0,80}") {
            let _ = parse_url(&s);
            let _ = check_url(&s, false);
        }

        #[test]
        fn public_looking_names_parse(name in "[a-z][a-z0-9-]{0,20}[a-z]\\.[a-z]{2,6}") {
            let url = format!("https://{name}/hook");
            prop_assert_eq!(parse_url(&url).map(|u| u.host), Ok(Host::Name(name)));
        }
    }
}
