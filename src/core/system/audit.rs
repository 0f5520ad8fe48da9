//! sys/audit (list), sys/audit/:path (enable, disable, read),
//! sys/audit/:path/public-key (vault-rs: the key that signs the device's
//! checkpoints), sys/audit-hash/:path, and the review of a file device's
//! log (vault-rs): sys/audit/:path/entries (search, paged) and
//! sys/audit/:path/verify (the chain and checkpoints), with the same code
//! as the offline `audit search` and `audit verify` commands.

use std::io::BufReader;

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use crate::audit::search::{self, Criteria, Filter, Page};
use crate::audit::verify::{parse_public_key, verify, LogFile, VerifyOptions};
use crate::core::{Active, CoreError};
use crate::logical::{fields, LogicalError};
use crate::sdk::{Operation, Request, Response};

/// `sys/audit`: the devices.
pub(super) fn devices(active: &Active, req: &Request) -> Result<Response, CoreError> {
    match req.operation {
        Operation::Read | Operation::List => Ok(list(active)),
        _ => Err(LogicalError::UnsupportedOperation.into()),
    }
}

/// `sys/audit-hash/:path`.
pub(super) fn hash(active: &Active, req: &Request, dev: &str) -> Result<Response, CoreError> {
    if !matches!(req.operation, Operation::Create | Operation::Update) {
        return Err(LogicalError::UnsupportedOperation.into());
    }
    let input = fields::opt_string(&req.data, "input")?
        .ok_or_else(|| CoreError::BadRequest("missing required field \"input\"".into()))?;
    // Repeated at the top level, as Vault's sys/ answers.
    Ok(Response::data_top_level(
        match json!({ "hash": active.audit.hash(dev, &input)? }) {
            Value::Object(m) => m,
            _ => Map::new(),
        },
    ))
}

/// `sys/audit/:path/public-key`.
pub(super) fn public_key(active: &Active, req: &Request, dev: &str) -> Result<Response, CoreError> {
    match req.operation {
        Operation::Read => Ok(Response::json(
            serde_json::to_value(active.audit.public_key(dev)?).unwrap_or(Value::Null),
        )),
        _ => Err(LogicalError::UnsupportedOperation.into()),
    }
}

/// `sys/audit/:path`: enable, disable, read.
pub(super) fn device(active: &Active, req: &Request, path: &str) -> Result<Response, CoreError> {
    let broker = &active.audit;
    match req.operation {
        Operation::Create | Operation::Update => enable(active, path, &req.data),
        Operation::Delete => {
            broker.disable(path)?;
            Ok(Response::empty())
        }
        Operation::Read => {
            let p = crate::audit::normalize_path(path)?;
            let d = broker
                .list()
                .into_iter()
                .find(|d| d.path == p)
                .ok_or(LogicalError::NotFound)?;
            Ok(Response::json(d.to_json()))
        }
        _ => Err(LogicalError::UnsupportedOperation.into()),
    }
}

/// Like Vault: the devices by path under `data`, and at the top level.
fn list(active: &Active) -> Response {
    let mut m = Map::new();
    for d in active.audit.list() {
        m.insert(d.path.clone(), d.to_json());
    }
    Response::data_top_level(m)
}

fn enable(active: &Active, path: &str, data: &Map<String, Value>) -> Result<Response, CoreError> {
    let kind = fields::opt_string(data, "type")?
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| CoreError::BadRequest("missing required field \"type\"".into()))?;
    let description = fields::opt_string(data, "description")?.unwrap_or_default();
    let local = fields::opt_bool(data, "local")?.unwrap_or(false);
    let options = fields::opt_options(data, "options")?;
    active
        .audit
        .enable(path, &kind, &description, options, local)?;
    Ok(Response::empty())
}

/// The log file of the file device at `dev`: 400 for an unknown device,
/// or one that does not write a file this server can read back.
fn log_file(active: &Active, dev: &str) -> Result<std::path::PathBuf, CoreError> {
    let p = crate::audit::normalize_path(dev)?;
    let d = active
        .audit
        .list()
        .into_iter()
        .find(|d| d.path == p)
        .ok_or(crate::audit::AuditError::UnknownDevice(p))?;
    let file = d.options.get("file_path").map(String::as_str).unwrap_or("");
    if d.kind != "file" || file.is_empty() || file == "stdout" || file == "discard" {
        return Err(CoreError::BadRequest(format!(
            "audit device \"{}\" does not write a log file to review",
            d.path
        )));
    }
    Ok(std::path::PathBuf::from(file))
}

/// The largest log `sys/audit/:path/verify` reads into memory; a larger
/// one is verified offline (`vault-rs audit verify`), or rotated.
const MAX_VERIFY_BYTES: u64 = 256 << 20;

/// The whole log file, refused (400) when larger than `max` bytes.
fn read_log(file: &std::path::Path, max: u64) -> Result<Vec<u8>, CoreError> {
    use std::io::Read;
    let f = std::fs::File::open(file).map_err(unreadable)?;
    let mut bytes = Vec::new();
    f.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > max {
        return Err(CoreError::BadRequest(format!(
            "the audit log is larger than {} MiB: verify it offline with `vault-rs audit verify`, or rotate it",
            max >> 20
        )));
    }
    Ok(bytes)
}

fn unreadable(e: std::io::Error) -> CoreError {
    CoreError::Internal(format!("cannot read the audit log: {}", e.kind()))
}

/// `sys/audit/:path/entries`: the entries of the device's log the query
/// asks for (`from`/`since`, `to`/`until`, `path`, `exclude_path`,
/// `operation`, `status`, `token_hash`, `type`), a page at a time (`offset`, `limit`), or those
/// after a `seq` (`after_seq`, to follow the log).
pub(super) fn entries(
    active: &Active,
    req: &Request,
    dev: &str,
    now: OffsetDateTime,
) -> Result<Response, CoreError> {
    if req.operation != Operation::Read {
        return Err(LogicalError::UnsupportedOperation.into());
    }
    let file = log_file(active, dev)?;
    let text = |k: &str| fields::opt_string(&req.data, k);
    let (from, to) = (
        text("from")?.or(text("since")?),
        text("to")?.or(text("until")?),
    );
    let (path, exclude_path, operation, status, token_hash, kind) = (
        text("path")?,
        text("exclude_path")?,
        text("operation")?,
        text("status")?,
        text("token_hash")?,
        text("type")?,
    );
    let filter = Filter::parse(
        &Criteria {
            path: path.as_deref(),
            exclude_path: exclude_path.as_deref(),
            operation: operation.as_deref(),
            since: from.as_deref(),
            until: to.as_deref(),
            token_hash: token_hash.as_deref(),
            status: status.as_deref(),
            entry_type: kind.as_deref(),
        },
        now,
    )
    .map_err(|e| CoreError::BadRequest(e.to_string()))?;
    let size = |k: &str| -> Result<Option<usize>, CoreError> {
        Ok(fields::opt_u64(&req.data, k)?.map(|n| usize::try_from(n).unwrap_or(usize::MAX)))
    };
    let page = Page {
        offset: size("offset")?.unwrap_or(0),
        limit: size("limit")?.unwrap_or(search::DEFAULT_LIMIT),
        after_seq: fields::opt_u64(&req.data, "after_seq")?,
    };
    let f = std::fs::File::open(&file).map_err(unreadable)?;
    let found = search::search(BufReader::new(f), &filter, page).map_err(unreadable)?;
    Ok(Response::json(
        serde_json::to_value(found).unwrap_or(Value::Null),
    ))
}

/// `sys/audit/:path/verify`: the verifier's report on the device's
/// current log file, against `public_key` if given (else the key in the
/// log's header); `ok`, and the first bad line if any. Lines after the last
/// checkpoint are accepted unless `allow_open_tail` is false: the log is
/// still being written (this very request is in it).
pub(super) fn verify_log(active: &Active, req: &Request, dev: &str) -> Result<Response, CoreError> {
    if !matches!(req.operation, Operation::Create | Operation::Update) {
        return Err(LogicalError::UnsupportedOperation.into());
    }
    let file = log_file(active, dev)?;
    let public_key = match fields::opt_string(&req.data, "public_key")?
        .filter(|k| !k.trim().is_empty())
    {
        Some(k) => Some(
            parse_public_key(&k).map_err(|e| CoreError::BadRequest(format!("public_key: {e}")))?,
        ),
        None => None,
    };
    let allow_open_tail = fields::opt_bool(&req.data, "allow_open_tail")?.unwrap_or(true);
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bytes = read_log(&file, MAX_VERIFY_BYTES)?;
    let report = verify(
        &[LogFile { name, bytes }],
        &VerifyOptions {
            public_key,
            allow_open_tail,
        },
    );
    let ok = report.ok();
    let first_bad_line = report.problem.as_ref().map(|p| p.line);
    let mut out = match serde_json::to_value(&report) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    out.insert("ok".into(), json!(ok));
    out.insert("first_bad_line".into(), json!(first_bad_line));
    Ok(Response::data(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_reads_a_bounded_log() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("audit.log");
        std::fs::write(&file, vec![b'x'; 64]).unwrap();
        assert_eq!(read_log(&file, 64).unwrap().len(), 64);
        let err = read_log(&file, 63).unwrap_err();
        assert!(matches!(err, CoreError::BadRequest(_)), "{err:?}");
        assert!(read_log(&dir.path().join("missing"), 64).is_err());
    }
}
