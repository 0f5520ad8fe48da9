//! Base62 encoding (tokens, API keys).

/// The base62 alphabet: digits, upper case, lower case.
pub const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Encodes `value` in base62, left-padded with '0' to `width` characters.
pub fn base62_encode(mut value: u64, width: usize) -> String {
    let mut digits = Vec::with_capacity(width.max(11));
    while value > 0 {
        digits.push(BASE62[(value % 62) as usize]);
        value /= 62;
    }
    while digits.len() < width {
        digits.push(b'0');
    }
    digits.reverse();
    String::from_utf8_lossy(&digits).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_with_padding() {
        assert_eq!(base62_encode(0, 3), "000");
        assert_eq!(base62_encode(61, 1), "z");
        assert_eq!(base62_encode(62, 1), "10");
        assert_eq!(base62_encode(u32::MAX as u64, 6).len(), 6);
    }
}
