//! Fixed-point decimals as text, the one formatter of money, VAT rates, quantities and
//! percentages: written through `fmt`, so into a `String`, a byte buffer or a stack array,
//! without allocating and for any number of digits.

use std::fmt;

/// How many zeros at the end of the fraction are dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trim {
    /// `1.80`: exactly the digits asked for (money).
    Exact,
    /// `20.0`, `5.5`: trailing zeros dropped, one decimal kept (VAT rates, percentages).
    KeepOne,
    /// `2`, `0.35`: trailing zeros and a bare `.` dropped (quantities).
    All,
}

/// `scaled / 10^digits` as a decimal; print it with `{}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fixed {
    scaled: i64,
    digits: u8,
    trim: Trim,
}

impl Fixed {
    /// Exactly `digits` decimals: `1.80`, `-0.05`, `7` (money).
    pub fn exact(scaled: i64, digits: u8) -> Fixed {
        Fixed {
            scaled,
            digits,
            trim: Trim::Exact,
        }
    }

    /// The shortest form that keeps one decimal: `20.0`, `5.5` (rates).
    pub fn trimmed(scaled: i64, digits: u8) -> Fixed {
        Fixed {
            scaled,
            digits,
            trim: Trim::KeepOne,
        }
    }

    /// The shortest exact form: `2`, `0.35`, `-1.5` (quantities).
    pub fn shortest(scaled: i64, digits: u8) -> Fixed {
        Fixed {
            scaled,
            digits,
            trim: Trim::All,
        }
    }

    /// Calls `f` with the text, written on the stack (no allocation for the digits any
    /// amount, rate or quantity has; more digits go through a `String`).
    pub fn with_str<R>(self, f: impl FnOnce(&str) -> R) -> R {
        let mut buf = StackText::default();
        if fmt::Write::write_fmt(&mut buf, format_args!("{self}")).is_ok() {
            return f(buf.as_str());
        }
        f(&self.to_string())
    }
}

/// Room for the decimal digits of any `u64`.
pub(crate) type DigitBuf = [u8; 20];

/// Writes the decimal digits of `n` at the end of `buf`; returns where they start.
pub(crate) fn digits_of(mut n: u64, buf: &mut DigitBuf) -> usize {
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

fn ascii(bytes: &[u8]) -> &str {
    // Only ASCII digits are ever passed here.
    std::str::from_utf8(bytes).unwrap_or_default()
}

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = self.scaled.unsigned_abs();
        // 10^19 is the largest power of ten in a u64: with more digits, all is fraction.
        let (int, frac) = match 10u64.checked_pow(u32::from(self.digits)) {
            Some(p) => (a / p, a % p),
            None => (0, a),
        };
        if self.scaled < 0 {
            f.write_str("-")?;
        }
        let mut buf = DigitBuf::default();
        let start = digits_of(int, &mut buf);
        f.write_str(ascii(&buf[start..]))?;
        if self.digits == 0 {
            return if self.trim == Trim::KeepOne {
                f.write_str(".0")
            } else {
                Ok(())
            };
        }
        if frac == 0 {
            return match self.trim {
                Trim::All => Ok(()),
                Trim::KeepOne => f.write_str(".0"),
                Trim::Exact => {
                    f.write_str(".")?;
                    zeros(f, usize::from(self.digits))
                }
            };
        }
        let start = digits_of(frac, &mut buf);
        let mut end = buf.len();
        if self.trim != Trim::Exact {
            while buf[end - 1] == b'0' {
                end -= 1;
            }
        }
        f.write_str(".")?;
        // Left-pad the fraction with zeros to `digits` places.
        zeros(f, usize::from(self.digits) - (buf.len() - start))?;
        f.write_str(ascii(&buf[start..end]))
    }
}

fn zeros(f: &mut fmt::Formatter<'_>, mut n: usize) -> fmt::Result {
    const ZEROS: &str = "0000000000000000";
    while n > 0 {
        let k = n.min(ZEROS.len());
        f.write_str(&ZEROS[..k])?;
        n -= k;
    }
    Ok(())
}

/// A short text on the stack; writing more than it holds fails.
pub struct StackText {
    bytes: [u8; 64],
    len: usize,
}

impl Default for StackText {
    fn default() -> Self {
        StackText {
            bytes: [0; 64],
            len: 0,
        }
    }
}

impl StackText {
    /// What was written.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let room = self.bytes.get_mut(self.len..end).ok_or(fmt::Error)?;
        room.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn each_trim_prints_as_documented() {
        assert_eq!(Fixed::exact(180, 2).to_string(), "1.80");
        assert_eq!(Fixed::exact(-5, 2).to_string(), "-0.05");
        assert_eq!(Fixed::exact(7, 0).to_string(), "7");
        assert_eq!(Fixed::exact(0, 3).to_string(), "0.000");
        assert_eq!(
            Fixed::exact(i64::MIN, 2).to_string(),
            "-92233720368547758.08"
        );
        assert_eq!(Fixed::exact(5, 22).to_string(), "0.0000000000000000000005");
        assert_eq!(Fixed::trimmed(2000, 2).to_string(), "20.0");
        assert_eq!(Fixed::trimmed(550, 2).to_string(), "5.5");
        assert_eq!(Fixed::trimmed(5, 2).to_string(), "0.05");
        assert_eq!(Fixed::trimmed(-210, 2).to_string(), "-2.1");
        assert_eq!(Fixed::trimmed(12, 0).to_string(), "12.0");
        assert_eq!(Fixed::shortest(2000, 3).to_string(), "2");
        assert_eq!(Fixed::shortest(350, 3).to_string(), "0.35");
        assert_eq!(Fixed::shortest(-1500, 3).to_string(), "-1.5");
        assert_eq!(Fixed::shortest(0, 3).to_string(), "0");
    }

    /// The formatting the money module used before, for any digits up to 18.
    fn format_scaled_before(scaled: i64, digits: u8) -> String {
        if digits == 0 {
            return scaled.to_string();
        }
        let p = 10i64.pow(u32::from(digits)).unsigned_abs();
        let sign = if scaled < 0 { "-" } else { "" };
        let a = scaled.unsigned_abs();
        format!(
            "{sign}{}.{:0width$}",
            a / p,
            a % p,
            width = usize::from(digits)
        )
    }

    proptest! {
        #[test]
        fn exact_agrees_with_the_former_formatting(scaled in any::<i64>(), digits in 0u8..=18) {
            prop_assert_eq!(Fixed::exact(scaled, digits).to_string(), format_scaled_before(scaled, digits));
        }

        #[test]
        fn trimming_only_drops_zeros(scaled in any::<i64>(), digits in 1u8..=18) {
            let full = format_scaled_before(scaled, digits);
            let kept = full.trim_end_matches('0');
            let one = if kept.ends_with('.') { format!("{kept}0") } else { kept.to_string() };
            prop_assert_eq!(Fixed::trimmed(scaled, digits).to_string(), one);
            prop_assert_eq!(Fixed::shortest(scaled, digits).to_string(), kept.trim_end_matches('.'));
        }

        #[test]
        fn the_stack_text_is_the_display(scaled in any::<i64>(), digits in 0u8..=40) {
            let f = Fixed::exact(scaled, digits);
            prop_assert_eq!(f.with_str(str::to_string), f.to_string());
        }
    }
}
