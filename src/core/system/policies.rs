//! sys/policies/acl/* and the legacy sys/policy/* (which the pipeline
//! rewrites to sys/policies/acl/*, so both are one ACL object).

use serde_json::json;

use crate::core::state::policy_err;
use crate::core::{Active, CoreError};
use crate::logical::{fields, LogicalError};
use crate::policy::check_canonical_name;
use crate::sdk::{Operation, Request, Response};

/// `sys/policies/acl` (GET or LIST): the policy names. The pipeline
/// rewrote the legacy `sys/policy/…` to `sys/policies/acl/…` (one ACL
/// object for both) and folded the name; `alias` only picks the legacy
/// response shape.
pub(super) fn list_route(active: &Active, req: &Request) -> Result<Response, CoreError> {
    match req.operation {
        Operation::List | Operation::Read => list(active, req.alias.is_some()),
        _ => Err(LogicalError::UnsupportedOperation.into()),
    }
}

/// `sys/policies/acl/:name`.
pub(super) fn policy(active: &Active, req: &Request, name: &str) -> Result<Response, CoreError> {
    let legacy = req.alias.is_some();
    match req.operation {
        Operation::Read => read(active, name, legacy),
        Operation::Create | Operation::Update => write_policy(active, name, req, legacy),
        Operation::Delete => {
            active.policies.delete(name).map_err(policy_err)?;
            Ok(Response::empty())
        }
        _ => Err(LogicalError::UnsupportedOperation.into()),
    }
}

fn list(active: &Active, legacy: bool) -> Result<Response, CoreError> {
    let names = active.policies.list().map_err(policy_err)?;
    Ok(if legacy {
        let mut r = Response::json(json!({"policies": names, "keys": names}));
        r.top_level = true;
        r
    } else {
        Response::list(names)
    })
}

fn read(active: &Active, name: &str, legacy: bool) -> Result<Response, CoreError> {
    check_canonical_name(name)?;
    let p = active
        .policies
        .get(name)
        .map_err(policy_err)?
        .ok_or(LogicalError::NotFound)?;
    Ok(if legacy {
        let mut r = Response::json(json!({"name": name, "rules": p.raw}));
        r.top_level = true;
        r
    } else {
        Response::json(json!({"name": name, "policy": p.raw}))
    })
}

fn write_policy(
    active: &Active,
    name: &str,
    req: &Request,
    legacy: bool,
) -> Result<Response, CoreError> {
    let field = if legacy && req.data.contains_key("rules") {
        "rules"
    } else {
        "policy"
    };
    let text = fields::opt_string(&req.data, field)?
        .ok_or_else(|| CoreError::BadRequest(format!("missing required field \"{field}\"")))?;
    let text = decode_maybe_base64(text);
    active.policies.set(name, &text).map_err(policy_err)?;
    let mut r = Response::empty();
    if field == "rules" {
        // Vault says so (200 with a warning rather than 204).
        r.warnings
            .push("'rules' is deprecated, please use 'policy' instead".into());
    }
    Ok(r)
}

/// Vault accepts the policy text base64-encoded too.
fn decode_maybe_base64(text: String) -> String {
    use base64::Engine;
    let t = text.trim();
    if t.is_empty() || t.contains(['{', '"', ' ', '\n']) {
        return text;
    }
    match base64::engine::general_purpose::STANDARD.decode(t) {
        Ok(b) => String::from_utf8(b).unwrap_or(text),
        Err(_) => text,
    }
}
