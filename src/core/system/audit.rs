//! sys/audit (list), sys/audit/:path (enable, disable, read),
//! sys/audit/:path/public-key (vault-rs: the key that signs the device's
//! checkpoints) and sys/audit-hash/:path.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::core::{Active, CoreError};
use crate::logical::{fields, LogicalError};
use crate::sdk::{Operation, Request, Response};

pub(super) fn handle(
    active: &Arc<Active>,
    req: &Request,
    path: &str,
) -> Result<Option<Response>, CoreError> {
    let write = matches!(req.operation, Operation::Create | Operation::Update);
    let broker = &active.audit;
    let r = if path == "audit" {
        match req.operation {
            Operation::Read | Operation::List => list(active),
            _ => return Err(LogicalError::UnsupportedOperation.into()),
        }
    } else if let Some(dev) = path.strip_prefix("audit-hash/") {
        if !write {
            return Err(LogicalError::UnsupportedOperation.into());
        }
        let input = fields::opt_string(&req.data, "input")?
            .ok_or_else(|| CoreError::BadRequest("missing required field \"input\"".into()))?;
        // Repeated at the top level, as Vault's sys/ answers.
        Response::data_top_level(match json!({ "hash": broker.hash(dev, &input)? }) {
            serde_json::Value::Object(m) => m,
            _ => serde_json::Map::new(),
        })
    } else if let Some(rest) = path.strip_prefix("audit/") {
        if let Some(dev) = rest.strip_suffix("/public-key") {
            match req.operation {
                Operation::Read => Response::json(
                    serde_json::to_value(broker.public_key(dev)?).unwrap_or(Value::Null),
                ),
                _ => return Err(LogicalError::UnsupportedOperation.into()),
            }
        } else {
            match req.operation {
                _ if write => enable(active, rest, &req.data)?,
                Operation::Delete => {
                    broker.disable(rest)?;
                    Response::empty()
                }
                Operation::Read => {
                    let p = crate::audit::normalize_path(rest)?;
                    let d = broker
                        .list()
                        .into_iter()
                        .find(|d| d.path == p)
                        .ok_or(LogicalError::NotFound)?;
                    Response::json(d.to_json())
                }
                _ => return Err(LogicalError::UnsupportedOperation.into()),
            }
        }
    } else {
        return Ok(None);
    };
    Ok(Some(r))
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
