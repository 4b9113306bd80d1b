//! JSON text written straight into a `String`, byte for byte what serde_json (with
//! `arbitrary_precision`) prints for the same values, for the answers built on every sale.

use crate::quantity::Quantity;
use crate::vat::VatRate;

/// Lower-case hexadecimal digits, for seals and `\u00XX` escapes.
pub(crate) const HEX: &[u8; 16] = b"0123456789abcdef";

/// The most digits a fraction may have here (10^18 is the largest power of ten in an i64).
const MAX_FRACTION_DIGITS: u8 = 18;

/// Room for the decimal digits of any `u64`.
type DigitBuf = [u8; 20];

/// Writes the decimal digits of `n` at the end of `buf`; returns where they start.
fn digits_of(mut n: u64, buf: &mut DigitBuf) -> usize {
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return start;
        }
    }
}

/// Appends ASCII bytes (digits) to `out`.
fn push_ascii(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        out.push(char::from(b));
    }
}

/// `123`, as `u64::to_string` writes it.
pub(crate) fn push_u64(out: &mut String, n: u64) {
    let mut buf = DigitBuf::default();
    let start = digits_of(n, &mut buf);
    push_ascii(out, &buf[start..]);
}

/// `-123`, as `i64::to_string` (and serde_json) write it, `i64::MIN` included.
pub(crate) fn push_i64(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    push_u64(out, n.unsigned_abs());
}

/// An optional integer: the number or `null`.
pub(crate) fn push_opt_i64(out: &mut String, n: Option<i64>) {
    match n {
        Some(n) => push_i64(out, n),
        None => out.push_str("null"),
    }
}

/// `true` or `false`.
pub(crate) fn push_bool(out: &mut String, b: bool) {
    out.push_str(if b { "true" } else { "false" });
}

/// A JSON string: quoted, with serde_json's escapes (`\"`, `\\`, `\b \t \n \f \r`, and
/// `\u00xx` for the other control characters; everything else, DEL and non-ASCII
/// included, is copied as is).
pub(crate) fn push_str(out: &mut String, s: &str) {
    out.push('"');
    push_escaped(out, s);
    out.push('"');
}

/// The inside of a JSON string, escaped as [`push_str`] does. Escaping goes byte by byte,
/// so a string may be written in pieces.
pub(crate) fn push_escaped(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            b'\t' => b't',
            b'\n' => b'n',
            0x0c => b'f',
            b'\r' => b'r',
            0x00..=0x1f => b'u',
            _ => continue,
        };
        // `i` is at an ASCII byte, hence a char boundary: the slices below are whole chars.
        out.push_str(s.get(run..i).unwrap_or_default());
        run = i + 1;
        out.push('\\');
        out.push(char::from(short));
        if short == b'u' {
            out.push_str("00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out.push_str(s.get(run..).unwrap_or_default());
}

/// An optional string: the string or `null`.
pub(crate) fn push_opt_str(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => push_str(out, s),
        None => out.push_str("null"),
    }
}

/// How many zeros at the end of a fraction are dropped.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Trim {
    /// `1.80`: exactly the digits asked for ([`crate::money::format_scaled`]).
    None,
    /// `20.0`, `5.5`: trailing zeros dropped, one decimal kept
    /// ([`crate::money::format_scaled_trimmed`]).
    KeepOne,
    /// `2`, `0.35`: trailing zeros and a bare `.` dropped
    /// ([`Quantity::to_decimal_string`]).
    All,
}

/// `scaled / 10^digits` as a decimal, for `1 ≤ digits ≤ 18`.
fn push_decimal(out: &mut String, scaled: i64, digits: u8, trim: Trim) {
    debug_assert!((1..=MAX_FRACTION_DIGITS).contains(&digits));
    let p = 10u64.pow(u32::from(digits));
    let a = scaled.unsigned_abs();
    if scaled < 0 {
        out.push('-');
    }
    push_u64(out, a / p);
    let mut buf = DigitBuf::default();
    let end = buf.len();
    let mut start = digits_of(a % p, &mut buf);
    // Left-pad the fraction with zeros to `digits` places.
    let width = usize::from(digits);
    while end - start < width {
        start -= 1;
        buf[start] = b'0';
    }
    let mut last = end;
    if trim != Trim::None {
        while last > start && buf[last - 1] == b'0' {
            last -= 1;
        }
    }
    if last > start {
        out.push('.');
        push_ascii(out, &buf[start..last]);
    } else if trim == Trim::KeepOne {
        out.push_str(".0");
    }
}

/// An amount of minor units as the JSON number [`crate::catalog::money_json`] prints:
/// exactly `digits` decimals (`14.50`, `-0.05`, `7`).
pub(crate) fn push_money(out: &mut String, minor: i64, digits: u8) {
    match digits {
        0 => push_i64(out, minor),
        1..=MAX_FRACTION_DIGITS => push_decimal(out, minor, digits, Trim::None),
        // No currency has that many digits; print it the way the Value path does.
        _ => out.push_str(
            &crate::catalog::money_json(crate::money::Money::from_minor(minor), digits).to_string(),
        ),
    }
}

/// A VAT rate as the JSON number [`crate::catalog::rate_json`] prints (`20.0`, `5.5`).
pub(crate) fn push_rate(out: &mut String, r: VatRate) {
    push_decimal(out, r.hundredths(), 2, Trim::KeepOne);
}

/// A quantity as the JSON number of its shortest exact decimal (`2`, `0.35`, `-1.5`).
pub(crate) fn push_quantity(out: &mut String, q: Quantity) {
    push_decimal(out, q.thousandths(), 3, Trim::All);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{exact_number, money_json, rate_json};
    use crate::money::Money;
    use proptest::prelude::*;
    use serde_json::Value;

    fn text(f: impl FnOnce(&mut String)) -> String {
        let mut s = String::new();
        f(&mut s);
        s
    }

    #[test]
    fn integers_print_like_serde_json() {
        for n in [
            0,
            1,
            -1,
            9,
            10,
            -10,
            1_700_000_000_000_000,
            i64::MAX,
            i64::MIN,
        ] {
            assert_eq!(text(|o| push_i64(o, n)), serde_json::json!(n).to_string());
        }
        assert_eq!(text(|o| push_u64(o, u64::MAX)), u64::MAX.to_string());
    }

    #[test]
    fn strings_escape_like_serde_json() {
        let all_controls: String = (0u8..0x20).map(char::from).collect();
        for s in [
            "",
            "plain",
            "Crème brûlée \"maison\"",
            r"back\slash",
            "tab\tnew\nline\r\u{8}\u{c}",
            &all_controls,
            "\u{7f}DEL and 🥐 and \u{2028}",
            "\"",
            "\\",
            "end\u{1}",
        ] {
            assert_eq!(
                text(|o| push_str(o, s)),
                Value::String(s.into()).to_string()
            );
        }
    }

    #[test]
    fn money_at_the_edges_prints_like_money_json() {
        for minor in [0, 5, -5, 100, -100, 1450, -1450, i64::MAX, i64::MIN] {
            for digits in 0..=MAX_FRACTION_DIGITS {
                assert_eq!(
                    text(|o| push_money(o, minor, digits)),
                    money_json(Money::from_minor(minor), digits).to_string(),
                    "{minor} with {digits} digits"
                );
            }
        }
    }

    #[test]
    fn rates_and_quantities_print_like_their_values() {
        for h in [0, 1, 10, 55, 100, 210, 550, 1000, 2000, 9999] {
            let r = VatRate::from_hundredths(h).unwrap();
            assert_eq!(text(|o| push_rate(o, r)), rate_json(r).to_string());
        }
        for t in [
            1,
            -1,
            10,
            350,
            -1500,
            1000,
            2000,
            100_000,
            100_000_000,
            -100_000_000,
        ] {
            let q = Quantity::from_thousandths(t).unwrap();
            assert_eq!(
                text(|o| push_quantity(o, q)),
                exact_number(q.to_decimal_string()).to_string()
            );
        }
    }

    proptest! {
        #[test]
        fn strings_match_serde_json(s in any::<String>()) {
            prop_assert_eq!(text(|o| push_str(o, &s)), Value::String(s.clone()).to_string());
        }

        #[test]
        fn money_matches_money_json(minor in any::<i64>(), digits in 0u8..=6) {
            prop_assert_eq!(
                text(|o| push_money(o, minor, digits)),
                money_json(Money::from_minor(minor), digits).to_string()
            );
        }

        #[test]
        fn rates_and_quantities_match(h in 0i64..10_000, t in -100_000_000i64..=100_000_000) {
            let r = VatRate::from_hundredths(h).unwrap();
            prop_assert_eq!(text(|o| push_rate(o, r)), rate_json(r).to_string());
            if let Some(q) = Quantity::from_thousandths(t) {
                prop_assert_eq!(
                    text(|o| push_quantity(o, q)),
                    exact_number(q.to_decimal_string()).to_string()
                );
            }
        }
    }
}
