//! Durations as Vault's API and configuration spell them: seconds (`"90"`)
//! or Go-style strings (`"1h30m"`).

/// Parses a duration given as seconds or a Go-style string into seconds
/// (`""` is 0); `None` when it is neither.
pub fn parse_duration(text: &str) -> Option<u64> {
    let t = text.trim();
    if t.is_empty() {
        return Some(0);
    }
    if let Ok(secs) = t.parse::<u64>() {
        return Some(secs);
    }
    humantime::parse_duration(t).ok().map(|d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn seconds_and_go_style_strings() {
        assert_eq!(parse_duration("90s"), Some(90));
        assert_eq!(parse_duration("15m"), Some(900));
        assert_eq!(parse_duration("24h"), Some(86400));
        assert_eq!(parse_duration("1h30m"), Some(5400));
        assert_eq!(parse_duration("42"), Some(42));
        assert_eq!(parse_duration(" 42 "), Some(42));
        assert_eq!(parse_duration(""), Some(0));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("-1"), None);
    }
}
