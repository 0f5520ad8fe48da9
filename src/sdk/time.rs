//! Timestamp helpers: RFC 3339 as Vault prints it. "Now" is not here: it
//! is the core's [`super::Clock`] (or, for the few records that must carry
//! the real time, [`super::SystemClock`] named explicitly).

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Formats `t` as RFC 3339 (UTC).
pub fn format_rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// Formats Unix seconds as RFC 3339.
pub fn unix_to_rfc3339(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .map(format_rfc3339)
        .unwrap_or_default()
}
