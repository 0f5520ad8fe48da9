//! KV version 1: `<mount>/<path>` holds the JSON object as given.

use serde_json::{Map, Value};

use crate::logical::{matched, LogicalError, LogicalRequest};
use crate::sdk::{LeaseInfo, Operation, Response, Route};

/// One route: any path is a key (read, write, delete) or a folder (list).
pub(super) const ROUTES: &[Route] = &[Route::new(
    ":path*",
    &[
        Operation::Read,
        Operation::List,
        Operation::Create,
        Operation::Update,
        Operation::Delete,
    ],
)];

fn check_key(path: &str) -> Result<(), LogicalError> {
    if path.is_empty() || path.ends_with('/') {
        return Err(LogicalError::BadRequest("missing secret path".into()));
    }
    Ok(())
}

pub(super) fn exists(req: &LogicalRequest<'_>) -> Result<Option<bool>, LogicalError> {
    if req.path.is_empty() || req.path.ends_with('/') {
        return Ok(Some(false));
    }
    Ok(Some(req.storage.get(req.path)?.is_some()))
}

pub(super) fn handle(req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
    matched(ROUTES, req)?;
    match req.operation {
        Operation::Read => read(req),
        Operation::List => list(req),
        Operation::Create | Operation::Update => write(req),
        Operation::Delete => delete(req),
        Operation::Patch => Err(LogicalError::UnsupportedOperation),
    }
}

fn read(req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
    check_key(req.path)?;
    let data = req
        .storage
        .get_json::<Map<String, Value>>(req.path)?
        .ok_or(LogicalError::NotFound)?;
    let ttl = refresh_interval(&data);
    let mut resp = Response::data(data);
    // As Vault: a `ttl` (or `lease`) field written with the secret is its
    // refresh interval, answered as lease_duration (no lease is made).
    if let Some(ttl) = ttl.filter(|t| *t > 0) {
        resp.lease = Some(LeaseInfo {
            lease_id: String::new(),
            lease_duration: ttl,
            renewable: false,
        });
    }
    Ok(resp)
}

/// The refresh interval a secret carries in its `ttl` (else `lease`)
/// field, when that is a duration.
fn refresh_interval(data: &Map<String, Value>) -> Option<u64> {
    let raw = data.get("ttl").or_else(|| data.get("lease"))?;
    match raw {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => crate::sdk::parse_duration(s),
        _ => None,
    }
}

fn list(req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
    let prefix = if req.path.is_empty() || req.path.ends_with('/') {
        req.path.to_string()
    } else {
        format!("{}/", req.path)
    };
    let keys = req.storage.list(&prefix)?;
    if keys.is_empty() {
        return Err(LogicalError::NotFound);
    }
    Ok(Response::list(keys))
}

/// The storage prefix of the KV v2 layout (see `kv::v2`): a v1 write there
/// could forge an upgraded layout, so it is reserved.
const RESERVED_PREFIX: &str = "v2/";

fn check_writable(path: &str) -> Result<(), LogicalError> {
    check_key(path)?;
    if path.starts_with(RESERVED_PREFIX) {
        return Err(LogicalError::BadRequest(format!(
            "paths under \"{RESERVED_PREFIX}\" are reserved in kv version 1 mounts"
        )));
    }
    Ok(())
}

fn write(req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
    check_writable(req.path)?;
    if req.data.is_empty() {
        return Err(LogicalError::BadRequest("missing data fields".into()));
    }
    req.storage.put_json(req.path, req.data)?;
    Ok(Response::empty())
}

fn delete(req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
    check_writable(req.path)?;
    req.storage.delete(req.path)?;
    Ok(Response::empty())
}
