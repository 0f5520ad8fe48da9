//! KV version 1: `<mount>/<path>` holds the JSON object as given.

use serde_json::{Map, Value};

use crate::logical::{matched, LogicalError, LogicalRequest};
use crate::sdk::{Operation, Response, Route};

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
    match req.storage.get_json::<Map<String, Value>>(req.path)? {
        Some(data) => Ok(Response::data(data)),
        None => Err(LogicalError::NotFound),
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
