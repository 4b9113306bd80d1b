//! The HTTP client of the webhooks: no redirects, no proxy, a per-attempt timeout, and a
//! resolver that drops forbidden addresses, so the connection goes to an address that
//! was checked after DNS resolution (a rebinding answer cannot slip in between).

use comptoir_core::webhook::address::{self, Host};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Resolves names and keeps only the addresses webhooks may reach.
struct CheckedResolver {
    allow_private: bool,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let (kept, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = found
                .into_iter()
                .partition(|a| allow_private || address::classify(a.ip()).is_none());
            if kept.is_empty() {
                let why = refused.first().map_or_else(
                    || format!("{host} has no address"),
                    |a| {
                        let class = address::classify(a.ip()).map_or("", |c| c.as_str());
                        format!("{host} resolves to {}, {class}: refused", a.ip())
                    },
                );
                return Err(why.into());
            }
            let addrs: Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

/// The client every attempt of this process shares (its connections are kept alive, up
/// to `per_host` idle ones a receiver: as many as a shop's attempts in flight, so a busy
/// shop reuses its connections instead of opening new ones).
pub(super) fn build(
    allow_private: bool,
    timeout: Duration,
    per_host: usize,
) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("Comptoir-Webhook/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        // A proxy would be reached instead of the checked address.
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout)
        .pool_max_idle_per_host(per_host)
        .dns_resolver(Arc::new(CheckedResolver { allow_private }))
        .build()
}

/// Checks a stored URL before an attempt: it still parses, and an address written in it
/// is allowed (names are checked by the resolver). The URL crate's reading is checked,
/// since that is where the client connects.
pub(super) fn check(url: &str, allow_private: bool) -> Result<reqwest::Url, String> {
    let checked = address::check_url(url, allow_private)?;
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
    let host = parsed.host_str().ok_or_else(|| format!("{url}: no host"))?;
    // The URL crate writes the addresses it read in canonical form, IPv6 in brackets.
    let literal = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .ok();
    // Both readings must agree on whether the host is an address.
    let agree = matches!(
        (&checked.host, literal),
        (Host::Ip(_), Some(_)) | (Host::Name(_), None)
    );
    if !agree {
        return Err(format!("{url}: {}", address::EXPECTED_URL));
    }
    if let (Some(ip), false) = (literal, allow_private)
        && let Some(why) = address::classify(ip)
    {
        return Err(format!("{ip} is {}: refused", why.as_str()));
    }
    Ok(parsed)
}

/// The message of an error and of its causes, which is where reqwest puts the reason.
pub(super) fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_after_resolution() {
        let strict = CheckedResolver {
            allow_private: false,
        };
        let name: Name = "localhost".parse().expect("a name");
        let err = match strict.resolve(name).await {
            Ok(_) => panic!("localhost resolved to an allowed address"),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains("localhost resolves to") && err.contains("loopback"),
            "{err}"
        );
        let open = CheckedResolver {
            allow_private: true,
        };
        let name: Name = "localhost".parse().expect("a name");
        let addrs: Vec<SocketAddr> = open.resolve(name).await.expect("resolves").collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()) && !addrs.is_empty());
    }

    #[test]
    fn the_url_crate_and_the_check_agree() {
        assert!(check("http://127.0.0.1:8/x", false).is_err());
        assert!(check("http://127.0.0.1:8/x", true).is_ok());
        assert!(check("http://[::ffff:7f00:1]/x", false).is_err());
        assert!(check("http://2130706433/x", true).is_err(), "a number host");
        assert!(check("http://localhost/x", false).is_err());
        assert!(check("https://hooks.example.com/in", false).is_ok());
    }
}
