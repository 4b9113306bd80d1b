//! Number formatting shared by the writers: fixed-point amounts written straight into a
//! byte buffer, without allocating and without panicking for any digit count.

use comptoir_core::decimal::Fixed;

/// Appends `scaled / 10^digits` with exactly `digits` decimals and a `.` (`29.40`, `-0.05`):
/// core's one fixed-point formatter, for any `digits`, without allocating.
pub(crate) fn push_fixed(out: &mut Vec<u8>, scaled: i64, digits: u8) {
    Fixed::exact(scaled, digits).with_str(|text| out.extend_from_slice(text.as_bytes()));
}

/// [`push_fixed`] into a new `String`.
pub(crate) fn fixed_string(scaled: i64, digits: u8) -> String {
    let mut out = Vec::with_capacity(24);
    push_fixed(&mut out, scaled, digits);
    // Only ASCII digits, '-' and '.' were written.
    String::from_utf8(out).unwrap_or_default()
}

/// Whether `s` is a number in JSON's grammar (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`).
pub(crate) fn is_json_number(s: &[u8]) -> bool {
    fn digits(s: &[u8], mut i: usize) -> usize {
        while s.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    }
    let mut i = usize::from(s.first() == Some(&b'-'));
    match s.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits(s, i + 1),
        _ => return false,
    }
    if s.get(i) == Some(&b'.') {
        let start = i + 1;
        i = digits(s, start);
        if i == start {
            return false;
        }
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(s.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        i = digits(s, start);
        if i == start {
            return false;
        }
    }
    i == s.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fixed_point_keeps_every_digit() {
        assert_eq!(fixed_string(2940, 2), "29.40");
        assert_eq!(fixed_string(-350, 2), "-3.50");
        assert_eq!(fixed_string(-5, 2), "-0.05");
        assert_eq!(fixed_string(0, 2), "0.00");
        assert_eq!(fixed_string(7, 0), "7");
        assert_eq!(fixed_string(1234, 3), "1.234");
        assert_eq!(fixed_string(i64::MIN, 2), "-92233720368547758.08");
        assert_eq!(fixed_string(1, 20), "0.00000000000000000001");
    }

    #[test]
    fn json_number_grammar() {
        for ok in ["0", "5.5", "-20.0", "1e5", "1.5E-3", "-0"] {
            assert!(is_json_number(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "", "-", "05", "5.", ".5", "1e", "NaN", "=1", "1 ", "+1", "0x1",
        ] {
            assert!(!is_json_number(bad.as_bytes()), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn fixed_point_agrees_with_core(scaled in any::<i64>(), digits in 0u8..=6) {
            prop_assert_eq!(
                fixed_string(scaled, digits),
                comptoir_core::money::format_scaled(scaled, digits)
            );
        }
    }
}
