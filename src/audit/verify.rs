//! The audit log verifier: a pure function of the log's bytes and,
//! optionally, the public key (used by `vault-rs audit verify` and by the
//! property tests).
//!
//! It checks, line by line and across files (sorted by their first `seq`),
//! that every line is an audit line, that `seq` counts up by one, that
//! `prev` is the SHA-256 of the previous line, that the log starts with a
//! header, and that every header and checkpoint is signed by the key (the
//! given one, else the one in the first header). It names the line of each
//! problem: changed, inserted, deleted, reordered, forged; then it goes on from the next line, so a log damaged at one
//! place still has the rest checked (every problem is listed). Entries are
//! read only for their chain fields, so a line of any nesting depth
//! verifies. Lines after the last checkpoint are not covered by any signature;
//! unless `allow_open_tail` is set that is reported as a truncated (or
//! extended) tail: a writer always closes its log with a checkpoint, and
//! writes one within `checkpoint_interval` of any entry.

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::VerifyingKey;
use serde::Serialize;
use serde_json::Value;

use super::chain::{self, TYPE_CHECKPOINT, TYPE_DROPPED, TYPE_HEADER};

/// One log file: a name (for messages) and its bytes.
#[derive(Clone, Debug)]
pub struct LogFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// How to verify.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// The trusted audit public key; without it the key in the first
    /// header is used (which proves integrity, not origin).
    pub public_key: Option<VerifyingKey>,
    /// Accept lines after the last checkpoint (a log still being written).
    pub allow_open_tail: bool,
}

/// What kind of tampering (or damage) a problem shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// Not an audit line (not JSON, no seq/prev).
    Malformed,
    /// The line's content differs from what the chain recorded.
    Changed,
    /// A line that was not written by the device.
    Inserted,
    /// Lines are missing.
    Deleted,
    /// Lines are out of order.
    Reordered,
    /// A header or checkpoint whose signature does not verify.
    BadSignature,
    /// Signed by another key than the trusted one.
    WrongKey,
    /// The log does not start with a header.
    MissingHeader,
    /// The end of the log is missing or not covered by a signature.
    Truncated,
}

/// A problem found at one line.
#[derive(Clone, Debug, Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    pub file: String,
    /// 1-based line number within `file`.
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// The outcome of a verification.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub files: usize,
    pub lines: u64,
    pub requests: u64,
    pub responses: u64,
    pub headers: u64,
    pub checkpoints: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    pub last_checkpoint_seq: Option<u64>,
    /// Lines after the last checkpoint.
    pub unsigned_tail: u64,
    pub key_id: Option<String>,
    /// Whether the key came from the log itself (no `--public-key`).
    pub key_from_log: bool,
    pub warnings: Vec<String>,
    /// The first problem found.
    pub problem: Option<Problem>,
    /// Every problem found, in log order (at most 100; see `more_problems`):
    /// checking goes on after a bad line.
    pub problems: Vec<Problem>,
    /// Problems found beyond those listed.
    pub more_problems: u64,
}

impl Report {
    /// No problem found.
    pub fn ok(&self) -> bool {
        self.problem.is_none()
    }
}

/// Parses a public key given as base64 or hex of the 32 raw bytes, or as
/// a PEM `PUBLIC KEY` (SPKI).
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let t = text.trim();
    if t.starts_with("-----BEGIN") {
        use ed25519_dalek::pkcs8::DecodePublicKey;
        return VerifyingKey::from_public_key_pem(t)
            .map_err(|_| "invalid PEM public key".to_string());
    }
    let bytes = if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(t).map_err(|_| "invalid hex public key".to_string())?
    } else {
        B64.decode(t)
            .map_err(|_| "the public key must be base64, hex or PEM".to_string())?
    };
    let arr: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| "an Ed25519 public key has 32 bytes".to_string())?;
    VerifyingKey::from_bytes(&arr).map_err(|_| "invalid Ed25519 public key".to_string())
}

struct Line<'a> {
    file: usize,
    no: usize,
    bytes: &'a [u8],
    complete: bool,
    parsed: Option<Parsed>,
}

struct Parsed {
    seq: u64,
    prev: String,
    kind: String,
    value: Value,
}

fn parse(bytes: &[u8]) -> Option<Parsed> {
    let top = chain::parse_top(bytes)?;
    // Headers, checkpoints and drop notices are small flat objects the
    // device writes itself: their fields are read. Entries are not parsed
    // further, so their depth (request data nests as deep as the client
    // sent it) does not matter: every line the writer produces verifies.
    let value = match top.kind.as_str() {
        TYPE_HEADER | TYPE_CHECKPOINT | TYPE_DROPPED => serde_json::from_slice(bytes).ok()?,
        _ => Value::Null,
    };
    Some(Parsed {
        seq: top.seq,
        prev: top.prev,
        kind: top.kind,
        value,
    })
}

fn split_lines(file: usize, bytes: &[u8]) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut no = 0;
    while start < bytes.len() {
        no += 1;
        let (end, next, complete) = match bytes[start..].iter().position(|&b| b == b'\n') {
            Some(i) => (start + i, start + i + 1, true),
            None => (bytes.len(), bytes.len(), false),
        };
        let b = &bytes[start..end];
        out.push(Line {
            file,
            no,
            bytes: b,
            complete,
            parsed: parse(b),
        });
        start = next;
    }
    out
}

/// Verifies `files` (in any order: they are sorted by their first `seq`).
pub fn verify(files: &[LogFile], opts: &VerifyOptions) -> Report {
    let mut order: Vec<usize> = (0..files.len()).collect();
    let firsts: Vec<Option<u64>> = files
        .iter()
        .map(|f| {
            split_lines(0, first_line(&f.bytes))
                .first()
                .and_then(|l| l.parsed.as_ref().map(|p| p.seq))
        })
        .collect();
    if firsts.iter().all(Option::is_some) {
        order.sort_by_key(|&i| firsts[i]);
    }
    let mut lines: Vec<Line<'_>> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut report = Report {
        files: files.len(),
        ..Report::default()
    };
    for (k, &i) in order.iter().enumerate() {
        names.push(files[i].name.clone());
        if files[i].bytes.is_empty() {
            report.warnings.push(format!("{} is empty", files[i].name));
        }
        lines.extend(split_lines(k, &files[i].bytes));
    }
    let mut v = Verifier {
        lines: &lines,
        names: &names,
        key: opts.public_key,
        report,
    };
    if let Some(k) = &opts.public_key {
        v.report.key_id = Some(chain::key_id(k));
    }
    v.run(opts);
    v.report
}

fn first_line(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&b| b == b'\n') {
        Some(i) => &bytes[..=i],
        None => bytes,
    }
}

/// Most problems listed in a report (the rest are counted).
const MAX_PROBLEMS: usize = 100;

/// Where the chain stands while lines are checked.
#[derive(Default)]
struct ChainCursor {
    prev_hash: Option<String>,
    expected: Option<u64>,
    last_seq: Option<u64>,
    after_torn: bool,
    /// The previous line had a problem: take this one as a new start.
    resync: bool,
    last_checkpoint: Option<usize>,
}

struct Verifier<'a, 'b> {
    lines: &'b [Line<'a>],
    names: &'b [String],
    key: Option<VerifyingKey>,
    report: Report,
}

impl Verifier<'_, '_> {
    fn problem(&self, i: usize, kind: ProblemKind, message: String) -> Problem {
        let l = &self.lines[i.min(self.lines.len().saturating_sub(1))];
        Problem {
            kind,
            file: self.names.get(l.file).cloned().unwrap_or_default(),
            line: l.no,
            message,
        }
    }

    fn at(&self, i: usize) -> String {
        let l = &self.lines[i];
        if self.names.len() > 1 {
            format!("{}:{}", self.names[l.file], l.no)
        } else {
            format!("line {}", l.no)
        }
    }

    /// Checks every line. A problem is recorded and checking goes on: the
    /// line after a bad one is taken as a new starting point (its `seq` and
    /// `prev` are accepted as they are), so tampering further on is still
    /// found and reported.
    fn run(&mut self, opts: &VerifyOptions) {
        let lines = self.lines;
        if lines.is_empty() {
            self.report_problem(Problem {
                kind: ProblemKind::Truncated,
                file: self.names.first().cloned().unwrap_or_default(),
                line: 0,
                message: "the log is empty".into(),
            });
            return;
        }
        let mut positions: HashMap<u64, Vec<usize>> = HashMap::new();
        for (i, l) in lines.iter().enumerate() {
            if let Some(p) = &l.parsed {
                positions.entry(p.seq).or_default().push(i);
            }
        }
        let mut st = ChainCursor::default();
        for (i, l) in lines.iter().enumerate() {
            self.report.lines += 1;
            let hash = chain::line_hash(l.bytes);
            let before = (st.expected, st.prev_hash.clone(), st.last_seq);
            match self.line(i, &hash, &positions, &mut st) {
                Ok(()) => st.resync = false,
                Err(p) if p.kind == ProblemKind::Inserted => {
                    // Skip the inserted line: the chain goes on from the
                    // line before it.
                    self.report_problem(p);
                    (st.expected, st.prev_hash, st.last_seq) = before;
                    continue;
                }
                Err(p) => {
                    self.report_problem(p);
                    // A bad line that still has its chain fields is the new
                    // starting point; after one without, the next line is.
                    match &l.parsed {
                        Some(p) => {
                            st.resync = false;
                            st.expected = Some(p.seq + 1);
                            st.last_seq = Some(p.seq);
                        }
                        None => st.resync = true,
                    }
                }
            }
            st.prev_hash = Some(hash);
        }
        let tail_from = st.last_checkpoint.map(|c| c + 1).unwrap_or(0);
        let tail = lines.len() - tail_from;
        self.report.unsigned_tail = tail as u64;
        if tail > 0 {
            let msg = match st.last_checkpoint {
                Some(c) => format!(
                    "{tail} line(s) after the last checkpoint ({}) are not covered by a signature: the log was truncated after them or lines were appended (a live log gets a checkpoint within its checkpoint_interval)",
                    self.at(c)
                ),
                None => format!("no checkpoint signs the log's {tail} line(s): the log was truncated or forged"),
            };
            if !opts.allow_open_tail {
                let p = self.problem(lines.len() - 1, ProblemKind::Truncated, msg);
                self.report_problem(p);
            } else {
                self.report.warnings.push(msg);
            }
        }
    }

    fn report_problem(&mut self, p: Problem) {
        if self.report.problem.is_none() {
            self.report.problem = Some(p.clone());
        }
        if self.report.problems.len() < MAX_PROBLEMS {
            self.report.problems.push(p);
        } else {
            self.report.more_problems += 1;
        }
    }

    /// Checks line `i` against the chain so far.
    fn line(
        &mut self,
        i: usize,
        hash: &str,
        positions: &HashMap<u64, Vec<usize>>,
        st: &mut ChainCursor,
    ) -> Result<(), Problem> {
        let l = &self.lines[i];
        if !l.complete {
            return Err(self.problem(
                i,
                ProblemKind::Truncated,
                "the line is incomplete: the file ends in the middle of a line (truncated)".into(),
            ));
        }
        let Some(p) = &l.parsed else {
            if self.vouched_torn(i, hash) {
                self.report.warnings.push(format!(
                    "{}: incomplete write (server crash or failed write), acknowledged by the header that follows",
                    self.at(i)
                ));
                st.after_torn = true;
                return Ok(());
            }
            return Err(self.problem(
                i,
                ProblemKind::Malformed,
                "not an audit line (not JSON with seq and prev): the line was changed or corrupted"
                    .into(),
            ));
        };
        if i == 0 {
            self.report.first_seq = Some(p.seq);
            if p.kind != TYPE_HEADER {
                st.expected = Some(p.seq + 1);
                return Err(self.problem(
                    i,
                    ProblemKind::MissingHeader,
                    "the log does not start with a header: its beginning is missing (lines deleted)"
                        .into(),
                ));
            }
            if !p.prev.is_empty() {
                self.report.warnings.push(format!(
                    "the log continues an earlier file that was not given (first seq {})",
                    p.seq
                ));
            }
        } else if st.after_torn {
            if st.last_seq.is_some_and(|s| p.seq <= s) {
                return Err(self.problem(
                    i,
                    ProblemKind::Reordered,
                    format!(
                        "seq {} does not follow seq {}",
                        p.seq,
                        st.last_seq.unwrap_or(0)
                    ),
                ));
            }
            st.after_torn = false;
        } else if !st.resync {
            let exp = st.expected.unwrap_or(0);
            if p.seq != exp {
                st.expected = Some(p.seq + 1);
                return Err(self.seq_problem(i, p.seq, exp, positions));
            }
            if Some(&p.prev) != st.prev_hash.as_ref() {
                st.expected = Some(p.seq + 1);
                return Err(self.link_problem(i, hash));
            }
        }
        st.expected = Some(p.seq + 1);
        st.last_seq = Some(p.seq);
        self.report.last_seq = Some(p.seq);
        match p.kind.as_str() {
            TYPE_HEADER => self.header(i, p)?,
            TYPE_CHECKPOINT => {
                self.signed(i, "checkpoint")?;
                self.report.checkpoints += 1;
                self.report.last_checkpoint_seq = Some(p.seq);
                st.last_checkpoint = Some(i);
            }
            "request" => self.report.requests += 1,
            "response" => self.report.responses += 1,
            TYPE_DROPPED => {
                let n = p.value.get("count").and_then(Value::as_u64).unwrap_or(0);
                self.report.warnings.push(format!(
                    "{}: the device dropped {n} entries (queue full or device stalled)",
                    self.at(i)
                ));
            }
            _ => {}
        }
        Ok(())
    }

    /// A non-audit line is a torn write only if the next line is a signed
    /// header that says so and links to it.
    fn vouched_torn(&mut self, i: usize, hash: &str) -> bool {
        let Some(next) = self.lines.get(i + 1) else {
            return false;
        };
        let Some(p) = &next.parsed else {
            return false;
        };
        if p.kind != TYPE_HEADER
            || p.prev != hash
            || p.value.get("torn_line").and_then(Value::as_bool) != Some(true)
        {
            return false;
        }
        let key = match self.key {
            Some(k) => k,
            None => match header_key(&p.value) {
                Some(k) => k,
                None => return false,
            },
        };
        std::str::from_utf8(next.bytes).is_ok_and(|s| chain::verify_signed(s, &key))
    }

    fn seq_problem(
        &self,
        i: usize,
        seq: u64,
        exp: u64,
        positions: &HashMap<u64, Vec<usize>>,
    ) -> Problem {
        let later = positions
            .get(&exp)
            .and_then(|v| v.iter().find(|&&j| j > i).copied());
        let earlier = positions
            .get(&seq)
            .and_then(|v| v.iter().find(|&&j| j < i).copied());
        if let Some(j) = earlier {
            return self.problem(
                i,
                ProblemKind::Inserted,
                format!(
                    "seq {seq} appears again (first at {}): a line was inserted or replayed",
                    self.at(j)
                ),
            );
        }
        if let Some(j) = later {
            return self.problem(
                i,
                ProblemKind::Reordered,
                format!("seq {seq} where {exp} was expected, and seq {exp} comes later ({}): lines were reordered", self.at(j)),
            );
        }
        if seq > exp {
            return self.problem(
                i,
                ProblemKind::Deleted,
                format!(
                    "seq {seq} where {exp} was expected: {} line(s) were deleted before this one",
                    seq - exp
                ),
            );
        }
        self.problem(
            i,
            ProblemKind::Changed,
            format!("seq {seq} where {exp} was expected: the line was changed or inserted"),
        )
    }

    /// `prev` of line `i` does not match the previous line: either the
    /// previous line was changed, or this one (then the next line's `prev`
    /// does not match this one either).
    fn link_problem(&self, i: usize, hash: &str) -> Problem {
        let this_broken = self
            .lines
            .get(i + 1)
            .and_then(|n| n.parsed.as_ref())
            .is_some_and(|n| n.prev != hash);
        if this_broken || i == 0 {
            return self.problem(
                i,
                ProblemKind::Changed,
                "the line was changed or inserted: its prev does not match the line before, nor the next line's prev this one".into(),
            );
        }
        self.problem(
            i - 1,
            ProblemKind::Changed,
            format!("the line was changed: its SHA-256 does not match the prev recorded by the next line ({})", self.at(i)),
        )
    }

    fn header(&mut self, i: usize, p: &Parsed) -> Result<(), Problem> {
        let Some(hk) = header_key(&p.value) else {
            return Err(self.problem(
                i,
                ProblemKind::Malformed,
                "the header has no valid public_key".into(),
            ));
        };
        match self.key {
            Some(k) if k != hk => {
                let msg = if self.report.key_from_log {
                    format!(
                        "the signing key changed (key_id {} instead of {})",
                        chain::key_id(&hk),
                        chain::key_id(&k)
                    )
                } else {
                    format!(
                        "the log is signed by key_id {}, not by the given public key ({})",
                        chain::key_id(&hk),
                        chain::key_id(&k)
                    )
                };
                return Err(self.problem(i, ProblemKind::WrongKey, msg));
            }
            Some(_) => {}
            None => {
                self.key = Some(hk);
                self.report.key_from_log = true;
                self.report.key_id = Some(chain::key_id(&hk));
                self.report
                    .warnings
                    .push("no --public-key given: signatures were checked against the key in the log's header, which proves integrity but not origin".into());
            }
        }
        self.signed(i, "header")?;
        self.report.headers += 1;
        if let Some(lost) = p.value.get("lost_from_seq").and_then(Value::as_u64) {
            return Err(self.problem(
                i,
                ProblemKind::Truncated,
                format!("when the server reopened the file, the lines it had written from seq {lost} on were missing (truncated while running)"),
            ));
        }
        Ok(())
    }

    fn signed(&self, i: usize, what: &str) -> Result<(), Problem> {
        let ok = match (&self.key, std::str::from_utf8(self.lines[i].bytes)) {
            (Some(k), Ok(s)) => chain::verify_signed(s, k),
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(self.problem(
                i,
                ProblemKind::BadSignature,
                format!("the {what}'s signature does not verify: the line was changed or forged"),
            ))
        }
    }
}

fn header_key(v: &Value) -> Option<VerifyingKey> {
    let b = B64.decode(v.get("public_key")?.as_str()?).ok()?;
    let arr: [u8; 32] = b.as_slice().try_into().ok()?;
    VerifyingKey::from_bytes(&arr).ok()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ed25519_dalek::SigningKey;
    use proptest::prelude::*;

    use super::*;
    use crate::audit::device::testing::{write_log, MemSink};

    /// Any JSON value (a few levels of mixed structure).
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            "\\PC{0,20}".prop_map(Value::from),
            "[\\x00-\\x1f\"\\\\]{0,5}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("\\PC{0,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn key() -> Arc<SigningKey> {
        Arc::new(SigningKey::from_bytes(&[9u8; 32]))
    }

    fn entry(i: usize) -> String {
        let kind = if i.is_multiple_of(2) {
            "request"
        } else {
            "response"
        };
        format!("{{\"time\":\"2024-01-01T00:00:00Z\",\"type\":\"{kind}\",\"request\":{{\"id\":\"{i}\",\"path\":\"secret/x\"}}}}")
    }

    fn log(n: usize, every: u64) -> Vec<u8> {
        let sink = MemSink::default();
        let bytes = sink.bytes.clone();
        write_log(sink, key(), every, (0..n).map(|i| Some(entry(i))).collect());
        let b = bytes.lock().unwrap().clone();
        b
    }

    fn check(bytes: &[u8]) -> Report {
        verify(
            &[LogFile {
                name: "audit.log".into(),
                bytes: bytes.to_vec(),
            }],
            &VerifyOptions {
                public_key: Some(key().verifying_key()),
                allow_open_tail: false,
            },
        )
    }

    fn lines_of(b: &[u8]) -> Vec<Vec<u8>> {
        b.split(|&c| c == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| l.to_vec())
            .collect()
    }

    fn join(lines: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        for l in lines {
            out.extend_from_slice(l);
            out.push(b'\n');
        }
        out
    }

    #[test]
    fn untampered_log_verifies() {
        let b = log(25, 10);
        let r = check(&b);
        assert!(r.ok(), "{:?}", r.problem);
        assert_eq!(r.requests + r.responses, 25);
        assert_eq!(r.headers, 1);
        assert_eq!(r.checkpoints, 3);
        assert_eq!(r.unsigned_tail, 0);
        assert_eq!(r.first_seq, Some(1));
    }

    #[test]
    fn tampering_is_detected() {
        let b = log(12, 5);
        let lines = lines_of(&b);
        // Flip one byte inside an entry.
        let mut flipped = lines.clone();
        let pos = flipped[3].iter().position(|&c| c == b'x').unwrap();
        flipped[3][pos] = b'y';
        let r = check(&join(&flipped));
        assert_eq!(
            r.problem.as_ref().map(|p| (p.kind, p.line)),
            Some((ProblemKind::Changed, 4))
        );
        // Delete a line.
        let mut deleted = lines.clone();
        deleted.remove(4);
        assert_eq!(
            check(&join(&deleted)).problem.map(|p| (p.kind, p.line)),
            Some((ProblemKind::Deleted, 5))
        );
        // Swap two lines.
        let mut swapped = lines.clone();
        swapped.swap(4, 5);
        assert_eq!(
            check(&join(&swapped)).problem.map(|p| (p.kind, p.line)),
            Some((ProblemKind::Reordered, 5))
        );
        // Append a forged but well-linked line.
        let mut state = chain::ChainState {
            next_seq: lines.len() as u64 + 1,
            prev: chain::line_hash(lines.last().unwrap()),
        };
        let mut appended = lines.clone();
        appended.push(state.link(&entry(99)).into_bytes());
        let p = check(&join(&appended)).problem.unwrap();
        assert_eq!(p.kind, ProblemKind::Truncated);
        // Truncate mid-line and at a line boundary.
        let cut = &b[..b.len() - 10];
        assert_eq!(check(cut).problem.unwrap().kind, ProblemKind::Truncated);
        let shorter = join(&lines[..lines.len() - 2]);
        assert_eq!(
            check(&shorter).problem.unwrap().kind,
            ProblemKind::Truncated
        );
        // Delete the header.
        assert_eq!(
            check(&join(&lines[1..])).problem.unwrap().kind,
            ProblemKind::MissingHeader
        );
        // Another key.
        let r = verify(
            &[LogFile {
                name: "a".into(),
                bytes: b.clone(),
            }],
            &VerifyOptions {
                public_key: Some(SigningKey::from_bytes(&[1u8; 32]).verifying_key()),
                allow_open_tail: false,
            },
        );
        assert_eq!(r.problem.unwrap().kind, ProblemKind::WrongKey);
    }

    #[test]
    fn reopen_continues_the_chain_across_files() {
        let sink = MemSink::default();
        let bytes = sink.bytes.clone();
        let key = key();
        // The sink is shared: emulate rotation by splitting on the reopen.
        let ops = vec![Some(entry(0)), Some(entry(1)), None, Some(entry(2))];
        write_log(sink, key.clone(), 100, ops);
        let all = bytes.lock().unwrap().clone();
        let lines = lines_of(&all);
        let split = lines
            .iter()
            .rposition(|l| parse(l).is_some_and(|p| p.kind == TYPE_HEADER))
            .unwrap();
        assert!(split > 0);
        let first = join(&lines[..split]);
        let second = join(&lines[split..]);
        let opts = VerifyOptions {
            public_key: Some(key.verifying_key()),
            allow_open_tail: false,
        };
        let files = [
            LogFile {
                name: "audit.log".into(),
                bytes: second.clone(),
            },
            LogFile {
                name: "audit.log.1".into(),
                bytes: first,
            },
        ];
        let r = verify(&files, &opts);
        assert!(r.ok(), "{:?}", r.problem);
        assert_eq!(r.headers, 2);
        let only_new = verify(&files[..1], &opts);
        assert!(only_new.ok());
        assert!(!only_new.warnings.is_empty());
    }

    #[test]
    fn torn_line_recovery_is_accepted() {
        let sink = MemSink::default();
        let bytes = sink.bytes.clone();
        write_log(sink.clone(), key(), 100, vec![Some(entry(0))]);
        bytes.lock().unwrap().extend_from_slice(b"{\"time\":\"2024");
        write_log(sink, key(), 100, vec![Some(entry(1))]);
        let r = check(&bytes.lock().unwrap());
        assert!(r.ok(), "{:?}", r.problem);
        assert!(r.warnings.iter().any(|w| w.contains("incomplete write")));
    }

    #[test]
    fn failed_writes_leave_a_verifiable_log() {
        let sink = MemSink::default();
        let bytes = sink.bytes.clone();
        let fail = sink.fail.clone();
        let k = key();
        let oks = write_log(
            sink.clone(),
            k.clone(),
            3,
            vec![Some(entry(0)), Some(entry(1))],
        );
        assert_eq!(oks, vec![true, true]);
        fail.store(true, std::sync::atomic::Ordering::SeqCst);
        let oks = write_log(sink.clone(), k.clone(), 3, vec![Some(entry(2))]);
        assert_eq!(oks, vec![false]);
        fail.store(false, std::sync::atomic::Ordering::SeqCst);
        write_log(sink, k, 3, vec![Some(entry(3))]);
        let r = check(&bytes.lock().unwrap());
        assert!(r.ok(), "{:?}", r.problem);
        assert_eq!(r.requests + r.responses, 3);
    }

    #[test]
    fn public_key_formats() {
        let vk = key().verifying_key();
        let b64 = chain::encode_public_key(&vk);
        assert_eq!(parse_public_key(&b64).unwrap(), vk);
        assert_eq!(parse_public_key(&hex::encode(vk.as_bytes())).unwrap(), vk);
        use ed25519_dalek::pkcs8::EncodePublicKey;
        let pem = vk
            .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .unwrap();
        assert_eq!(parse_public_key(&pem).unwrap(), vk);
        assert!(parse_public_key("nope").is_err());
    }

    /// A JSON value nested `depth` levels deep (objects and arrays).
    fn nested(depth: usize, leaf: Value) -> Value {
        let mut v = leaf;
        for i in 0..depth {
            v = if i % 2 == 0 {
                serde_json::json!([v])
            } else {
                serde_json::json!({ "a": v })
            };
        }
        v
    }

    /// Renders real audit entries (request and response) for a request
    /// carrying `data`, as the broker does.
    fn rendered(data: serde_json::Map<String, Value>, status: Option<u16>) -> String {
        use crate::audit::entry::{render, AuditInput, ErrorRecord, Hasher, MountInfo, Outcome};
        use crate::crypto::SecretBytes;
        use crate::sdk::{Operation, Request};
        let h = Hasher::new(SecretBytes::from_slice(&[3u8; 32]), true, false);
        let mut req = Request::new(Operation::Update, "secret/deep");
        req.client_token = Some("hvs.TOKEN".into());
        req.data = data;
        let mount = MountInfo::default();
        let message = match status {
            Some(403) => Some("permission denied"),
            Some(429) => Some("rate limit exceeded"),
            _ => None,
        };
        let outcome = status.zip(message).map(|(status, message)| {
            Outcome::Err(ErrorRecord {
                status,
                message: message.into(),
            })
        });
        render(
            &AuditInput {
                request: &req,
                auth: None,
                mount: &mount,
                outcome,
                error: None,
            },
            "2024-01-01T00:00:00Z",
            &h,
        )
    }

    #[test]
    fn deeply_nested_request_bodies_verify() {
        // 125 levels in the body: deeper than serde_json's default limit
        // once inside the entry; the line after it is tampered with and
        // must still be found.
        let mut data = serde_json::Map::new();
        data.insert("x".into(), nested(125, Value::from(1)));
        let mut ops: Vec<Option<String>> = vec![Some(rendered(data.clone(), None))];
        ops.push(Some(rendered(data, Some(403))));
        ops.extend((0..4).map(|i| Some(entry(i))));
        let sink = MemSink::default();
        let bytes = sink.bytes.clone();
        write_log(sink, key(), 3, ops);
        let b = bytes.lock().unwrap().clone();
        let r = check(&b);
        assert!(r.ok(), "{:?}", r.problem);
        assert_eq!((r.requests, r.responses), (3, 3));
        // Tamper with the last entry: still seen past the deep lines.
        let mut lines = lines_of(&b);
        let n = lines.len();
        let last_entry = (0..n)
            .rev()
            .find(|&i| parse(&lines[i]).is_some_and(|p| p.kind == "response"))
            .unwrap();
        let pos = lines[last_entry].iter().position(|&c| c == b'x').unwrap();
        lines[last_entry][pos] = b'y';
        let r = check(&join(&lines));
        assert_eq!(r.problem.map(|p| p.kind), Some(ProblemKind::Changed));
    }

    #[test]
    fn checking_goes_on_after_a_bad_line() {
        let b = log(30, 5);
        let mut lines = lines_of(&b);
        // Damage line 3 beyond repair, and change line 20.
        lines[2] = b"garbage".to_vec();
        let pos = lines[19].iter().position(|&c| c == b'x').unwrap();
        lines[19][pos] = b'y';
        let r = check(&join(&lines));
        let found: Vec<(ProblemKind, usize)> =
            r.problems.iter().map(|p| (p.kind, p.line)).collect();
        assert_eq!(r.problem.as_ref().map(|p| p.line), Some(3));
        assert!(
            found.contains(&(ProblemKind::Changed, 20)),
            "the later change must be reported too: {found:?}"
        );
        assert_eq!(found.len(), 2, "{found:?}");
        // A deleted line after an inserted one: both reported.
        let mut lines = lines_of(&b);
        let dup = lines[4].clone();
        lines.insert(6, dup);
        lines.remove(15);
        let r = check(&join(&lines));
        let kinds: Vec<ProblemKind> = r.problems.iter().map(|p| p.kind).collect();
        assert!(kinds.contains(&ProblemKind::Inserted), "{kinds:?}");
        assert!(kinds.contains(&ProblemKind::Deleted), "{kinds:?}");
        // Counted lines: every line was looked at.
        assert_eq!(r.lines as usize, lines.len());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The verifier accepts every untampered log the writer produces,
        /// whatever the entries, the checkpoint period and the reopens.
        #[test]
        fn verifier_accepts_every_untampered_log(
            ops in proptest::collection::vec(
                prop_oneof![
                    8 => proptest::collection::btree_map("[a-z]{1,8}", "\\PC{0,40}", 0..5).prop_map(Some),
                    1 => Just(None),
                ],
                0..60,
            ),
            every in 1u64..20,
        ) {
            let sink = MemSink::default();
            let bytes = sink.bytes.clone();
            let ops: Vec<Option<String>> = ops
                .into_iter()
                .map(|o| o.map(|m| serde_json::json!({"type": "request", "request": {"data": m}}).to_string()))
                .collect();
            let n = ops.iter().filter(|o| o.is_some()).count() as u64;
            write_log(sink, key(), every, ops);
            let b = bytes.lock().unwrap().clone();
            if n == 0 {
                prop_assert!(b.is_empty());
            } else {
                let r = check(&b);
                prop_assert!(r.ok(), "{:?}", r.problem);
                prop_assert_eq!(r.requests, n);
                prop_assert_eq!(r.unsigned_tail, 0);
            }
        }

        /// Anything the writer writes, the verifier verifies: real entries
        /// (rendered as the broker renders them) for request bodies of any
        /// shape and nesting depth, with any status.
        #[test]
        fn verifier_accepts_every_entry_the_writer_renders(
            bodies in proptest::collection::vec(
                (
                    proptest::collection::btree_map("\\PC{0,6}", json_value(), 0..4),
                    0usize..300,
                    prop_oneof![Just(None), Just(Some(200u16)), Just(Some(403)), Just(Some(429))],
                ),
                1..8,
            ),
            every in 1u64..6,
        ) {
            let ops: Vec<Option<String>> = bodies
                .into_iter()
                .map(|(m, depth, status)| {
                    let mut data: serde_json::Map<String, Value> = m.into_iter().collect();
                    data.insert("deep".into(), nested(depth, Value::from("leaf")));
                    Some(rendered(data, status))
                })
                .collect();
            let n = ops.len() as u64;
            let sink = MemSink::default();
            let bytes = sink.bytes.clone();
            write_log(sink, key(), every, ops);
            let b = bytes.lock().unwrap().clone();
            let r = check(&b);
            prop_assert!(r.ok(), "{:?}", r.problems);
            prop_assert_eq!(r.requests + r.responses, n);
        }

        /// Any single-byte change of a non-empty log is detected.
        #[test]
        fn any_flipped_byte_is_detected(n in 1usize..15, every in 1u64..6, at in any::<prop::sample::Index>(), bit in 0u8..8) {
            let mut b = log(n, every);
            let i = at.index(b.len());
            b[i] ^= 1 << bit;
            let r = check(&b);
            prop_assert!(!r.ok());
        }
    }
}
