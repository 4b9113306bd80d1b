//! A shop's webhook settings as people give them, from the CLI or the configuration page:
//! the URL and body format checked into a [`Target`], the secret-rotation window, and an
//! event named by its id. One set of rules for both, so they never disagree.

use super::Format;
use super::address::check_url;

/// After a rotation the previous secret keeps signing this long (microseconds), both
/// signatures being sent, so receivers can move to the new one without losing calls.
pub const ROTATION_WINDOW_MICROS: i64 = 24 * 3600 * 1_000_000;

/// Where and how a shop's events are sent: a URL that passed the address rules (trimmed)
/// and a body format. Only [`Target::check`] makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    url: String,
    format: Format,
}

impl Target {
    /// Checks `url` as it is saved (`address::check_url`: http or https, a host name or,
    /// unless `allow_private`, a public address); the error says what was expected.
    pub fn check(url: &str, format: Format, allow_private: bool) -> Result<Target, String> {
        check_url(url, allow_private)?;
        Ok(Target {
            url: url.trim().to_string(),
            format,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn format(&self) -> Format {
        self.format
    }
}

/// The number of one of shop `shop_id`'s events, from its id as sent (`SHOP-N`) or its
/// number alone (`N`); the error names what was expected.
pub fn event_number(text: &str, shop_id: i64) -> Result<i64, String> {
    let text = text.trim();
    let number = match super::parse_event_id(text) {
        Some((shop, n)) if shop == shop_id => Some(n),
        Some(_) => None,
        None if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
            text.parse::<i64>().ok()
        }
        None => None,
    };
    number.ok_or_else(|| {
        format!("expected an event id of shop {shop_id} ({shop_id}-N), got {text:?}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_keeps_a_trimmed_url_and_refuses_what_cannot_be_called() {
        let t = Target::check(" https://hooks.example.com/in ", Format::Json, false).unwrap();
        assert_eq!(t.url(), "https://hooks.example.com/in");
        assert_eq!(t.format(), Format::Json);
        assert!(Target::check("ftp://example.com/", Format::Form, true).is_err());
        let loopback = Target::check("http://127.0.0.1:9/in", Format::Form, false).unwrap_err();
        assert!(loopback.contains("loopback"), "{loopback}");
        assert!(Target::check("http://127.0.0.1:9/in", Format::Form, true).is_ok());
    }

    #[test]
    fn an_event_is_named_by_its_id_of_this_shop_or_its_number() {
        assert_eq!(event_number("3-118", 3), Ok(118));
        assert_eq!(event_number("118", 3), Ok(118));
        assert_eq!(event_number(" 118 ", 3), Ok(118));
        assert!(event_number("4-118", 3).unwrap_err().contains("(3-N)"));
        for bad in ["", "-1", "3-", "x", "+5", "99999999999999999999"] {
            assert!(event_number(bad, 3).is_err(), "{bad}");
        }
    }
}
