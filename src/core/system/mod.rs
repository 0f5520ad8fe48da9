//! The system backend (`sys/`), a part of the core: seal management,
//! mounts, policies, audit devices, leases, wrapping, capabilities, the
//! users locked out of auth methods.
//!
//! Owns: the HTTP-facing shape of `sys/*` paths (fields in, JSON out),
//! dispatched on the typed route of the declared `sys/` table
//! ([`crate::core::sys_routes::SYS`]): no handler parses its own path.
//! Must not touch physical storage or key material directly: it calls the
//! core's typed methods (the seal/rekey state machine in
//! [`super::seal_state`]) and the barrier's public operations.

mod audit;
mod capabilities;
mod leases;
mod locked_users;
mod mounts;
mod policies;
mod seal;
mod storage;

use std::sync::Arc;

pub(crate) use mounts::Migrations;

use crate::core::pipeline::{authorize, Authenticated};
use crate::core::sys_routes::{self, SysRoute};
use crate::core::{Active, Core, CoreError};
use crate::logical::LogicalError;
use crate::sdk::route::RouteError;
use crate::sdk::{Operation, Request, Response};

/// 404 or 405 for a request no row of the `sys/` table serves.
fn unserved(e: RouteError, path: &str) -> CoreError {
    match e {
        RouteError::UnsupportedPath => CoreError::UnsupportedPath(path.to_string()),
        RouteError::UnsupportedOperation => LogicalError::UnsupportedOperation.into(),
    }
}

/// Serves the `sys/` paths that need no token (seal lifecycle, health).
/// `None`: not one of them.
pub fn handle_unauthenticated(core: &Core, req: &Request) -> Result<Option<Response>, CoreError> {
    let Some(path) = req.path.strip_prefix("sys/") else {
        return Ok(None);
    };
    // A LIST names its path with a trailing `/` (`sys/leader/`): the seal
    // lifecycle's paths refuse it as an operation they do not serve (405),
    // as Vault's do, rather than asking for a token.
    let path = match req.operation {
        Operation::List => path.strip_suffix('/').unwrap_or(path),
        _ => path,
    };
    match sys_routes::sys_lookup(path, req.operation) {
        // `telemetry { unauthenticated_metrics_access = true }`
        Some((SysRoute::Metrics, _)) if core.config().unauthenticated_metrics => {
            metrics(core, req).map(Some)
        }
        Some((route, row)) if row.unauthenticated && route.seal_lifecycle() => {
            seal::handle_unauthenticated(core, req, route, row.serves(req.operation)).map(Some)
        }
        _ => Ok(None),
    }
}

/// Whether [`handle_unauthenticated`] serves `path` (whatever the
/// operation: a wrong one is refused there, not for want of a token).
pub fn is_unauthenticated(core: &Core, path: &str) -> bool {
    let metrics = || {
        path.strip_prefix("sys/")
            .and_then(|p| sys_routes::sys_lookup(p, Operation::Read))
            .is_some_and(|(route, _)| route == SysRoute::Metrics)
    };
    (core.config().unauthenticated_metrics && metrics()) || sys_routes::sys_seal_lifecycle(path)
}

/// `sys/metrics` (`?format=prometheus` for the text format).
fn metrics(core: &Core, req: &Request) -> Result<Response, CoreError> {
    if req.operation != Operation::Read {
        return Err(crate::logical::LogicalError::UnsupportedOperation.into());
    }
    let format = crate::logical::fields::opt_string(&req.data, "format")?;
    Ok(match format.as_deref() {
        Some("prometheus") => Response {
            text: Some((
                crate::core::metrics::OPENMETRICS_CONTENT_TYPE.into(),
                core.metrics().prometheus(core),
            )),
            status: Some(200),
            ..Response::default()
        },
        // Vault's JSON: go-metrics' summary as the whole body.
        None | Some("") | Some("json") => Response::raw(200, core.metrics().json(core)),
        Some(other) => {
            return Err(CoreError::BadRequest(format!(
                "unsupported metrics format \"{other}\""
            )))
        }
    })
}

/// Serves an authenticated `sys/` request: the ACL check (with `sudo`
/// where the table says), then the handler of the matched route.
pub(crate) fn handle(
    core: &Core,
    active: &Arc<Active>,
    req: &Request,
    auth: &Authenticated,
) -> Result<Response, CoreError> {
    let path = req.path.strip_prefix("sys/").unwrap_or("");
    let op = req.operation;
    let route = sys_routes::sys_route(path, op);
    // A token may ask how a mount it can use is configured (clients use it
    // to detect the KV version), as in Vault: the check is in `mounts`.
    if !matches!(route, Ok(SysRoute::UiMount(_))) {
        authorize(auth, op, &req.path, sys_routes::sys_sudo(path, op))?;
    }
    let route = match route {
        // The controls of a manual clock exist on dev servers only.
        Ok(SysRoute::DevClock) if !core.clock().is_manual() => {
            return Err(CoreError::UnsupportedPath(req.path.clone()))
        }
        Ok(route) => route,
        Err(RouteError::UnsupportedOperation)
            if path == sys_routes::DEV_CLOCK && !core.clock().is_manual() =>
        {
            return Err(CoreError::UnsupportedPath(req.path.clone()))
        }
        Err(e) => return Err(unserved(e, &req.path)),
    };
    match route {
        SysRoute::Metrics => metrics(core, req),
        SysRoute::Init
        | SysRoute::SealStatus
        | SysRoute::Unseal
        | SysRoute::Health
        | SysRoute::Leader
        | SysRoute::RekeyInit
        | SysRoute::RekeyUpdate
        | SysRoute::RekeyVerify
        | SysRoute::GenerateRootAttempt
        | SysRoute::GenerateRootUpdate => seal::handle_unauthenticated(core, req, route, true),
        SysRoute::Seal
        | SysRoute::Rotate
        | SysRoute::KeyStatus
        | SysRoute::GenerateRootTokenAttempt
        | SysRoute::GenerateRootTokenUpdate
        | SysRoute::RekeyBackup
        | SysRoute::StepDown => seal::handle(core, req, route),
        SysRoute::Snapshot => storage::handle(core, req, false),
        SysRoute::SnapshotForce => storage::handle(core, req, true),
        SysRoute::Mounts(table) => mounts::list_route(active, req, table),
        SysRoute::Mount(table, rest) => mounts::mount(active, req, table, rest),
        SysRoute::MountTune(table, rest) => mounts::tune_route(core, active, req, table, rest),
        SysRoute::UiMount(rest) => mounts::ui_mount(active, rest, auth),
        SysRoute::Policies => policies::list_route(active, req),
        SysRoute::Policy(name) => policies::policy(active, req, name),
        SysRoute::AuditDevices => audit::devices(active, req),
        SysRoute::AuditDevice(dev) => audit::device(active, req, dev),
        SysRoute::AuditPublicKey(dev) => audit::public_key(active, req, dev),
        SysRoute::AuditEntries(dev) => audit::entries(active, req, dev, core.clock().now()),
        SysRoute::AuditVerify(dev) => audit::verify_log(active, req, dev),
        SysRoute::AuditHash(dev) => audit::hash(active, req, dev),
        SysRoute::WrappingLookup
        | SysRoute::WrappingUnwrap
        | SysRoute::WrappingWrap
        | SysRoute::WrappingRewrap => crate::core::wrapping::handle(active, req, route),
        SysRoute::LeaseLookup
        | SysRoute::LeaseList(_)
        | SysRoute::LeaseRenew(_)
        | SysRoute::LeaseRevoke(_)
        | SysRoute::LeaseRevokePrefix(_) => leases::handle(active, req, route, auth),
        SysRoute::Capabilities | SysRoute::CapabilitiesSelf | SysRoute::CapabilitiesAccessor => {
            capabilities::handle(active, req, route, auth)
        }
        SysRoute::DevClock => crate::core::scheduler::handle_dev_clock(core, active, req, auth),
        SysRoute::Remount => mounts::remount_route(active, req),
        SysRoute::RemountStatus(id) => mounts::remount_status_route(active, req, id),
        SysRoute::LockedUsers => locked_users::list_route(core, active, req),
        SysRoute::LockedUsersUnlock(accessor, alias) => {
            locked_users::unlock(core, active, accessor, alias)
        }
    }
}
