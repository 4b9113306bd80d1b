//! The shop and catalog model: types whose fields can only hold valid values.
//! Entities carry their database id (`id`); a new entity's id is ignored on insert.

use crate::money::{Currency, Decimal, Money};
use crate::vat::VatRate;
use std::fmt;

/// Longest text field accepted (spec: 255 characters; comments 2000).
pub const MAX_TEXT: usize = 255;

/// A non-empty, trimmed text of at most 255 characters without control characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(String);

impl Name {
    pub fn parse(text: &str) -> Result<Name, &'static str> {
        let t = text.trim();
        if t.is_empty() {
            return Err("a non-empty text");
        }
        check_text(t)?;
        Ok(Name(t.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An optional free text: empty means absent; otherwise at most 255 characters, trimmed.
pub fn optional_text(text: &str) -> Result<Option<String>, &'static str> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    check_text(t)?;
    Ok(Some(t.to_string()))
}

fn check_text(t: &str) -> Result<(), &'static str> {
    if t.chars().count() > MAX_TEXT {
        return Err("a text of at most 255 characters");
    }
    if t.chars().any(|c| c.is_control() && c != '\t') {
        return Err("a text without control characters");
    }
    Ok(())
}

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident, $expected:literal, { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire and storage name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the wire name (case-insensitive).
            pub fn parse(text: &str) -> Result<$name, &'static str> {
                let t = text.trim();
                $(if t.eq_ignore_ascii_case($text) { return Ok($name::$variant); })+
                Err($expected)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// A user's role; it decides what the user may do.
    Role, "one of admin, manager, cashier, accountant, preparer, delivery", {
        Admin = "admin", Manager = "manager", Cashier = "cashier",
        Accountant = "accountant", Preparer = "preparer", Delivery = "delivery",
    }
);

string_enum!(
    /// The shop's licence: the extended licence opens the web services.
    Licence, "standard or extended", { Standard = "standard", Extended = "extended" }
);

string_enum!(
    /// What a payment method is; `refund` methods turn a sale into a refund.
    PaymentKind,
    "one of cash, card, cheque, voucher, credit_note, transfer, other, refund",
    {
        Cash = "cash", Card = "card", Cheque = "cheque", Voucher = "voucher",
        CreditNote = "credit_note", Transfer = "transfer", Other = "other", Refund = "refund",
    }
);

string_enum!(
    /// How a discount changes what it applies to.
    DiscountKind, "one of percent, amount, fixed_price", {
        Percent = "percent", Amount = "amount", FixedPrice = "fixed_price",
    }
);

/// A percentage from 0 to 100 with at most two decimals, in hundredths (10 % is 1000).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, PartialOrd, Ord)]
pub struct Percent(u32);

impl Percent {
    pub fn parse(text: &str) -> Result<Percent, &'static str> {
        const EXPECTED: &str = "a percentage between 0 and 100 with at most 2 decimals";
        let d = Decimal::parse(text, 2).map_err(|_| EXPECTED)?;
        Percent::from_hundredths(d.scaled).ok_or(EXPECTED)
    }

    pub fn from_hundredths(h: i64) -> Option<Percent> {
        (0..=10_000).contains(&h).then_some(Percent(h as u32))
    }

    pub fn hundredths(self) -> i64 {
        i64::from(self.0)
    }
}

/// An ISO 3166-1 alpha-2 country code, upper case (`FR`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Country([u8; 2]);

impl Country {
    pub const FR: Country = Country(*b"FR");

    pub fn parse(text: &str) -> Result<Country, &'static str> {
        const EXPECTED: &str = "a two-letter ISO 3166 country code such as FR";
        let up = text.trim().to_ascii_uppercase();
        let b: [u8; 2] = up.as_bytes().try_into().map_err(|_| EXPECTED)?;
        if b.iter().all(u8::is_ascii_uppercase) {
            Ok(Country(b))
        } else {
            Err(EXPECTED)
        }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("ZZ")
    }
}

/// An IANA time zone name known to the system's time zone database (`Europe/Paris`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeZoneName(String);

impl TimeZoneName {
    pub fn parse(text: &str) -> Result<TimeZoneName, &'static str> {
        let t = text.trim();
        match jiff::tz::TimeZone::get(t) {
            Ok(_) if !t.is_empty() => Ok(TimeZoneName(t.to_string())),
            _ => Err("an IANA time zone name such as Europe/Paris"),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The time zone itself; falls back to UTC if the database lost the name since.
    pub fn tz(&self) -> jiff::tz::TimeZone {
        jiff::tz::TimeZone::get(&self.0).unwrap_or(jiff::tz::TimeZone::UTC)
    }
}

/// A geographic coordinate in degrees with at most 7 decimals, stored in 1e-7 degrees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Coordinate(i64);

impl Coordinate {
    /// Parses a latitude (`max` 90) or longitude (`max` 180).
    pub fn parse(text: &str, max: i64) -> Result<Coordinate, &'static str> {
        const EXPECTED: &str = "a coordinate in degrees with at most 7 decimals";
        let d = Decimal::parse(text, 7).map_err(|_| EXPECTED)?;
        if d.scaled.abs() > max * 10_000_000 {
            return Err(EXPECTED);
        }
        Ok(Coordinate(d.scaled))
    }

    pub fn from_e7(v: i64) -> Coordinate {
        Coordinate(v)
    }

    pub fn e7(self) -> i64 {
        self.0
    }

    pub fn to_decimal_string(self) -> String {
        crate::money::format_scaled(self.0, 7)
    }
}

/// A shop's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Shop {
    pub id: i64,
    pub name: Name,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub rc_number: Option<String>,
    pub vat_number: Option<String>,
    pub currency: Currency,
    pub timezone: TimeZoneName,
    pub country: Country,
    pub prices_include_vat: bool,
    pub default_vat_rate: VatRate,
    pub licence: Licence,
}

/// A person who signs in; `login` is unique across the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub login: Name,
    pub display_name: Name,
    pub role: Role,
}

/// A VAT rate the shop uses, with an optional label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VatRateEntry {
    pub id: i64,
    pub rate: VatRate,
    pub name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DepartmentGroup {
    pub id: i64,
    pub name: Name,
}

/// A department (rayon): items inherit its VAT rate and default discount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Department {
    pub id: i64,
    pub group_id: Option<i64>,
    pub name: Name,
    pub vat_rate: VatRate,
    pub default_discount: Percent,
}

/// A catalog item (PLU). Its VAT rate is its own override or its department's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub id: i64,
    pub department_id: i64,
    pub name: Name,
    pub price: Money,
    pub vat_rate: Option<VatRate>,
    pub barcode: Option<String>,
    pub reference: Option<String>,
    pub position: i64,
    pub active: bool,
    /// Stock in thousandths of a unit; `None` when stock is not managed.
    pub stock: Option<i64>,
}

/// A variation of an item (déclinaison) with its price change, positive or negative.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variation {
    pub id: i64,
    pub item_id: i64,
    pub name: Name,
    pub price_change: Money,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentMethod {
    pub id: i64,
    pub name: Name,
    pub kind: PaymentKind,
    pub min_amount: Option<Money>,
    pub max_amount: Option<Money>,
    pub cash_box_id: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CashBox {
    pub id: i64,
    pub name: Name,
    pub is_virtual: bool,
    pub open: bool,
    pub fund: Money,
}

/// A client, with every `client[...]` field of the web services.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Client {
    pub id: i64,
    pub last_name: Option<String>,
    pub first_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub phone2: Option<String>,
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub address_comment: Option<String>,
    pub postcode: Option<String>,
    pub city: Option<String>,
    pub country: Option<Country>,
    pub vat_number: Option<String>,
    pub company_number: Option<String>,
    pub barcode: Option<String>,
    pub lat: Option<Coordinate>,
    pub lng: Option<Coordinate>,
}

impl Client {
    /// How people know the client: last name, first name and e-mail, those that are set,
    /// space-separated (empty when none is).
    pub fn display_name(&self) -> String {
        [
            self.last_name.as_deref(),
            self.first_name.as_deref(),
            self.email.as_deref(),
        ]
        .into_iter()
        .flatten()
        .filter(|s| !s.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" ")
    }

    /// Whether a search for `text` finds this client: every word of it is part of the
    /// last name, first name or e-mail, ignoring case (`lefè anne` finds Anne Lefèvre).
    pub fn matches(&self, text: &str) -> bool {
        let fields: Vec<String> = [&self.last_name, &self.first_name, &self.email]
            .into_iter()
            .flatten()
            .map(|s| s.to_lowercase())
            .collect();
        let mut words = text.split_whitespace().map(str::to_lowercase).peekable();
        words.peek().is_some() && words.all(|w| fields.iter().any(|f| f.contains(&w)))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryZone {
    pub id: i64,
    pub name: Name,
    pub fee: Money,
    pub min_amount: Option<Money>,
    pub address: Option<String>,
    /// Radius around the address, in metres.
    pub radius_m: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayPoint {
    pub id: i64,
    pub name: Name,
    pub address: Option<String>,
    pub opening_hours: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryPerson {
    pub id: i64,
    pub name: Name,
    pub phone: Option<String>,
}

/// A discount: a percentage off, an amount off, or a fixed price.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Discount {
    pub id: i64,
    pub name: Name,
    pub kind: DiscountKind,
    /// Hundredths of a percent for `percent`, minor units for `amount` and `fixed_price`.
    pub value: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub id: i64,
    pub name: Name,
    pub seats: Option<i64>,
}

/// Checks a login: 3 to 255 characters among letters, digits and `@._+-`.
pub fn parse_login(text: &str) -> Result<Name, &'static str> {
    const EXPECTED: &str = "a login of 3 to 255 letters, digits or @._+-";
    let t = text.trim();
    let ok = (3..=MAX_TEXT).contains(&t.len())
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@._+-".contains(&b));
    if ok {
        Ok(Name(t.to_ascii_lowercase()))
    } else {
        Err(EXPECTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(Name::parse("  Espresso ").unwrap().as_str(), "Espresso");
        assert!(Name::parse("   ").is_err());
        assert!(Name::parse(&"x".repeat(256)).is_err());
        assert!(Name::parse("a\u{0}b").is_err());
        assert_eq!(optional_text(" ").unwrap(), None);
    }

    #[test]
    fn enums_parse_their_wire_names() {
        assert_eq!(Role::parse("Manager"), Ok(Role::Manager));
        assert_eq!(
            PaymentKind::parse("credit_note"),
            Ok(PaymentKind::CreditNote)
        );
        assert!(PaymentKind::parse("bitcoin").is_err());
        for k in PaymentKind::ALL {
            assert_eq!(PaymentKind::parse(k.as_str()), Ok(*k));
        }
    }

    #[test]
    fn zones_countries_and_coordinates() {
        assert!(TimeZoneName::parse("Europe/Paris").is_ok());
        assert!(TimeZoneName::parse("Mars/Olympus").is_err());
        assert_eq!(Country::parse("fr"), Ok(Country::FR));
        assert!(Country::parse("FRA").is_err());
        assert_eq!(
            Coordinate::parse("48.8462", 90)
                .unwrap()
                .to_decimal_string(),
            "48.8462000"
        );
        assert!(Coordinate::parse("91", 90).is_err());
        assert_eq!(
            parse_login("Admin@Shop-1").unwrap().as_str(),
            "admin@shop-1"
        );
        assert!(parse_login("a b").is_err());
    }

    #[test]
    fn a_client_is_named_and_found_by_the_words_of_its_name() {
        let k = Client {
            id: 5,
            last_name: Some("Lefèvre".into()),
            first_name: Some("Anne".into()),
            email: Some("anne@b.example".into()),
            ..Client::default()
        };
        assert_eq!(k.display_name(), "Lefèvre Anne anne@b.example");
        for hit in ["lefèvre", "LEFÈ", "anne lef", "b.example"] {
            assert!(k.matches(hit), "{hit}");
        }
        for miss in ["", "  ", "lefevre", "anne dupont", "5"] {
            assert!(!k.matches(miss), "{miss}");
        }
        assert_eq!(Client::default().display_name(), "");
    }
}
