//! The one scheduler of the unsealed state: the work nobody requests.
//!
//! Owns: the background thread that, every [`TICK`] while the vault is
//! unsealed, runs one pass ([`Scheduler::run_once`]) at the core clock's
//! `now`: revoke the leases due by then (the expiration manager's index),
//! then call [`crate::logical::LogicalBackend::periodic`] on every mount (API key rotation
//! and retirement, identity key rotation) and write what the backends did
//! to the audit log. Also the mounts' `setup` (on unseal, and for a mount
//! created later) and `cleanup` (on seal, and on unmount) hooks, and
//! `sys/dev/clock`, the endpoint that moves a manual clock (dev mode only).
//! Passes never overlap, and none starts once `Scheduler::stop` has
//! returned; a pass holds the unsealed state for its duration, so a seal
//! waits for it to end.
//! Must not touch: what a lease or a backend's work means (the token store
//! revokes tokens, engines rotate their keys); HTTP.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde_json::json;
use time::OffsetDateTime;

use super::pipeline::Authenticated;
use super::state::Active;
use super::{Core, CoreError};
use crate::audit::{AuditInput, MountInfo, Outcome};
use crate::logical::{fields, LogicalError, Performed};
use crate::router::Mounted;
use crate::sdk::{Operation, Request, Response};

/// How often the scheduler runs a pass.
pub const TICK: Duration = Duration::from_millis(250);
/// How many due leases one pass revokes at most.
const EXPIRE_BATCH: usize = 1000;
/// The most `sys/dev/clock` moves the clock in one call (10 years).
const MAX_ADVANCE: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassReport {
    /// Due leases handled (revoked, or rescheduled after a failure).
    pub expired: usize,
    /// Things backends did on their own (rotations).
    pub performed: usize,
}

/// The scheduler of one unsealed state (owned by [`Active`]).
#[derive(Default)]
pub struct Scheduler {
    stop: Arc<AtomicBool>,
    /// Held for a whole pass: passes never overlap.
    pass: Mutex<()>,
}

impl Scheduler {
    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.pass.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets up every mount, then starts the thread; it ends once
    /// [`Scheduler::stop`] is called or the state is dropped.
    pub(crate) fn start(active: &Arc<Active>) {
        for m in all_mounts(active) {
            setup(&m);
        }
        let target: Weak<Active> = Arc::downgrade(active);
        let stop = active.scheduler.stop.clone();
        let spawned = std::thread::Builder::new()
            .name("vault-rs-scheduler".into())
            .spawn(move || loop {
                std::thread::sleep(TICK);
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let Some(active) = target.upgrade() else {
                    return;
                };
                active.scheduler.run_once(&active);
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the scheduler thread");
        }
    }

    /// Stops the scheduler (on seal): waits for a running pass to end, then
    /// runs every mount's `cleanup`. No pass starts afterwards.
    pub(crate) fn stop(&self, active: &Active) {
        self.stop.store(true, Ordering::SeqCst);
        let _pass = self.lock();
        for m in all_mounts(active) {
            m.backend.cleanup();
        }
    }

    /// One pass at the clock's current time. Does nothing once stopped.
    pub fn run_once(&self, active: &Active) -> PassReport {
        let _pass = self.lock();
        if self.stop.load(Ordering::SeqCst) {
            return PassReport::default();
        }
        let now = active.expiration.clock().now();
        let expired = expire_due(active, now.unix_timestamp());
        let mut performed = 0;
        for m in all_mounts(active) {
            let done = m.backend.periodic(now);
            performed += done.len();
            for p in done {
                audit_performed(active, &m, p);
            }
        }
        if let Some(schedule) = &active.snapshots {
            schedule.run(active.barrier(), now.unix_timestamp());
        }
        PassReport { expired, performed }
    }
}

/// Runs a new mount's `setup` (errors are logged: the mount keeps serving).
pub(crate) fn setup(m: &Mounted) {
    if let Err(e) = m.backend.setup() {
        tracing::warn!(mount = %m.entry.path, error = %e, "mount setup failed");
    }
}

fn all_mounts(active: &Active) -> Vec<Arc<Mounted>> {
    let mut all = active.mounts.snapshot().all().to_vec();
    all.extend(active.auth_mounts.snapshot().all().iter().cloned());
    all
}

/// Revokes every lease due at `now` (up to a batch); a failed revocation
/// is retried later with backoff.
fn expire_due(active: &Active, now: i64) -> usize {
    let due = match active.expiration.due(now, EXPIRE_BATCH) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the lease index");
            return 0;
        }
    };
    for lease in &due {
        if let Err(e) = active.revoke_lease(lease) {
            tracing::warn!(lease_id = %lease.lease_id, error = %e, "revocation failed; will retry");
            if let Err(e) = active.expiration.retry_later(lease) {
                tracing::error!(error = %e, "cannot reschedule a lease");
            }
        }
    }
    due.len()
}

/// Records what a backend did on its own as an update of the mount's path,
/// request and response entries (no token: the vault did it).
fn audit_performed(active: &Active, m: &Mounted, p: Performed) {
    let path = format!("{}{}", m.entry.path, p.path);
    let mut req = Request::new(Operation::Update, &path);
    req.data = p.data;
    let mount = MountInfo {
        point: m.entry.path.clone(),
        kind: m.entry.kind.clone(),
    };
    let scope = active.audit.scope();
    let done: Result<Response, CoreError> = Ok(Response::empty());
    for outcome in [None, Some(Outcome::of(&done))] {
        let input = AuditInput {
            request: &req,
            auth: None,
            mount: &mount,
            outcome,
            error: None,
        };
        if let Err(e) = scope.log(&input) {
            // The work already happened; it cannot be undone here.
            tracing::error!(path = %path, error = %e, "cannot audit scheduled work");
        }
    }
}

/// `sys/dev/clock` (PUT `{"advance": "5s"}`; GET reads the time): moves the
/// core's manual clock forward, then runs one scheduler pass at the new
/// time, so what became due is done when the call returns. Served only by
/// a core on a manual clock (`server --dev --dev-manual-clock`), and only
/// to a root token; 404 (an unknown path) on any other core.
pub(crate) fn handle_dev_clock(
    core: &Core,
    active: &Active,
    req: &Request,
    auth: &Authenticated,
) -> Result<Response, CoreError> {
    if !core.clock().is_manual() {
        return Err(CoreError::UnsupportedPath(req.path.clone()));
    }
    if !auth
        .entry
        .policies
        .iter()
        .any(|p| p == crate::policy::ROOT_POLICY)
    {
        return Err(CoreError::PermissionDenied);
    }
    let report = match req.operation {
        Operation::Read => PassReport::default(),
        Operation::Create | Operation::Update => {
            let by = fields::opt_duration(&req.data, "advance")?.unwrap_or(0);
            let by = Duration::from_secs(by);
            if by > MAX_ADVANCE {
                return Err(CoreError::BadRequest(
                    "advance: at most 10 years at a time".into(),
                ));
            }
            core.clock().advance(by);
            active.scheduler.run_once(active)
        }
        _ => return Err(LogicalError::UnsupportedOperation.into()),
    };
    let now: OffsetDateTime = core.clock().now();
    Ok(Response::json(json!({
        "now": crate::sdk::time::format_rfc3339(now),
        "unix": now.unix_timestamp(),
        "expired": report.expired,
        "performed": report.performed,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::barrier::Barrier;
    use crate::physical::InmemBackend;
    use crate::sdk::ManualClock;
    use crate::seal::SealConfig;

    fn core() -> (Arc<Core>, String) {
        let barrier = Barrier::new(Arc::new(InmemBackend::new()));
        let clock = Arc::new(ManualClock::starting_now());
        let core = Core::with_clock(barrier, super::super::CoreConfig::default(), clock);
        let init = core.initialize(SealConfig::new(1, 1).unwrap()).unwrap();
        core.submit_unseal_share(init.shares[0].clone()).unwrap();
        (core, init.root_token.expose().to_string())
    }

    fn send(
        core: &Core,
        token: &str,
        op: Operation,
        path: &str,
        body: serde_json::Value,
    ) -> Result<Response, CoreError> {
        let mut r = Request::new(op, path);
        r.client_token = Some(token.into());
        r.data = body.as_object().cloned().unwrap_or_default();
        core.handle(r)
    }

    #[test]
    fn a_pass_expires_what_the_clock_says_is_due_and_none_runs_once_sealed() {
        let (core, root) = core();
        let t = send(
            &core,
            &root,
            Operation::Update,
            "auth/token/create",
            json!({"ttl": "10s"}),
        )
        .unwrap()
        .auth
        .unwrap()
        .client_token
        .expose()
        .to_string();
        // Real time passes, the clock does not: nothing is due.
        std::thread::sleep(TICK * 2);
        assert_eq!(core.run_scheduled().unwrap(), PassReport::default());
        assert!(send(
            &core,
            &t,
            Operation::Read,
            "auth/token/lookup-self",
            json!({})
        )
        .is_ok());
        core.clock().advance(Duration::from_secs(11));
        // Refused at once (the TTL reads the clock), revoked by the pass
        // (or by the background thread's, whichever runs first).
        assert!(send(
            &core,
            &t,
            Operation::Read,
            "auth/token/lookup-self",
            json!({})
        )
        .is_err());
        core.run_scheduled().unwrap();
        let active = core.active().unwrap();
        assert!(active.expiration.due(i64::MAX, 10).unwrap().is_empty());
        core.seal();
        assert!(matches!(core.run_scheduled(), Err(CoreError::Sealed)));
        // A stopped scheduler runs no pass, even through a stale handle.
        assert_eq!(active.scheduler.run_once(&active), PassReport::default());
    }

    #[test]
    fn the_clock_endpoint_exists_only_on_a_manual_clock() {
        let (core, root) = core();
        let r = send(
            &core,
            &root,
            Operation::Update,
            "sys/dev/clock",
            json!({"advance": "90s"}),
        )
        .unwrap();
        let now = r.data.unwrap();
        assert!(now["unix"].as_i64() >= Some(core.clock().unix() - 1));
        let wall = Core::new(
            Barrier::new(Arc::new(InmemBackend::new())),
            super::super::CoreConfig::default(),
        );
        let init = wall.initialize(SealConfig::new(1, 1).unwrap()).unwrap();
        wall.submit_unseal_share(init.shares[0].clone()).unwrap();
        let root = init.root_token.expose().to_string();
        let refused = send(
            &wall,
            &root,
            Operation::Update,
            "sys/dev/clock",
            json!({"advance": "90s"}),
        );
        assert!(
            matches!(refused, Err(CoreError::UnsupportedPath(_))),
            "{refused:?}"
        );
    }
}
