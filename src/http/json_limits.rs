//! Bounds on the shape of a JSON request body, checked on the raw bytes
//! before any parser builds a value and before anything is logged.
//!
//! Owns: the nesting-depth and field-name-length limits. Must not parse
//! into values or look at what the fields mean (that is the engines' job).

/// Deepest nesting of arrays and objects a request body may use; well
/// under serde_json's own limit (128), so every body accepted here parses,
/// and every audit line written for it reads back.
pub const MAX_DEPTH: usize = 64;

/// Longest object key (field name), in bytes as sent (escapes included).
/// Keys are written to the audit log as they are (values are hashed).
pub const MAX_KEY_LEN: usize = 1024;

/// Why a body was refused; the message never quotes the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShapeError {
    TooDeep,
    KeyTooLong,
}

impl std::fmt::Display for ShapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShapeError::TooDeep => write!(
                f,
                "request body nests arrays and objects deeper than {MAX_DEPTH} levels"
            ),
            ShapeError::KeyTooLong => write!(
                f,
                "request body has a field name longer than {MAX_KEY_LEN} bytes"
            ),
        }
    }
}

/// Scans `body` once (linear, no allocation). Malformed JSON is left for
/// the parser to report; only the limits are checked here.
pub fn check(body: &[u8]) -> Result<(), ShapeError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut string_len = 0usize;
    // Length of the string just closed, until the next significant byte
    // says whether it was a key (':' follows) or a value.
    let mut last_string: Option<usize> = None;
    for &b in body {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
                last_string = Some(string_len);
                continue;
            }
            string_len += 1;
            continue;
        }
        if b.is_ascii_whitespace() {
            continue;
        }
        if let Some(len) = last_string.take() {
            if b == b':' && len > MAX_KEY_LEN {
                return Err(ShapeError::KeyTooLong);
            }
        }
        match b {
            b'"' => {
                in_string = true;
                string_len = 0;
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(ShapeError::TooDeep);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn nested(n: usize) -> String {
        format!("{}{}", "[".repeat(n), "]".repeat(n))
    }

    #[test]
    fn depth_limit() {
        assert_eq!(check(nested(MAX_DEPTH).as_bytes()), Ok(()));
        assert_eq!(
            check(nested(MAX_DEPTH + 1).as_bytes()),
            Err(ShapeError::TooDeep)
        );
        let objects = format!(
            "{}1{}",
            "{\"a\":".repeat(MAX_DEPTH + 1),
            "}".repeat(MAX_DEPTH + 1)
        );
        assert_eq!(check(objects.as_bytes()), Err(ShapeError::TooDeep));
        // Brackets inside strings (escaped quotes too) do not count.
        let s = format!("{{\"k\":\"\\\"{}\"}}", "[".repeat(500));
        assert_eq!(check(s.as_bytes()), Ok(()));
        // Siblings do not add up.
        let wide = format!("[{}]", vec![nested(MAX_DEPTH - 1); 100].join(","));
        assert_eq!(check(wide.as_bytes()), Ok(()));
    }

    #[test]
    fn key_length_limit() {
        let long = "k".repeat(MAX_KEY_LEN + 1);
        let ok = "k".repeat(MAX_KEY_LEN);
        assert_eq!(
            check(format!("{{\"{long}\" : 1}}").as_bytes()),
            Err(ShapeError::KeyTooLong)
        );
        assert_eq!(check(format!("{{\"{ok}\":1}}").as_bytes()), Ok(()));
        // Long values are fine.
        assert_eq!(check(format!("{{\"k\":\"{long}\"}}").as_bytes()), Ok(()));
        assert_eq!(check(format!("[\"{long}\", 1]").as_bytes()), Ok(()));
        assert!(!ShapeError::KeyTooLong.to_string().contains("kkk"));
    }

    proptest! {
        /// Whatever passes the check, serde_json parses without hitting its
        /// recursion limit (the audit log can always be read back).
        #[test]
        fn accepted_bodies_never_hit_the_parser_limit(depth in 1usize..200, wrap in any::<bool>()) {
            let body = if wrap {
                format!("{}null{}", "{\"a\":[".repeat(depth / 2), "]}".repeat(depth / 2))
            } else {
                nested(depth)
            };
            if check(body.as_bytes()).is_ok() {
                prop_assert!(serde_json::from_str::<serde_json::Value>(&body).is_ok());
            } else {
                prop_assert!(depth > MAX_DEPTH);
            }
        }
    }
}
