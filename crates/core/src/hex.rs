//! Lowercase hexadecimal, the one encoder: seals, invoice tokens, key hashes, escapes.

/// The sixteen digits, in order.
pub const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Appends the two digits of `b` to `out`.
pub fn push_byte(out: &mut String, b: u8) {
    out.push(char::from(DIGITS[usize::from(b >> 4)]));
    out.push(char::from(DIGITS[usize::from(b & 0xf)]));
}

/// `bytes` in lowercase hexadecimal, two digits a byte.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        push_byte(&mut s, b);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_print_as_two_lowercase_digits() {
        assert_eq!(hex(&[0, 1, 0xab, 0xff]), "0001abff");
        assert_eq!(hex(&[]), "");
    }
}
