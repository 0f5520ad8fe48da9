//! `sys/locked-users` (GET: the aliases locked out of auth mounts, in
//! Vault's shape; `?mount_accessor=` narrows it to one mount) and
//! `sys/locked-users/:mount_accessor/unlock/:alias` (POST: lifts a
//! lockout). Both need `sudo`; both are audited like every `sys/` request.
//!
//! Owns: the HTTP shape of these paths. Must not touch: the lockout rules
//! themselves ([`crate::core::lockout`]).

use serde_json::{json, Value};

use crate::core::{Active, Core, CoreError};
use crate::sdk::{Request, Response};

/// `GET sys/locked-users`.
pub(super) fn list_route(
    core: &Core,
    active: &Active,
    req: &Request,
) -> Result<Response, CoreError> {
    let now = core.clock().unix();
    let only =
        crate::logical::fields::opt_string(&req.data, "mount_accessor")?.filter(|a| !a.is_empty());
    Ok(Response::json(list(active, now, only.as_deref())))
}

/// `POST sys/locked-users/:mount_accessor/unlock/:alias`.
pub(super) fn unlock(
    core: &Core,
    active: &Active,
    accessor: &str,
    alias: &str,
) -> Result<Response, CoreError> {
    if accessor.is_empty() || alias.is_empty() {
        return Err(CoreError::BadRequest(
            "mount_accessor and alias are required".into(),
        ));
    }
    if active.lockout.unlock(accessor, alias, core.clock().unix()) {
        tracing::info!(accessor = %accessor, "login lockout lifted by an operator");
    }
    Ok(Response::empty())
}

/// Vault's `sys/locked-users` body (one namespace: the root).
fn list(active: &Active, now: i64, only: Option<&str>) -> Value {
    let locked = active.lockout.locked(now);
    let mut mounts: Vec<Value> = Vec::new();
    let mut total = 0usize;
    let mut i = 0;
    while i < locked.len() {
        let accessor = &locked[i].mount_accessor;
        let group: Vec<_> = locked[i..]
            .iter()
            .take_while(|l| &l.mount_accessor == accessor)
            .collect();
        i += group.len();
        if only.is_some_and(|o| o != accessor) {
            continue;
        }
        total += group.len();
        let aliases: Vec<Value> = group
            .iter()
            .map(|l| {
                json!({
                    "alias": l.alias,
                    "mount_accessor": l.mount_accessor,
                    "lockedtime": crate::sdk::time::unix_to_rfc3339(l.locked_at),
                })
            })
            .collect();
        mounts.push(json!({
            "mount_accessor": accessor,
            "counts": group.len(),
            "aliases": aliases,
        }));
    }
    // Vault lists the mounts with the most locked users first.
    mounts.sort_by_key(|m| std::cmp::Reverse(m["counts"].as_u64().unwrap_or(0)));
    json!({
        "by_namespace": [{
            "namespace_id": "root",
            "namespace_path": "",
            "counts": total,
            "mount_accessors": mounts,
        }],
        "total": total,
    })
}
