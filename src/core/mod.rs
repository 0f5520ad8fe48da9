//! The core: the request pipeline and the vault's sealed/unsealed state.
//!
//! Owns: for every request the order sealed? → token lookup → ACL check →
//! route → backend → response; the seal/rekey state machine
//! ([`seal_state`]: init, unseal progress, seal, rekey); the unsealed state
//! (mounts, token store, policies), built from storage on unseal and
//! dropped (zeroizing keys) on seal; and the parts of the vault that act on
//! the core itself: the system backend ([`system`], `sys/`) and the token
//! store ([`token_store`], `auth/token/`).
//! Must not touch: HTTP types, physical storage (only through the barrier).

mod error;
pub mod generate_root;
mod ha;
mod help;
pub mod lockout;
pub mod metrics;
pub mod oauth2;
pub mod path;
#[cfg(test)]
mod path_props;
mod pipeline;
#[cfg(test)]
mod route_tables;
mod scheduled_snapshots;
pub mod scheduler;
pub mod seal_state;
pub(crate) mod state;
pub(crate) mod sys_routes;
pub mod system;
pub mod token_store;
/// The wall-clock helpers, now in the backend contract ([`crate::sdk::time`]).
pub use crate::sdk::time;
mod wrapping;

use std::sync::{Arc, Mutex, RwLock, Weak};

/// The request/response contract lives in [`crate::sdk`]; re-exported here
/// for the pipeline and for callers of [`Core::handle`].
pub use crate::sdk::{AuthResponse, LeaseInfo, Operation, Request, Response};
pub use error::{ClientView, CoreError};
pub use ha::HaStatus;
pub use state::Active;

use crate::barrier::Barrier;
use crate::crypto::SecretString;
use crate::sdk::{Clock, SystemClock};
use seal_state::SealState;
pub use seal_state::{
    InitResult, RekeyAttempt, RekeyStatus, RekeyUpdate, RekeyVerifyStatus, RekeyVerifyUpdate,
    UnsealStatus,
};
use token_store::TokenParams;

/// Settings the core needs from the server configuration.
#[derive(Clone, Debug)]
pub struct CoreConfig {
    pub default_lease_ttl: u64,
    pub max_lease_ttl: u64,
    pub cluster_name: String,
    /// Serve `sys/metrics` without a token (`telemetry` block).
    pub unauthenticated_metrics: bool,
    /// The address clients reach the vault at (`api_addr`): the issuer of
    /// identity tokens is `<api_addr>/v1/identity/oidc`.
    pub api_addr: Option<String>,
    /// Serve `sys/generate-root/*` without a token
    /// (`enable_unauthenticated_access = ["generate-root"]`).
    pub unauthenticated_generate_root: bool,
    /// Serve `sys/rekey/*` without a token
    /// (`enable_unauthenticated_access = ["rekey"]`); otherwise a token
    /// with `sudo` on the path is needed.
    pub unauthenticated_rekey: bool,
    /// `snapshot { … }`: snapshots taken on schedule.
    pub snapshot: Option<crate::config::SnapshotConfig>,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            default_lease_ttl: 768 * 3600,
            max_lease_ttl: 768 * 3600,
            cluster_name: "vault-rs".into(),
            unauthenticated_metrics: false,
            api_addr: None,
            unauthenticated_generate_root: false,
            unauthenticated_rekey: false,
            snapshot: None,
        }
    }
}

/// The vault.
pub struct Core {
    barrier: Arc<Barrier>,
    config: CoreConfig,
    cluster_id: String,
    seal_state: Mutex<SealState>,
    /// Serialises `initialize` (two concurrent inits must not both succeed).
    init_lock: Mutex<()>,
    active: RwLock<Option<Arc<Active>>>,
    metrics: Arc<metrics::Metrics>,
    /// What every time rule reads (TTLs, expiry, rotation, audit `time`).
    clock: Arc<dyn Clock>,
    /// Active/standby on shared storage (`None` on single-node storage).
    ha: Option<ha::Ha>,
    /// This core, for the threads it starts (the HA loop).
    self_ref: Weak<Core>,
}

impl Core {
    /// A core on the wall clock.
    pub fn new(barrier: Arc<Barrier>, config: CoreConfig) -> Arc<Core> {
        Core::with_clock(barrier, config, Arc::new(SystemClock))
    }

    /// A core that reads `clock` for every time rule (a [`crate::sdk::ManualClock`]
    /// in tests and in `server --dev --dev-manual-clock`).
    pub fn with_clock(
        barrier: Arc<Barrier>,
        config: CoreConfig,
        clock: Arc<dyn Clock>,
    ) -> Arc<Core> {
        let metrics = Arc::new(metrics::Metrics::new());
        let writes = metrics.storage_write_histogram();
        barrier.observe_writes(Arc::new(move |elapsed| {
            writes.observe(elapsed.as_secs_f64())
        }));
        let ha = barrier.ha_lock().map(ha::Ha::new);
        Arc::new_cyclic(|self_ref| Core {
            barrier,
            config,
            cluster_id: uuid::Uuid::new_v4().to_string(),
            seal_state: Mutex::new(SealState::new()),
            init_lock: Mutex::new(()),
            active: RwLock::new(None),
            metrics,
            clock,
            ha,
            self_ref: self_ref.clone(),
        })
    }

    /// The clock every time rule of this vault reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn config(&self) -> &CoreConfig {
        &self.config
    }

    /// The vault's metrics (requests are counted by the pipeline).
    pub fn metrics(&self) -> &Arc<metrics::Metrics> {
        &self.metrics
    }

    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    pub fn barrier(&self) -> &Arc<Barrier> {
        &self.barrier
    }

    /// The unsealed state, or [`CoreError::Sealed`].
    pub fn active(&self) -> Result<Arc<Active>, CoreError> {
        self.active
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or(CoreError::Sealed)
    }

    /// Sealed: neither active nor (with HA) an unsealed standby.
    pub fn is_sealed(&self) -> bool {
        self.active
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_none()
            && !self.ha.as_ref().is_some_and(|h| h.is_unsealed())
    }

    /// Creates a root token directly (dev mode: `--dev-root-token-id`).
    pub fn create_root_token(&self, id: Option<String>) -> Result<SecretString, CoreError> {
        let active = self.active()?;
        let (token, _) = active
            .tokens
            .create(TokenParams {
                policies: vec!["root".into()],
                display_name: "root".into(),
                path: "auth/token/root".into(),
                id,
                ..TokenParams::default()
            })
            .map_err(state::token_err)?;
        Ok(token)
    }

    /// Runs one scheduler pass now, at the clock's time (lease expiry, the
    /// mounts' periodic work), as `sys/dev/clock` does after moving a
    /// manual clock. Blocking.
    pub fn run_scheduled(&self) -> Result<scheduler::PassReport, CoreError> {
        let active = self.active()?;
        Ok(active.scheduler.run_once(&active))
    }

    /// Serves one request (blocking; call from a blocking context).
    pub fn handle(&self, req: Request) -> Result<Response, CoreError> {
        pipeline::handle(self, req)
    }

    /// Whether `req` is a read that waits on nothing but storage reads
    /// (served from the storage's caches or the page cache): a read or
    /// list outside `sys/` (`sys/health` aside), not wrapped, while no
    /// audit device is enabled (a device's acknowledgement waits on a
    /// sync). The HTTP layer serves such a request on its runtime thread.
    /// A read by a token with a use limit still records the use (a write);
    /// the limit is checked only once the token is looked up. Shared
    /// storage (PostgreSQL, with HA) reads over the network: never quick.
    /// `sys/health` is never audited (as in Vault), so it is quick even
    /// with devices enabled.
    pub fn is_quick_read(&self, req: &Request) -> bool {
        if self.ha.is_some() {
            return false;
        }
        if req.path == "sys/health" && req.operation == Operation::Read {
            return true;
        }
        matches!(req.operation, Operation::Read | Operation::List)
            && req.wrap_ttl.is_none()
            && (!req.path.starts_with("sys/") || req.path == "sys/health")
            && self.active().is_ok_and(|a| a.audit.scope().is_empty())
    }

    /// Checks a request before its body is read (`req.data` is not
    /// consulted): `Err` is what [`Core::handle`] would answer anyway —
    /// the vault is sealed, or the path needs a token and `req` has no
    /// valid one — and the refusal is already in the audit log. `Ok` says
    /// nothing about the ACL: the request still goes through `handle`.
    /// Blocking (a token lookup reads storage).
    pub fn precheck(&self, req: &mut Request) -> Result<(), CoreError> {
        pipeline::precheck(self, req)
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        self.seal();
    }
}

#[cfg(test)]
mod quick_read_tests {
    use super::*;
    use crate::physical::InmemBackend;
    use crate::seal::SealConfig;
    use serde_json::json;

    fn send(core: &Core, token: &SecretString, op: Operation, path: &str, data: serde_json::Value) {
        let mut req = Request::new(op, path);
        req.client_token = Some(token.clone());
        if let serde_json::Value::Object(m) = data {
            req.data = m;
        }
        core.handle(req).expect(path);
    }

    #[test]
    fn only_reads_that_wait_on_no_sync_are_quick() {
        let core = Core::new(
            Barrier::new(Arc::new(InmemBackend::new())),
            CoreConfig::default(),
        );
        let read = Request::new(Operation::Read, "secret/data/app");
        assert!(!core.is_quick_read(&read), "sealed");
        assert!(core.is_quick_read(&Request::new(Operation::Read, "sys/health")));
        let init = core.initialize(SealConfig::new(1, 1).unwrap()).unwrap();
        core.submit_unseal_share(init.shares[0].clone()).unwrap();
        assert!(core.is_quick_read(&read));
        assert!(core.is_quick_read(&Request::new(Operation::List, "secret/metadata/")));
        assert!(core.is_quick_read(&Request::new(Operation::Read, "sys/health")));
        for (op, path) in [
            (Operation::Update, "secret/data/app"),
            (Operation::Delete, "secret/data/app"),
            (Operation::Read, "sys/mounts"),
            (Operation::Read, "sys/storage/snapshot"),
        ] {
            assert!(!core.is_quick_read(&Request::new(op, path)), "{path}");
        }
        let mut wrapped = Request::new(Operation::Read, "secret/data/app");
        wrapped.wrap_ttl = Some(60);
        assert!(!core.is_quick_read(&wrapped), "wrapping creates a token");
        // With an audit device, every request waits on its sync.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("audit.log");
        send(
            &core,
            &init.root_token,
            Operation::Update,
            "sys/audit/file",
            json!({"type": "file", "options": {"file_path": file.to_str().unwrap()}}),
        );
        assert!(!core.is_quick_read(&read));
        // sys/health is not audited: still quick.
        assert!(core.is_quick_read(&Request::new(Operation::Read, "sys/health")));
        let before = std::fs::read(&file).unwrap().len();
        core.handle(Request::new(Operation::Read, "sys/health"))
            .unwrap();
        assert_eq!(
            std::fs::read(&file).unwrap().len(),
            before,
            "sys/health was audited"
        );
    }
}
