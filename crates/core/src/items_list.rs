//! The `itemsList[]` grammar of `webapp.php`: one wire entry (`12_2`, `-3_4.50_Extra`,
//! `Free_9.90_Gift wrap`) into one [`LineSpec`], with errors that say what was expected.

use crate::error::{ErrorCode, SaleError};
use crate::money::{Currency, DecimalError, MAX_MAJOR_UNITS, Money};
use crate::quantity::Quantity;

/// Most lines in one sale (spec "Limits").
pub const MAX_LINES: usize = 500;

/// Most variation ids on one catalog line.
pub const MAX_VARIATIONS: usize = 5;

/// Longest title, in characters (Unicode scalar values), after trimming.
pub const MAX_TITLE_CHARS: usize = 255;

/// The parameter name as integrators write it, used for errors about the whole list.
pub const LIST_FIELD: &str = "itemsList[]";

/// How much of a refused value is echoed back in a message.
const ECHO_CHARS: usize = 40;

const TITLE_HINT: &str =
    "titles in catalog forms cannot contain `_`: use the title field without `_`, or a free line";

/// One parsed `itemsList[]` entry, before the catalog is consulted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineSpec {
    /// `ITEM[_QTY[_TITLE[_PRICE[_V1…_V5]]]]`: a catalog item.
    Item {
        item_id: i64,
        /// Empty or absent on the wire: 1.
        quantity: Quantity,
        /// `None`: the catalog name.
        title: Option<String>,
        /// `None`: the catalog price (plus the variations' price changes). In the shop's
        /// price convention (VAT included unless the shop says otherwise).
        unit_price: Option<Money>,
        /// Distinct variation ids, in the order sent; at most [`MAX_VARIATIONS`].
        variations: Vec<i64>,
    },
    /// `-DEPT_PRICE[_TITLE]`: a free line in a department, quantity 1, its VAT rate.
    Department {
        department_id: i64,
        unit_price: Money,
        /// `None`: the department's name. May contain `_`.
        title: Option<String>,
    },
    /// `Free_PRICE_TITLE`: a free line outside any department, at the shop's default rate,
    /// quantity 1. The title is required and may contain `_`.
    Free { unit_price: Money, title: String },
}

impl LineSpec {
    /// The wire form of this line, the inverse of [`parse_entry`] for every spec it
    /// returns. `None` for an item title containing `_`, which the grammar cannot carry.
    pub fn to_entry(&self, currency: Currency) -> Option<String> {
        let digits = currency.digits();
        match self {
            LineSpec::Item {
                item_id,
                quantity,
                title,
                unit_price,
                variations,
            } => {
                let title = title.as_deref().unwrap_or("");
                if title.contains('_') {
                    return None;
                }
                let price = unit_price.map(|p| p.format(digits)).unwrap_or_default();
                let mut entry =
                    format!("{item_id}_{}_{title}_{price}", quantity.to_decimal_string());
                for v in variations {
                    entry.push('_');
                    entry.push_str(&v.to_string());
                }
                Some(entry)
            }
            LineSpec::Department {
                department_id,
                unit_price,
                title,
            } => Some(format!(
                "-{department_id}_{}_{}",
                unit_price.format(digits),
                title.as_deref().unwrap_or("")
            )),
            LineSpec::Free { unit_price, title } => {
                Some(format!("Free_{}_{title}", unit_price.format(digits)))
            }
        }
    }
}

/// The field name of entry `index`: `itemsList[0]` for the first entry.
///
/// Indices are 0-based, as in the PHP array the integrator built (`$items[1]` is the
/// second line), so the spec's `itemsList[1]` names the second entry sent.
pub fn field_name(index: usize) -> String {
    crate::error::list_field_name(index)
}

/// Parses one entry. `currency` gives the number of decimals a price may have.
///
/// Whitespace around each field is ignored. An entry whose first field starts with `-`
/// is a department line; one whose first field is `Free` (any letter case) a free line;
/// anything else a catalog line.
pub fn parse_entry(index: usize, entry: &str, currency: Currency) -> Result<LineSpec, SaleError> {
    let err =
        |detail: String| SaleError::new(ErrorCode::InvalidParameter, field_name(index), detail);
    let first = entry.split('_').next().unwrap_or("").trim();
    if let Some(dept) = first.strip_prefix('-') {
        parse_department(entry, dept, currency).map_err(err)
    } else if first.eq_ignore_ascii_case("free") {
        parse_free(entry, currency).map_err(err)
    } else {
        parse_item(entry, currency).map_err(err)
    }
}

/// Checks the number of entries: at least 1 (`missing_parameter`), at most [`MAX_LINES`].
pub fn check_count(count: usize) -> Result<(), SaleError> {
    if count == 0 {
        return Err(SaleError::new(
            ErrorCode::MissingParameter,
            LIST_FIELD,
            "at least one line is required, e.g. itemsList[]=12 for one item 12",
        ));
    }
    if count > MAX_LINES {
        return Err(SaleError::new(
            ErrorCode::InvalidParameter,
            LIST_FIELD,
            format!("at most {MAX_LINES} lines per sale, got {count}"),
        ));
    }
    Ok(())
}

/// Parses a whole list; every malformed entry is reported, in order.
pub fn parse_list<S: AsRef<str>>(
    entries: &[S],
    currency: Currency,
) -> Result<Vec<LineSpec>, Vec<SaleError>> {
    check_count(entries.len()).map_err(|e| vec![e])?;
    let mut specs = Vec::with_capacity(entries.len());
    let mut errors = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        match parse_entry(index, entry.as_ref(), currency) {
            Ok(spec) => specs.push(spec),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(specs)
    } else {
        Err(errors)
    }
}

fn parse_item(entry: &str, currency: Currency) -> Result<LineSpec, String> {
    // ITEM, QTY, TITLE, PRICE, up to five variations, and one more to detect excess.
    let mut fields = entry.splitn(4 + MAX_VARIATIONS + 1, '_');
    let raw_id = fields.next().unwrap_or("");
    let item_id = parse_id(raw_id).ok_or_else(|| {
        format!(
            "expected an item id (a positive integer), a department line -DEPT_PRICE_TITLE \
             or a free line Free_PRICE_TITLE, got {}",
            echo(raw_id)
        )
    })?;
    let quantity = match fields.next().map(str::trim) {
        None | Some("") => Quantity::ONE,
        Some(raw) => Quantity::parse(raw)
            .map_err(|expected| format!("expected {expected}, got {}", echo(raw)))?,
    };
    let title = match fields.next() {
        None => None,
        Some(raw) => parse_title(raw)?,
    };
    let unit_price = match fields.next().map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(Money::parse(raw, currency.digits()).map_err(|e| {
            let hint = if matches!(e, DecimalError::NotANumber) {
                format!(" ({TITLE_HINT})")
            } else {
                String::new()
            };
            format!(
                "expected {} or nothing for the catalog price, got {}{hint}",
                price_expected(e, currency),
                echo(raw)
            )
        })?),
    };
    let mut variations: Vec<i64> = Vec::new();
    for (n, raw) in fields.enumerate() {
        if n == MAX_VARIATIONS {
            return Err(format!(
                "expected at most {MAX_VARIATIONS} variation ids after the price ({TITLE_HINT})"
            ));
        }
        let raw = raw.trim();
        // An empty slot means "no variation", like an empty title or price means "default".
        if raw.is_empty() {
            continue;
        }
        let id = parse_id(raw).ok_or_else(|| {
            format!(
                "expected a variation id (a positive integer) after the price, got {} ({TITLE_HINT})",
                echo(raw)
            )
        })?;
        if variations.contains(&id) {
            return Err(format!("variation {id} is listed twice"));
        }
        variations.push(id);
    }
    Ok(LineSpec::Item {
        item_id,
        quantity,
        title,
        unit_price,
        variations,
    })
}

fn parse_department(entry: &str, raw_id: &str, currency: Currency) -> Result<LineSpec, String> {
    let department_id = parse_id(raw_id).ok_or_else(|| {
        format!(
            "expected a department id (a positive integer) after `-` in -DEPT_PRICE_TITLE, got {}",
            echo(&format!("-{raw_id}"))
        )
    })?;
    let mut parts = entry.splitn(3, '_').skip(1);
    let unit_price = required_price(parts.next(), "-DEPT_PRICE_TITLE", currency)?;
    let title = match parts.next() {
        None => None,
        Some(raw) => parse_title(raw)?,
    };
    Ok(LineSpec::Department {
        department_id,
        unit_price,
        title,
    })
}

fn parse_free(entry: &str, currency: Currency) -> Result<LineSpec, String> {
    let mut parts = entry.splitn(3, '_').skip(1);
    let unit_price = required_price(parts.next(), "Free_PRICE_TITLE", currency)?;
    let title = match parts.next() {
        None => None,
        Some(raw) => parse_title(raw)?,
    }
    .ok_or_else(|| {
        "expected Free_PRICE_TITLE: a title after the price of a free line".to_owned()
    })?;
    Ok(LineSpec::Free { unit_price, title })
}

fn required_price(raw: Option<&str>, form: &str, currency: Currency) -> Result<Money, String> {
    let raw = raw.map(str::trim).unwrap_or("");
    if raw.is_empty() {
        return Err(format!(
            "expected {form}: {} after the first `_`, got nothing",
            price_expected(DecimalError::Empty, currency)
        ));
    }
    Money::parse(raw, currency.digits()).map_err(|e| {
        format!(
            "expected {}, got {}",
            price_expected(e, currency),
            echo(raw)
        )
    })
}

fn price_expected(e: DecimalError, currency: Currency) -> String {
    match e {
        DecimalError::Empty | DecimalError::NotANumber => {
            let example = Money::from_minor(1450 * 10i64.pow(u32::from(currency.digits())) / 100);
            format!(
                "a unit price (a decimal number such as {})",
                example.format(currency.digits())
            )
        }
        DecimalError::TooManyDecimals(0) => "a unit price without decimals".to_owned(),
        DecimalError::TooManyDecimals(d) => format!("a unit price with at most {d} decimals"),
        DecimalError::TooLarge => {
            format!("a unit price of at most {MAX_MAJOR_UNITS} in absolute value")
        }
    }
}

/// A positive integer id: ASCII digits only (leading zeros allowed), within `i64`.
fn parse_id(raw: &str) -> Option<i64> {
    let t = raw.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse::<i64>().ok().filter(|&id| id > 0)
}

/// A title: trimmed; empty means "the default"; at most [`MAX_TITLE_CHARS`] characters;
/// no control characters (they would corrupt receipts and exports).
fn parse_title(raw: &str) -> Result<Option<String>, String> {
    let t = raw.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let chars = t.chars().count();
    if chars > MAX_TITLE_CHARS {
        return Err(format!(
            "expected a title of at most {MAX_TITLE_CHARS} characters, got {chars} characters"
        ));
    }
    if t.chars().any(char::is_control) {
        return Err(format!(
            "expected a title without control characters, got {}",
            echo(t)
        ));
    }
    Ok(Some(t.to_owned()))
}

/// A refused value as it appears in a message: quoted, escaped, cut after 40 characters.
fn echo(raw: &str) -> String {
    let mut cut: String = raw.chars().take(ECHO_CHARS).collect();
    if raw.chars().nth(ECHO_CHARS).is_some() {
        cut.push('…');
    }
    format!("{cut:?}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const EUR: Currency = Currency::EUR;

    fn ok(entry: &str) -> LineSpec {
        parse_entry(0, entry, EUR).unwrap()
    }

    fn err(index: usize, entry: &str) -> SaleError {
        let e = parse_entry(index, entry, EUR).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParameter, "{e}");
        assert_eq!(e.field, format!("itemsList[{index}]"));
        assert!(
            e.message.starts_with(&format!("itemsList[{index}]: ")),
            "{e}"
        );
        e
    }

    fn q(text: &str) -> Quantity {
        Quantity::parse(text).unwrap()
    }

    fn item(id: i64, qty: &str, title: Option<&str>, price: Option<i64>, vars: &[i64]) -> LineSpec {
        LineSpec::Item {
            item_id: id,
            quantity: q(qty),
            title: title.map(str::to_owned),
            unit_price: price.map(Money::from_minor),
            variations: vars.to_vec(),
        }
    }

    #[test]
    fn item_alone() {
        assert_eq!(ok("12"), item(12, "1", None, None, &[]));
        assert_eq!(ok(" 012 "), item(12, "1", None, None, &[]));
    }

    #[test]
    fn item_with_quantity() {
        assert_eq!(ok("12_2"), item(12, "2", None, None, &[]));
        assert_eq!(ok("12_0.350"), item(12, "0.350", None, None, &[]));
        assert_eq!(ok("12_0,35"), item(12, "0.350", None, None, &[]));
        assert_eq!(ok("12_-1"), item(12, "-1", None, None, &[]));
        assert_eq!(
            ok("12_"),
            item(12, "1", None, None, &[]),
            "empty quantity is 1"
        );
    }

    #[test]
    fn item_with_title() {
        assert_eq!(
            ok("12_2_Pizza Regina"),
            item(12, "2", Some("Pizza Regina"), None, &[])
        );
        assert_eq!(
            ok("12_2_"),
            item(12, "2", None, None, &[]),
            "empty title is the catalog name"
        );
        assert_eq!(ok("12_2_  "), item(12, "2", None, None, &[]));
        assert_eq!(
            ok("12_2_ Café crème "),
            item(12, "2", Some("Café crème"), None, &[])
        );
    }

    #[test]
    fn item_with_price() {
        assert_eq!(
            ok("12_2_Pizza_14.50"),
            item(12, "2", Some("Pizza"), Some(1450), &[])
        );
        assert_eq!(ok("12_2__14,5"), item(12, "2", None, Some(1450), &[]));
        assert_eq!(ok("12_1__-3"), item(12, "1", None, Some(-300), &[]));
        assert_eq!(ok("12_1_Pizza_"), item(12, "1", Some("Pizza"), None, &[]));
        assert_eq!(
            ok("12_1__0"),
            item(12, "1", None, Some(0), &[]),
            "a free gift"
        );
    }

    #[test]
    fn item_with_variations() {
        assert_eq!(ok("12_1__ _3"), item(12, "1", None, None, &[3]));
        assert_eq!(
            ok("12_1_Pizza_14.50_3_8"),
            item(12, "1", Some("Pizza"), Some(1450), &[3, 8])
        );
        assert_eq!(
            ok("12_1___1_2_3_4_5"),
            item(12, "1", None, None, &[1, 2, 3, 4, 5])
        );
        // Empty slots are no variation.
        assert_eq!(ok("12_1___"), item(12, "1", None, None, &[]));
        assert_eq!(ok("12_1___3__8_"), item(12, "1", None, None, &[3, 8]));
    }

    #[test]
    fn department_line() {
        assert_eq!(
            ok("-3_4.50_Extra cheese"),
            LineSpec::Department {
                department_id: 3,
                unit_price: Money::from_minor(450),
                title: Some("Extra cheese".into())
            }
        );
        assert_eq!(
            ok("-3_4.50_Extra_cheese_x2"),
            LineSpec::Department {
                department_id: 3,
                unit_price: Money::from_minor(450),
                title: Some("Extra_cheese_x2".into())
            },
            "the title is everything after the second `_`"
        );
        assert_eq!(
            ok("-3_-1"),
            LineSpec::Department {
                department_id: 3,
                unit_price: Money::from_minor(-100),
                title: None
            }
        );
        assert_eq!(
            ok("-3_1_"),
            LineSpec::Department {
                department_id: 3,
                unit_price: Money::from_minor(100),
                title: None
            }
        );
    }

    #[test]
    fn free_line() {
        let gift = LineSpec::Free {
            unit_price: Money::from_minor(990),
            title: "Gift_wrap".into(),
        };
        assert_eq!(ok("Free_9.90_Gift_wrap"), gift);
        assert_eq!(ok("free_9,9_Gift_wrap"), gift);
        assert_eq!(ok("FREE_9.90_ Gift_wrap "), gift);
        assert_eq!(
            ok("Free_-2_Discount"),
            LineSpec::Free {
                unit_price: Money::from_minor(-200),
                title: "Discount".into()
            }
        );
    }

    #[test]
    fn currency_digits_decide_price_decimals() {
        let jpy = Currency::parse("JPY").unwrap();
        let kwd = Currency::parse("KWD").unwrap();
        assert_eq!(
            parse_entry(0, "12_1__1500", jpy).unwrap(),
            item(12, "1", None, Some(1500), &[])
        );
        let e = parse_entry(0, "12_1__15.5", jpy).unwrap_err();
        assert!(e.message.contains("a unit price without decimals"), "{e}");
        assert_eq!(
            parse_entry(0, "Free_1.250_Tea", kwd).unwrap(),
            LineSpec::Free {
                unit_price: Money::from_minor(1250),
                title: "Tea".into()
            }
        );
        let e = parse_entry(0, "-1_x", kwd).unwrap_err();
        assert!(e.message.contains("such as 14.500"), "{e}");
        let e = parse_entry(0, "-1_x", jpy).unwrap_err();
        assert!(e.message.contains("such as 14)"), "{e}");
    }

    #[test]
    fn bad_item_ids() {
        for bad in ["", "abc", "0", "1.5", "+3", "99999999999999999999", "1 2"] {
            let e = err(0, bad);
            assert!(e.message.contains("expected an item id"), "{bad:?}: {e}");
        }
        let e = err(3, "abc_2");
        assert_eq!(
            e.message,
            "itemsList[3]: expected an item id (a positive integer), a department line \
             -DEPT_PRICE_TITLE or a free line Free_PRICE_TITLE, got \"abc\""
        );
    }

    #[test]
    fn bad_quantities() {
        let e = err(2, "12_abc");
        assert_eq!(
            e.message,
            "itemsList[2]: expected a non-zero quantity with at most 3 decimals and at most \
             100000 in absolute value, got \"abc\""
        );
        for bad in ["12_0", "12_0.000", "12_1.2345", "12_100000.001", "12_1e3"] {
            assert!(
                err(0, bad).message.contains("expected a non-zero quantity"),
                "{bad}"
            );
        }
    }

    #[test]
    fn title_with_underscore_in_catalog_form_is_explained() {
        let e = err(1, "12_1_Pizza_Royale_14.50");
        assert!(e.message.contains("got \"Royale\""), "{e}");
        assert!(e.message.contains("expected a unit price"), "{e}");
        assert!(
            e.message
                .contains("titles in catalog forms cannot contain `_`"),
            "{e}"
        );
        let e = err(1, "12_1_Pizza_4_Fromages_14.50");
        assert!(e.message.contains("expected a variation id"), "{e}");
        assert!(e.message.contains("got \"Fromages\""), "{e}");
        assert!(e.message.contains("cannot contain `_`"), "{e}");
        let e = err(1, "12_1_A_1_2_3_4_5_6_7");
        assert!(e.message.contains("at most 5 variation ids"), "{e}");
        assert!(e.message.contains("cannot contain `_`"), "{e}");
    }

    #[test]
    fn bad_prices() {
        let e = err(0, "12_1__1.234");
        assert!(e.message.contains("at most 2 decimals"), "{e}");
        assert!(!e.message.contains("cannot contain"), "{e}");
        let e = err(0, "12_1__10000000.01");
        assert!(
            e.message.contains("at most 10000000 in absolute value"),
            "{e}"
        );
        let e = err(0, "-3_abc_Extra");
        assert_eq!(
            e.message,
            "itemsList[0]: expected a unit price (a decimal number such as 14.50), got \"abc\""
        );
        let e = err(0, "-3");
        assert!(e.message.contains("-DEPT_PRICE_TITLE: a unit price"), "{e}");
        assert!(e.message.contains("got nothing"), "{e}");
        let e = err(0, "-3__Extra");
        assert!(e.message.contains("got nothing"), "{e}");
        let e = err(0, "Free");
        assert!(e.message.contains("Free_PRICE_TITLE: a unit price"), "{e}");
        let e = err(0, "Free_1.001_X");
        assert!(e.message.contains("at most 2 decimals"), "{e}");
    }

    #[test]
    fn bad_department_ids() {
        for bad in ["-_1_X", "-0_1_X", "--3_1_X", "-x_1_X", "-1.5_1"] {
            let e = err(0, bad);
            assert!(e.message.contains("expected a department id"), "{bad}: {e}");
        }
    }

    #[test]
    fn free_line_needs_a_title() {
        for bad in ["Free_1", "Free_1_", "Free_1_   "] {
            let e = err(0, bad);
            assert!(e.message.contains("a title after the price"), "{bad}: {e}");
        }
    }

    #[test]
    fn bad_variations() {
        let e = err(0, "12_1___0");
        assert!(e.message.contains("expected a variation id"), "{e}");
        let e = err(0, "12_1___3_3");
        assert_eq!(e.message, "itemsList[0]: variation 3 is listed twice");
    }

    #[test]
    fn bad_titles() {
        let long = "é".repeat(MAX_TITLE_CHARS);
        assert!(parse_entry(0, &format!("12_1_{long}"), EUR).is_ok());
        let e = err(0, &format!("12_1_{long}é"));
        assert!(e.message.contains("at most 255 characters, got 256"), "{e}");
        let e = err(0, &format!("Free_1_{long}_"));
        assert!(e.message.contains("at most 255 characters"), "{e}");
        let e = err(0, "-2_1_Bad\u{7}bell");
        assert!(e.message.contains("without control characters"), "{e}");
        assert!(e.message.contains("\\u{7}"), "escaped in the echo: {e}");
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let junk = "x".repeat(10_000);
        let e = err(0, &junk);
        assert!(e.message.len() < 300, "{}", e.message.len());
        assert!(e.message.ends_with("…\""), "{e}");
    }

    #[test]
    fn list_limits() {
        let none: [&str; 0] = [];
        let e = parse_list(&none, EUR).unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].code, ErrorCode::MissingParameter);
        assert_eq!(e[0].field, "itemsList[]");
        let max = vec!["1"; MAX_LINES];
        assert_eq!(parse_list(&max, EUR).unwrap().len(), MAX_LINES);
        let over = vec!["1"; MAX_LINES + 1];
        let e = parse_list(&over, EUR).unwrap_err();
        assert_eq!(e[0].code, ErrorCode::InvalidParameter);
        assert_eq!(
            e[0].message,
            "itemsList[]: at most 500 lines per sale, got 501"
        );
    }

    #[test]
    fn list_reports_every_bad_entry() {
        let entries = ["12", "x", "12_0", "-3_1_Ok", "Free_1"];
        let errors = parse_list(&entries, EUR).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["itemsList[1]", "itemsList[2]", "itemsList[4]"]);
        let good = parse_list(&["12_2", "-3_1_Ok", "Free_1_X"], EUR).unwrap();
        assert_eq!(good.len(), 3);
    }

    #[test]
    fn to_entry_cannot_carry_an_item_title_with_underscore() {
        let spec = item(1, "1", Some("a_b"), None, &[]);
        assert_eq!(spec.to_entry(EUR), None);
        assert_eq!(
            item(1, "1.5", Some("ab"), Some(5), &[7])
                .to_entry(EUR)
                .as_deref(),
            Some("1_1.5_ab_0.05_7")
        );
    }

    fn arb_title(underscore: bool) -> impl Strategy<Value = Option<String>> {
        let re = if underscore {
            "[a-zA-Zé0-9 _]{0,20}"
        } else {
            "[a-zA-Zé0-9 ]{0,20}"
        };
        re.prop_map(|s| {
            let t = s.trim().to_owned();
            (!t.is_empty()).then_some(t)
        })
    }

    fn arb_price() -> impl Strategy<Value = Money> {
        (-1_000_000_000i64..=1_000_000_000).prop_map(Money::from_minor)
    }

    fn arb_spec() -> impl Strategy<Value = LineSpec> {
        let qty = (1i64..=100_000_000, any::<bool>())
            .prop_map(|(t, neg)| Quantity::from_thousandths(if neg { -t } else { t }).unwrap());
        let vars = proptest::collection::btree_set(1i64..=1_000_000, 0..=MAX_VARIATIONS)
            .prop_map(|s| s.into_iter().collect::<Vec<_>>());
        prop_oneof![
            (
                1i64..=i64::MAX,
                qty,
                arb_title(false),
                proptest::option::of(arb_price()),
                vars
            )
                .prop_map(|(item_id, quantity, title, unit_price, variations)| {
                    LineSpec::Item {
                        item_id,
                        quantity,
                        title,
                        unit_price,
                        variations,
                    }
                }),
            (1i64..=i64::MAX, arb_price(), arb_title(true)).prop_map(
                |(department_id, unit_price, title)| {
                    LineSpec::Department {
                        department_id,
                        unit_price,
                        title,
                    }
                }
            ),
            (arb_price(), arb_title(true))
                .prop_filter_map("needs a title", |(unit_price, title)| {
                    title.map(|title| LineSpec::Free { unit_price, title })
                }),
        ]
    }

    proptest! {
        #[test]
        fn never_panics_on_any_text(entry in "\\PC{0,80}") {
            let _ = parse_entry(0, &entry, EUR);
        }

        #[test]
        fn never_panics_on_grammar_like_text(entry in "[-_0-9.,a-zA-Z é]{0,60}") {
            if let Err(e) = parse_entry(7, &entry, EUR) {
                prop_assert_eq!(e.field, "itemsList[7]");
                prop_assert_eq!(e.code, ErrorCode::InvalidParameter);
            }
        }

        #[test]
        fn printed_specs_parse_back(spec in arb_spec()) {
            let entry = spec.to_entry(EUR).unwrap();
            prop_assert_eq!(parse_entry(0, &entry, EUR), Ok(spec));
        }
    }
}
