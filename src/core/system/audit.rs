//! sys/audit (list), sys/audit/:path (enable, disable, read),
//! sys/audit/:path/public-key (vault-rs: the key that signs the device's
//! checkpoints) and sys/audit-hash/:path.

use serde_json::{json, Map, Value};

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
