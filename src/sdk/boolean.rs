//! Booleans as Vault reads them from query strings, form fields and string
//! values of JSON fields: Go's `strconv.ParseBool`.

/// Go's `strconv.ParseBool`: `1 t T TRUE true True` are true, `0 f F FALSE
/// false False` are false, anything else (other casings included) is
/// `None`.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::parse_bool;

    #[test]
    fn go_parse_bool_spellings() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        for bad in ["", "yes", "tRUE", "on", " true", "2", "nope"] {
            assert_eq!(parse_bool(bad), None, "{bad}");
        }
    }
}
