//! sys/capabilities, sys/capabilities-self, sys/capabilities-accessor.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::core::pipeline::Authenticated;
use crate::core::state::{policy_err, token_err};
use crate::core::sys_routes::SysRoute;
use crate::core::{Active, CoreError};
use crate::logical::{fields, LogicalError};
use crate::policy::Acl;
use crate::sdk::{Operation, Request, Response};

/// `sys/capabilities`, `sys/capabilities-self`, `sys/capabilities-accessor`.
pub(super) fn handle(
    active: &Arc<Active>,
    req: &Request,
    route: SysRoute<'_>,
    auth: &Authenticated,
) -> Result<Response, CoreError> {
    if !matches!(req.operation, Operation::Create | Operation::Update) {
        return Err(LogicalError::UnsupportedOperation.into());
    }
    let paths = fields::opt_string_list(&req.data, "paths")?
        .or(fields::opt_string(&req.data, "path")?.map(|p| vec![p]))
        .ok_or_else(|| CoreError::BadRequest("missing required field \"paths\"".into()))?;
    let acl: Arc<Acl> = match route {
        SysRoute::CapabilitiesSelf => auth.acl.clone(),
        SysRoute::Capabilities => {
            let token = fields::req_string(&req.data, "token")?;
            let entry = active
                .tokens
                .lookup(&token)
                .map_err(|_| CoreError::BadRequest("invalid token".into()))?;
            active.policies.acl(&entry.policies).map_err(policy_err)?
        }
        _ => {
            let accessor = fields::req_string(&req.data, "accessor")?;
            let entry = active
                .tokens
                .lookup_accessor(&accessor)
                .map_err(token_err)?;
            active.policies.acl(&entry.policies).map_err(policy_err)?
        }
    };
    Ok(Response::data_top_level(capabilities_map(&acl, &paths)))
}

fn capabilities_map(acl: &Acl, paths: &[String]) -> Map<String, Value> {
    let mut out = Map::new();
    let mut all: Vec<String> = Vec::new();
    for p in paths {
        let p = p.trim_start_matches('/');
        let caps = acl.capabilities_strings(p);
        for c in &caps {
            if !all.contains(c) {
                all.push(c.clone());
            }
        }
        out.insert(p.to_string(), Value::from(caps));
    }
    all.sort();
    if paths.len() == 1 {
        out.insert("capabilities".into(), Value::from(all));
    }
    out
}
