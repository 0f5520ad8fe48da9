//! `subkeys/:key?version=N&depth=D`: the structure of a version's data
//! with every value replaced by `null`.
//!
//! Owns: value stripping. Must never return a value of the secret.

use serde_json::{json, Map, Value};

use super::{live_version, valid_key, KvState, Live};
use crate::logical::{LogicalError, LogicalRequest};
use crate::sdk::{Operation, Response};

pub(super) fn handle(
    kv: &KvState,
    req: &LogicalRequest<'_>,
    key: &str,
) -> Result<Response, LogicalError> {
    if req.operation != Operation::Read {
        return Err(LogicalError::UnsupportedOperation);
    }
    if !valid_key(key) {
        return Err(LogicalError::NotFound);
    }
    let query = super::SUBKEYS_ROUTE.parse(req.data)?;
    let depth = query.u64("depth").unwrap_or_default();
    let (data, metadata) = match live_version(kv, req, key, "subkeys")? {
        Live::Found(data, metadata) => (data, metadata),
        Live::Gone(resp) => return Ok(*resp),
    };
    Ok(Response::json(json!({
        "subkeys": strip_values(&data, depth),
        "metadata": metadata,
    })))
}

/// Keeps the keys of `data`, nesting into non-empty objects up to `depth`
/// levels (0 = no limit); everything else becomes `null`.
pub(super) fn strip_values(data: &Map<String, Value>, depth: u64) -> Value {
    strip_level(data, 1, depth)
}

fn strip_level(data: &Map<String, Value>, level: u64, depth: u64) -> Value {
    let out: Map<String, Value> = data
        .iter()
        .map(|(k, v)| {
            let below = level + 1;
            let stripped = match v {
                Value::Object(inner) if !inner.is_empty() && (depth == 0 || below <= depth) => {
                    strip_level(inner, below, depth)
                }
                _ => Value::Null,
            };
            (k.clone(), stripped)
        })
        .collect();
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_values_and_honours_depth() {
        let data = json!({"a": 1, "b": {"c": 2, "d": {"e": 3}}, "f": [1, 2], "g": {}});
        let data = data.as_object().unwrap();
        assert_eq!(
            strip_values(data, 0),
            json!({"a": null, "b": {"c": null, "d": {"e": null}}, "f": null, "g": null})
        );
        assert_eq!(
            strip_values(data, 1),
            json!({"a": null, "b": null, "f": null, "g": null})
        );
        assert_eq!(
            strip_values(data, 2),
            json!({"a": null, "b": {"c": null, "d": null}, "f": null, "g": null})
        );
        let text = strip_values(data, 0).to_string();
        assert!(!text.contains('1') && !text.contains('3'), "{text}");
    }
}
