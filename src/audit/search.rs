//! Audit log search: the filters an auditor asks for (path glob,
//! operation, time range, status, token hash, entry type) and the scan
//! that applies them to a log, line by line. One implementation for the
//! offline `vault-rs audit search` command and the server's
//! `sys/audit/:path/entries`.
//!
//! Owns: parsing the filters from their text form ([`Criteria`] →
//! [`Filter`]), matching one parsed entry, and paging through a log
//! ([`scan`], [`search`]). Must not touch: the files themselves (callers
//! open them and hand a reader), devices, HTTP. A line that is not JSON is
//! skipped, never an error: the verifier ([`super::verify`]) is what
//! judges a log's integrity.

use std::io::BufRead;
use std::ops::ControlFlow;

use serde::Serialize;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The largest page [`search`] returns.
pub const MAX_LIMIT: usize = 1000;
/// The page size when none is asked for.
pub const DEFAULT_LIMIT: usize = 100;

/// A filter given in a wrong form; names the field (`since`, `status`…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchError {
    /// The filter's name.
    pub field: &'static str,
    /// What form it must take.
    pub message: String,
}

impl std::fmt::Display for SearchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for SearchError {}

fn bad(field: &'static str, message: &str) -> SearchError {
    SearchError {
        field,
        message: message.to_string(),
    }
}

/// The filters as text, as a command line or a query string gives them.
/// `None` (or blank) means "any".
#[derive(Debug, Clone, Default)]
pub struct Criteria<'a> {
    /// Request path; `*` matches any run of characters (`secret/*`,
    /// `*/config`), a path without one matches itself (with or without a
    /// trailing `/`).
    pub path: Option<&'a str>,
    /// Leave out requests to paths matching this glob (a reviewer's own
    /// requests: `sys/audit/*/entries`, whose responses hold entries).
    pub exclude_path: Option<&'a str>,
    /// Operation(s), comma-separated: read, list, create, update, patch, delete.
    pub operation: Option<&'a str>,
    /// At or after: RFC 3339, or a duration before `now` (`15m`).
    pub since: Option<&'a str>,
    /// At or before: RFC 3339, or a duration before `now`.
    pub until: Option<&'a str>,
    /// HMAC of a token or accessor (`audit-hash`), with or without the
    /// `hmac-sha256:` prefix.
    pub token_hash: Option<&'a str>,
    /// A code (403), a class (4xx), `ok` or `error`.
    pub status: Option<&'a str>,
    /// `response` (one per request, the default), `request` or `all`.
    pub entry_type: Option<&'a str>,
}

/// Which entries an auditor wants, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    path: Option<String>,
    exclude_path: Option<String>,
    operations: Vec<String>,
    since: Option<OffsetDateTime>,
    until: Option<OffsetDateTime>,
    token_hash: Option<String>,
    status: Option<String>,
    entry_type: String,
}

const OPERATIONS: &[&str] = &["read", "list", "create", "update", "patch", "delete"];

/// The fields where a token or accessor HMAC appears.
const TOKEN_FIELDS: &[&str] = &[
    "/auth/client_token",
    "/auth/accessor",
    "/request/client_token",
    "/request/client_token_accessor",
    "/response/auth/client_token",
    "/response/auth/accessor",
];

fn given(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// A point in time: RFC 3339, or a duration before `now`.
fn parse_time(
    text: &str,
    field: &'static str,
    now: OffsetDateTime,
) -> Result<OffsetDateTime, SearchError> {
    if let Ok(d) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(d);
    }
    if let Ok(ago) = humantime::parse_duration(text) {
        if let Some(t) = time::Duration::try_from(ago)
            .ok()
            .and_then(|d| now.checked_sub(d))
        {
            return Ok(t);
        }
    }
    Err(bad(
        field,
        "must be an RFC 3339 time (2024-05-01T12:00:00Z) or a duration ago (15m)",
    ))
}

impl Filter {
    /// Parses `c`; durations count back from `now`.
    pub fn parse(c: &Criteria<'_>, now: OffsetDateTime) -> Result<Filter, SearchError> {
        let entry_type = given(c.entry_type)
            .unwrap_or("response")
            .to_ascii_lowercase();
        if !["response", "request", "all"].contains(&entry_type.as_str()) {
            return Err(bad("type", "must be response, request or all"));
        }
        let status = given(c.status).map(str::to_ascii_lowercase);
        if let Some(s) = &status {
            let ok = s == "ok"
                || s == "error"
                || (s.len() == 3 && s.ends_with("xx") && s.as_bytes()[0].is_ascii_digit())
                || s.parse::<u16>().is_ok();
            if !ok {
                return Err(bad(
                    "status",
                    "must be a code (403), a class (4xx), ok or error",
                ));
            }
        }
        let operations: Vec<String> = given(c.operation)
            .map(|o| {
                o.split(',')
                    .map(|s| s.trim().to_ascii_lowercase())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if let Some(o) = operations
            .iter()
            .find(|o| !OPERATIONS.contains(&o.as_str()))
        {
            return Err(SearchError {
                field: "operation",
                message: format!(
                    "unknown operation \"{}\" (one of {})",
                    o.chars().take(32).collect::<String>(),
                    OPERATIONS.join(", ")
                ),
            });
        }
        Ok(Filter {
            path: given(c.path).map(|p| p.trim_start_matches('/').to_string()),
            exclude_path: given(c.exclude_path).map(|p| p.trim_start_matches('/').to_string()),
            operations,
            since: given(c.since)
                .map(|s| parse_time(s, "since", now))
                .transpose()?,
            until: given(c.until)
                .map(|s| parse_time(s, "until", now))
                .transpose()?,
            token_hash: given(c.token_hash).map(|h| {
                if h.starts_with("hmac-sha256:") {
                    h.to_string()
                } else {
                    format!("hmac-sha256:{h}")
                }
            }),
            status,
            entry_type,
        })
    }

    /// Whether the entry `v` (one parsed line) is wanted.
    pub fn matches(&self, v: &Value) -> bool {
        let kind = v.get("type").and_then(Value::as_str).unwrap_or("");
        let type_ok = match self.entry_type.as_str() {
            "all" => kind == "request" || kind == "response",
            t => kind == t,
        };
        if !type_ok {
            return false;
        }
        let s = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("");
        if let Some(p) = &self.path {
            if !path_matches(p, s("/request/path")) {
                return false;
            }
        }
        if let Some(p) = &self.exclude_path {
            if path_matches(p, s("/request/path")) {
                return false;
            }
        }
        if !self.operations.is_empty()
            && !self.operations.iter().any(|o| o == s("/request/operation"))
        {
            return false;
        }
        if self.since.is_some() || self.until.is_some() {
            let Ok(t) = OffsetDateTime::parse(s("/time"), &Rfc3339) else {
                return false;
            };
            if self.since.is_some_and(|since| t < since)
                || self.until.is_some_and(|until| t > until)
            {
                return false;
            }
        }
        if let Some(h) = &self.token_hash {
            if !TOKEN_FIELDS.iter().any(|f| s(f) == h) {
                return false;
            }
        }
        if let Some(st) = &self.status {
            let Some(code) = v.pointer("/response/status_code").and_then(Value::as_u64) else {
                return false;
            };
            let ok = match st.as_str() {
                "ok" => code < 400,
                "error" => code >= 400,
                c if c.ends_with("xx") => u64::from(c.as_bytes()[0] - b'0') == code / 100,
                c => c.parse::<u64>().ok() == Some(code),
            };
            if !ok {
                return false;
            }
        }
        true
    }
}

/// `pattern` against a request path: `*` matches any run of characters;
/// without one, the path itself, with or without a trailing `/`.
fn path_matches(pattern: &str, path: &str) -> bool {
    if !pattern.contains('*') {
        return path == pattern || path.trim_end_matches('/') == pattern.trim_end_matches('/');
    }
    glob(pattern.as_bytes(), path.as_bytes())
}

/// Wildcard match (`*` only), linear with backtracking to the last star.
fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if pi < p.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|b| *b == b'*')
}

/// One matching entry and where it is.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    /// 1-based line number in the file (as the verifier counts).
    pub line: usize,
    /// The entry's chain sequence number, if it has one.
    pub seq: Option<u64>,
    pub entry: Value,
}

/// Calls `each` with every line of `reader` that `filter` wants, in
/// order, until it breaks. Lines after `after_seq` only, when given
/// (a reader following a live log). Returns the number of lines read and
/// the highest `seq` seen.
pub fn scan<R: BufRead>(
    reader: R,
    filter: &Filter,
    after_seq: Option<u64>,
    mut each: impl FnMut(Hit) -> ControlFlow<()>,
) -> std::io::Result<(usize, Option<u64>)> {
    let mut lines = 0usize;
    let mut last_seq = None;
    for line in reader.split(b'\n') {
        let line = line?;
        lines += 1;
        let Ok(v) = serde_json::from_slice::<Value>(&line) else {
            continue;
        };
        let seq = v.get("seq").and_then(Value::as_u64);
        if let Some(s) = seq {
            last_seq = Some(last_seq.map_or(s, |l: u64| l.max(s)));
        }
        if after_seq.is_some_and(|a| seq.is_none_or(|s| s <= a)) {
            continue;
        }
        if filter.matches(&v) {
            let hit = Hit {
                line: lines,
                seq,
                entry: v,
            };
            if each(hit).is_break() {
                break;
            }
        }
    }
    Ok((lines, last_seq))
}

/// Which page of the matches to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Matches to skip.
    pub offset: usize,
    /// At most this many (at least 1, at most [`MAX_LIMIT`]).
    pub limit: usize,
    /// Only entries with a `seq` above this (following a live log).
    pub after_seq: Option<u64>,
}

impl Default for Page {
    fn default() -> Self {
        Page {
            offset: 0,
            limit: DEFAULT_LIMIT,
            after_seq: None,
        }
    }
}

/// One page of matches.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    pub entries: Vec<Hit>,
    /// The `offset` of the next page; `None` when this one is the last.
    pub next_offset: Option<usize>,
    /// The highest `seq` read: with no next page, the log's last one
    /// (a follower asks again with `after_seq` set to it).
    pub last_seq: Option<u64>,
    /// Lines read.
    pub lines: usize,
}

/// The page `page` of the entries of `reader` that `filter` wants.
pub fn search<R: BufRead>(reader: R, filter: &Filter, page: Page) -> std::io::Result<Found> {
    // a page of none would name itself as the next one
    let limit = page.limit.clamp(1, MAX_LIMIT);
    let mut entries = Vec::new();
    let mut seen = 0usize;
    let mut more = false;
    let (lines, last_seq) = scan(reader, filter, page.after_seq, |hit| {
        seen += 1;
        if seen <= page.offset {
            return ControlFlow::Continue(());
        }
        if entries.len() == limit {
            more = true;
            return ControlFlow::Break(());
        }
        entries.push(hit);
        ControlFlow::Continue(())
    })?;
    Ok(Found {
        next_offset: more.then_some(page.offset + limit),
        entries,
        last_seq,
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> OffsetDateTime {
        OffsetDateTime::parse("2024-05-01T13:00:00Z", &Rfc3339).unwrap()
    }

    fn f(c: Criteria<'_>) -> Filter {
        Filter::parse(&c, now()).unwrap()
    }

    fn entry() -> Value {
        json!({"time": "2024-05-01T12:00:00.5Z", "type": "response", "seq": 7,
               "auth": {"client_token": "hmac-sha256:abc", "display_name": "token"},
               "request": {"operation": "update", "path": "secret/app", "client_token": "hmac-sha256:abc",
                           "remote_address": "127.0.0.1"},
               "response": {"status_code": 403}, "error": "permission denied"})
    }

    #[test]
    fn filters_match() {
        let e = entry();
        let all = Criteria::default();
        assert!(f(all.clone()).matches(&e));
        let with = |c: Criteria<'static>| f(c).matches(&e);
        assert!(with(Criteria {
            path: Some("secret/*"),
            ..Default::default()
        }));
        assert!(with(Criteria {
            path: Some("*/app"),
            ..Default::default()
        }));
        assert!(with(Criteria {
            path: Some("/secret/app/"),
            ..Default::default()
        }));
        assert!(!with(Criteria {
            path: Some("secret"),
            ..Default::default()
        }));
        assert!(!with(Criteria {
            path: Some("sys/*"),
            ..Default::default()
        }));
        assert!(!with(Criteria {
            exclude_path: Some("secret/*"),
            ..Default::default()
        }));
        assert!(with(Criteria {
            path: Some("secret/*"),
            exclude_path: Some("sys/audit/*/entries"),
            ..Default::default()
        }));
        assert!(with(Criteria {
            operation: Some("read, update"),
            ..Default::default()
        }));
        assert!(!with(Criteria {
            operation: Some("read"),
            ..Default::default()
        }));
        assert!(with(Criteria {
            token_hash: Some("abc"),
            ..Default::default()
        }));
        assert!(with(Criteria {
            token_hash: Some("hmac-sha256:abc"),
            ..Default::default()
        }));
        assert!(!with(Criteria {
            token_hash: Some("abd"),
            ..Default::default()
        }));
        for (st, want) in [("4xx", true), ("error", true), ("403", true), ("ok", false)] {
            assert_eq!(
                with(Criteria {
                    status: Some(st),
                    ..Default::default()
                }),
                want,
                "{st}"
            );
        }
        assert!(with(Criteria {
            since: Some("2024-05-01T12:00:00Z"),
            ..Default::default()
        }));
        assert!(!with(Criteria {
            until: Some("2024-05-01T12:00:00Z"),
            ..Default::default()
        }));
        // a duration counts back from now (13:00): 2h ago is 11:00
        assert!(with(Criteria {
            since: Some("2h"),
            ..Default::default()
        }));
        assert!(!with(Criteria {
            since: Some("30m"),
            ..Default::default()
        }));
        assert!(!with(Criteria {
            entry_type: Some("request"),
            ..Default::default()
        }));
        assert!(with(Criteria {
            entry_type: Some("all"),
            ..Default::default()
        }));
    }

    #[test]
    fn bad_filters_name_their_field() {
        let bad = |c: Criteria<'static>| Filter::parse(&c, now()).unwrap_err().field;
        assert_eq!(
            bad(Criteria {
                status: Some("nope"),
                ..Default::default()
            }),
            "status"
        );
        assert_eq!(
            bad(Criteria {
                since: Some("yesterday-ish"),
                ..Default::default()
            }),
            "since"
        );
        assert_eq!(
            bad(Criteria {
                operation: Some("read,sudo"),
                ..Default::default()
            }),
            "operation"
        );
        assert_eq!(
            bad(Criteria {
                entry_type: Some("checkpoint"),
                ..Default::default()
            }),
            "type"
        );
        // an absurd duration is refused, not a panic
        assert_eq!(
            bad(Criteria {
                until: Some("99999999999999y"),
                ..Default::default()
            }),
            "until"
        );
    }

    #[test]
    fn globs() {
        assert!(glob(b"*", b""));
        assert!(glob(b"a*c", b"abbc"));
        assert!(glob(b"a*b*c", b"a-b-b-c"));
        assert!(!glob(b"a*b*c", b"a-c-b"));
        assert!(glob(b"secret/*/x", b"secret/a/b/x"));
        assert!(!glob(b"secret/*/x", b"secret/x"));
    }

    fn log() -> String {
        let mut text = String::new();
        for i in 1..=10u64 {
            let path = if i % 2 == 0 { "secret/a" } else { "sys/health" };
            text.push_str(
                &json!({"type": "response", "seq": i, "request": {"path": path, "operation": "read"},
                        "response": {"status_code": 200}})
                .to_string(),
            );
            text.push('\n');
            if i == 5 {
                text.push_str("not json\n");
            }
        }
        text
    }

    #[test]
    fn pages_and_follows() {
        let text = log();
        let filter = f(Criteria {
            path: Some("secret/*"),
            ..Default::default()
        });
        let page = |offset, limit, after_seq| Page {
            offset,
            limit,
            after_seq,
        };
        let first = search(text.as_bytes(), &filter, page(0, 2, None)).unwrap();
        let seqs = |f: &Found| f.entries.iter().map(|h| h.seq.unwrap()).collect::<Vec<_>>();
        assert_eq!(seqs(&first), [2, 4]);
        assert_eq!(first.entries[0].line, 2);
        // line numbers count the line that is not JSON
        let second = search(text.as_bytes(), &filter, page(2, 2, None)).unwrap();
        assert_eq!(seqs(&second), [6, 8]);
        assert_eq!(second.entries[0].line, 7);
        assert_eq!(second.next_offset, Some(4));
        let last = search(text.as_bytes(), &filter, page(4, 2, None)).unwrap();
        assert_eq!(seqs(&last), [10]);
        assert_eq!(last.next_offset, None);
        assert_eq!(last.last_seq, Some(10));
        assert_eq!(last.lines, 11);
        let after = search(text.as_bytes(), &filter, page(0, 10, Some(6))).unwrap();
        assert_eq!(seqs(&after), [8, 10]);
        let none = search(text.as_bytes(), &filter, page(0, 10, Some(10))).unwrap();
        assert!(none.entries.is_empty());
        assert_eq!(none.last_seq, Some(10));
        // a huge limit is capped, a zero one is one
        let capped = search(text.as_bytes(), &filter, page(0, usize::MAX, None)).unwrap();
        assert_eq!(capped.entries.len(), 5);
        let one = search(text.as_bytes(), &filter, page(3, 0, None)).unwrap();
        assert_eq!(seqs(&one), [8]);
        assert_eq!(one.next_offset, Some(4));
    }
}
