//! The unsealed state: what exists only while the vault is unsealed.

use std::sync::Arc;

use super::scheduler::Scheduler;
use super::{Core, CoreError};
use crate::barrier::{Barrier, StorageView};
use crate::core::token_store::store_limits;
use crate::core::token_store::{TokenError, TokenStore};
use crate::expiration::{ExpirationManager, LeaseEntry, LeaseKind};
use crate::logical::{cubbyhole::CubbyholeBackend, kv::KvBackend, LogicalBackend, MountContext};
use crate::policy::store::{PolicyStore, PolicyStoreError};
use crate::router::{MountEntry, MountSet, MountTable, MountTableError, Router};
use crate::sdk::Clock;

/// View id of the core's own entries (mount table, policies).
pub(crate) const CORE_VIEW: &str = "core";
/// View id of the token store.
pub(crate) const TOKEN_VIEW: &str = "token";
/// View id of the expiration manager.
pub(crate) const EXPIRATION_VIEW: &str = "expiration";
const MOUNTS_KEY: &str = "mounts";
const AUTH_MOUNTS_KEY: &str = "auth-mounts";

pub struct Active {
    barrier: Arc<Barrier>,
    /// Secrets engines.
    pub mounts: MountSet,
    /// Auth methods (paths `auth/<name>/`); the token store is built in.
    pub auth_mounts: MountSet,
    pub tokens: TokenStore,
    pub policies: PolicyStore,
    pub expiration: Arc<ExpirationManager>,
    /// Audit devices; they close (final checkpoint) when this state drops.
    pub audit: crate::audit::Broker,
    /// The Argon2 workers every userpass mount hashes on (started by the
    /// first such mount; they end when this state and its mounts drop).
    hashers: Arc<crate::auth::userpass::Hashers>,
    /// What mounts are built with besides their entry and view.
    api_addr: Option<String>,
    clock: Arc<dyn Clock>,
    telemetry: Arc<dyn crate::sdk::Telemetry>,
    /// Lease expiry and the mounts' periodic work.
    pub scheduler: Scheduler,
    /// Snapshots on schedule, when configured.
    pub(crate) snapshots: Option<super::scheduled_snapshots::SnapshotSchedule>,
    /// Login failure counts and lockouts of the auth mounts.
    pub lockout: super::lockout::Lockouts,
    /// The mount moves (`sys/remount`) made since this unseal.
    pub(crate) migrations: crate::core::system::Migrations,
}

pub(crate) fn token_err(e: TokenError) -> CoreError {
    match e {
        TokenError::Invalid => CoreError::PermissionDenied,
        TokenError::BadRequest(m) => CoreError::BadRequest(m),
        TokenError::PermissionDenied(_) => CoreError::PermissionDenied,
        TokenError::Storage(b) => b.into(),
    }
}

pub(crate) fn policy_err(e: PolicyStoreError) -> CoreError {
    match e {
        PolicyStoreError::Policy(p) => CoreError::Policy(p),
        PolicyStoreError::Storage(b) => b.into(),
        PolicyStoreError::Immutable(m) => CoreError::BadRequest(m),
    }
}

/// The engine of a mount, if vault-rs has one for its type.
pub(crate) fn backend_for(ctx: &MountContext) -> Option<Arc<dyn LogicalBackend>> {
    match ctx.kind.as_str() {
        kind if crate::logical::kv::serves_kind(kind) => Some(Arc::new(KvBackend::new(ctx))),
        "cubbyhole" => Some(Arc::new(CubbyholeBackend)),
        crate::logical::apikeys::KIND => Some(crate::logical::apikeys::backend(ctx)),
        crate::logical::identity::KIND => Some(crate::logical::identity::backend(ctx)),
        _ => None,
    }
}

/// The auth method of a mount, if vault-rs has one for its type ("token"
/// is built in).
pub(crate) fn auth_backend_for(ctx: &MountContext) -> Option<Arc<dyn LogicalBackend>> {
    crate::auth::backend_for(ctx)
}

/// The context a mount's backend is built with.
fn mount_context(
    barrier: &Arc<Barrier>,
    api_addr: Option<&str>,
    clock: &Arc<dyn Clock>,
    telemetry: &Arc<dyn crate::sdk::Telemetry>,
    entry: &MountEntry,
) -> MountContext {
    MountContext {
        path: entry.path.clone(),
        kind: entry.kind.clone(),
        storage: barrier.view(&entry.uuid),
        api_addr: api_addr.map(str::to_string),
        clock: clock.clone(),
        telemetry: telemetry.clone(),
    }
}

/// See [`Active::adopt`].
fn adopt(hashers: &Arc<crate::auth::userpass::Hashers>, backend: &dyn LogicalBackend) {
    if let Some(userpass) = backend
        .as_any()
        .and_then(|b| b.downcast_ref::<crate::auth::userpass::UserpassBackend>())
    {
        userpass.use_hashers(hashers.clone());
    }
}

fn default_mounts() -> Vec<MountEntry> {
    let mut cubbyhole = MountEntry::new(
        "cubbyhole/",
        "cubbyhole",
        "per-token private secret storage",
    );
    cubbyhole.local = true;
    let identity = MountEntry::new(
        crate::logical::identity::MOUNT_PATH,
        crate::logical::identity::KIND,
        "identity store",
    );
    vec![cubbyhole, identity]
}

fn mount_err(e: MountTableError) -> CoreError {
    match e {
        MountTableError::Storage(b) => b.into(),
        other => CoreError::Internal(format!("mount table: {other}")),
    }
}

impl Active {
    pub(crate) fn load(core: &Core) -> Result<Active, CoreError> {
        let barrier = core.barrier();
        let core_view: StorageView = barrier.view(CORE_VIEW);
        let api_addr = core.config().api_addr.clone();
        let telemetry: Arc<dyn crate::sdk::Telemetry> = core.metrics().clone();
        let context_of = |entry: &MountEntry| {
            mount_context(
                barrier,
                api_addr.as_deref(),
                core.clock(),
                &telemetry,
                entry,
            )
        };
        let mounts = MountSet::load(
            MountTable::new(core_view.clone(), MOUNTS_KEY),
            "",
            default_mounts(),
            backend_for,
            &context_of,
        )
        .map_err(mount_err)?;
        let auth_mounts = MountSet::load(
            MountTable::new(core_view.clone(), AUTH_MOUNTS_KEY),
            "auth/",
            Vec::new(),
            auth_backend_for,
            &context_of,
        )
        .map_err(mount_err)?;
        let hashers = Arc::new(crate::auth::userpass::Hashers::default());
        for m in auth_mounts.snapshot().all() {
            adopt(&hashers, m.backend.as_ref());
        }
        let expiration = Arc::new(ExpirationManager::open(
            barrier.view(EXPIRATION_VIEW),
            core.clock().clone(),
        )?);
        let tokens = TokenStore::open(
            barrier.view(TOKEN_VIEW),
            store_limits(core.config()),
            expiration.clone(),
        )
        .map_err(token_err)?;
        if let Some(cubby) = mounts.snapshot().get("cubbyhole/") {
            let storage = cubby.storage.clone();
            tokens.set_on_revoke(Box::new(move |entry| {
                crate::logical::cubbyhole::destroy_for_token(&storage, &entry.key)
                    .map_err(|e| TokenError::BadRequest(format!("cannot destroy cubbyhole: {e}")))
            }));
        }
        let audit = crate::audit::Broker::load_with_clock(core_view.clone(), core.clock().clone())?;
        let lockout = super::lockout::Lockouts::open(core_view.clone(), core.clock().unix())?;
        let policies = PolicyStore::open(core_view).map_err(policy_err)?;
        Ok(Active {
            barrier: barrier.clone(),
            mounts,
            auth_mounts,
            tokens,
            policies,
            expiration,
            audit,
            hashers,
            api_addr,
            clock: core.clock().clone(),
            telemetry,
            scheduler: Scheduler::default(),
            snapshots: core
                .config()
                .snapshot
                .clone()
                .map(super::scheduled_snapshots::SnapshotSchedule::new),
            lockout,
            migrations: Default::default(),
        })
    }

    /// Starts the background work of the unsealed state: the mounts'
    /// `setup`, then the scheduler (lease expiry, periodic work).
    pub(crate) fn start(self: &Arc<Self>) {
        Scheduler::start(self);
    }

    /// Stops background work (on seal) and runs the mounts' `cleanup`.
    /// The barrier under this unsealed state.
    pub(crate) fn barrier(&self) -> &Arc<Barrier> {
        &self.barrier
    }

    pub(crate) fn stop(&self) {
        self.scheduler.stop(self);
    }

    /// The context a new mount's backend is built with.
    pub(crate) fn mount_context(&self, entry: &MountEntry) -> MountContext {
        mount_context(
            &self.barrier,
            self.api_addr.as_deref(),
            &self.clock,
            &self.telemetry,
            entry,
        )
    }

    /// Hands a new mount's backend instance what the unsealed state
    /// shares with it (userpass: the hashing workers).
    pub(crate) fn adopt(&self, backend: &dyn LogicalBackend) {
        adopt(&self.hashers, backend);
    }

    /// The secrets engines' live router (a shared, immutable snapshot).
    pub fn router(&self) -> Arc<Router> {
        self.mounts.snapshot()
    }
}

impl Active {
    /// Revokes what a lease stands for, then forgets the lease.
    pub(crate) fn revoke_lease(&self, lease: &LeaseEntry) -> Result<(), CoreError> {
        match &lease.kind {
            LeaseKind::Token { key } => self.tokens.revoke_tree(key).map_err(token_err)?,
        }
        self.expiration.remove(&lease.lease_id)?;
        Ok(())
    }
}

/// What mounts keep in memory is derived from secrets: dropped with the
/// unsealed state (again, after any request that outlived `stop`).
impl Drop for Active {
    fn drop(&mut self) {
        for set in [&self.mounts, &self.auth_mounts] {
            for m in set.snapshot().all() {
                m.backend.cleanup();
            }
        }
    }
}
