//! JSON text written straight into a `String`, byte for byte what serde_json prints for
//! the same values: the seal's canonical bytes (a frozen format) are written with it.

use crate::decimal::{DigitBuf, digits_of};

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
            crate::hex::push_byte(out, b);
        }
    }
    out.push_str(s.get(run..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
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

    proptest! {
        #[test]
        fn strings_match_serde_json(s in any::<String>()) {
            prop_assert_eq!(text(|o| push_str(o, &s)), Value::String(s.clone()).to_string());
        }
    }
}
