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

/// The bytes written by [`hex`]: an even number of digits, either case; `None` otherwise.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let t = text.as_bytes();
    if !t.len().is_multiple_of(2) {
        return None;
    }
    t.chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unhex_reads_back_what_hex_wrote() {
        let bytes = [0u8, 1, 0x7f, 0xab, 0xff];
        assert_eq!(unhex(&hex(&bytes)).as_deref(), Some(&bytes[..]));
        assert_eq!(unhex("ABff").as_deref(), Some(&[0xab, 0xff][..]));
        assert_eq!(unhex(""), Some(vec![]));
        for bad in ["0", "0g", "é1", " 00"] {
            assert_eq!(unhex(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn bytes_print_as_two_lowercase_digits() {
        assert_eq!(hex(&[0, 1, 0xab, 0xff]), "0001abff");
        assert_eq!(hex(&[]), "");
    }
}
