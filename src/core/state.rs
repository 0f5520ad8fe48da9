//! The unsealed state: what exists only while the vault is unsealed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::{Core, CoreError};
use crate::barrier::{Barrier, StorageView};
use crate::core::time::unix_now;
use crate::core::token_store::store_limits;
use crate::core::token_store::{TokenError, TokenStore};
use crate::expiration::{spawn_ticker, ExpirationManager, Expirer, LeaseEntry, LeaseKind};
use crate::logical::{cubbyhole::CubbyholeBackend, kv::KvBackend, LogicalBackend};
use crate::policy::store::{PolicyStore, PolicyStoreError};
use crate::router::{MountEntry, MountSet, MountTable, MountTableError, Router};

/// View id of the core's own entries (mount table, policies).
pub(crate) const CORE_VIEW: &str = "core";
/// View id of the token store.
pub(crate) const TOKEN_VIEW: &str = "token";
/// View id of the expiration manager.
pub(crate) const EXPIRATION_VIEW: &str = "expiration";
/// How many due leases one tick handles at most.
const EXPIRE_BATCH: usize = 1000;
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
    stop: Arc<AtomicBool>,
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

/// The engine for a mount type, if vault-rs has one.
pub(crate) fn backend_for(kind: &str) -> Option<Arc<dyn LogicalBackend>> {
    match kind {
        "kv" => Some(Arc::new(KvBackend::default())),
        "cubbyhole" => Some(Arc::new(CubbyholeBackend)),
        crate::logical::apikeys::KIND => Some(crate::logical::apikeys::backend()),
        crate::logical::identity::KIND => Some(crate::logical::identity::backend()),
        _ => None,
    }
}

/// The auth method for a type, if vault-rs has one ("token" is built in).
pub(crate) fn auth_backend_for(kind: &str) -> Option<Arc<dyn LogicalBackend>> {
    crate::auth::backend_for(kind)
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
        let view_of = |uuid: &str| barrier.view(uuid);
        let mounts = MountSet::load(
            MountTable::new(core_view.clone(), MOUNTS_KEY),
            "",
            default_mounts(),
            backend_for,
            &view_of,
        )
        .map_err(mount_err)?;
        let auth_mounts = MountSet::load(
            MountTable::new(core_view.clone(), AUTH_MOUNTS_KEY),
            "auth/",
            Vec::new(),
            auth_backend_for,
            &view_of,
        )
        .map_err(mount_err)?;
        let hashers = Arc::new(crate::auth::userpass::Hashers::default());
        for m in auth_mounts.snapshot().all() {
            adopt(&hashers, m.backend.as_ref());
        }
        let expiration = Arc::new(ExpirationManager::open(barrier.view(EXPIRATION_VIEW))?);
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
        if let Some(identity) = mounts
            .snapshot()
            .get(crate::logical::identity::MOUNT_PATH)
            .and_then(|m| m.backend.as_any())
            .and_then(|b| b.downcast_ref::<crate::logical::identity::IdentityBackend>())
        {
            identity.configure(core.config().api_addr.as_deref());
        }
        let audit = crate::audit::Broker::load(core_view.clone())?;
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
            stop: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Starts the background work of the unsealed state (lease expiry).
    pub(crate) fn start(self: &Arc<Self>) {
        spawn_ticker(Arc::downgrade(self), self.stop.clone());
        crate::logical::apikeys::spawn_scheduler(Arc::downgrade(self), self.stop.clone());
    }

    /// Stops background work (on seal).
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        crate::logical::apikeys::forget_all(&self.router());
    }

    /// Hands a new mount's backend instance what the unsealed state
    /// shares with it (userpass: the hashing workers).
    pub(crate) fn adopt(&self, backend: &dyn LogicalBackend) {
        adopt(&self.hashers, backend);
    }

    /// The storage view of a new mount.
    pub(crate) fn storage_view(&self, uuid: &str) -> StorageView {
        self.barrier.view(uuid)
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

impl crate::logical::apikeys::MountSource for Active {
    fn secrets_router(&self) -> Router {
        // A copy of the list of shared mounts, not of the mounts.
        Router::clone(&self.router())
    }

    fn audit_rotation(&self, mount_path: &str, key_name: &str) {
        use crate::audit::{AuditInput, MountInfo, Outcome};
        let path = format!("{mount_path}keys/{key_name}/rotate");
        let mut req = super::Request::new(super::Operation::Update, &path);
        req.data.insert("trigger".into(), "scheduled".into());
        let mount = MountInfo {
            point: mount_path.into(),
            kind: "apikeys".into(),
        };
        let scope = self.audit.scope();
        let done: Result<super::Response, CoreError> = Ok(super::Response::empty());
        for outcome in [None, Some(Outcome::of(&done))] {
            let input = AuditInput {
                request: &req,
                auth: None,
                mount: &mount,
                outcome,
                error: None,
            };
            if let Err(e) = scope.log(&input) {
                // The rotation already happened; it cannot be undone here.
                tracing::error!(error = %e, "cannot audit a scheduled API key rotation");
            }
        }
    }
}

/// API key indexes are derived from secrets: dropped with the unsealed
/// state (again, after any request or tick that outlived `stop`).
impl Drop for Active {
    fn drop(&mut self) {
        crate::logical::apikeys::forget_all(&self.router());
    }
}

impl Expirer for Active {
    fn expire_due(&self) -> usize {
        let due = match self.expiration.due(unix_now(), EXPIRE_BATCH) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the lease index");
                return 0;
            }
        };
        for lease in &due {
            if let Err(e) = self.revoke_lease(lease) {
                tracing::warn!(lease_id = %lease.lease_id, error = %e, "revocation failed; will retry");
                if let Err(e) = self.expiration.retry_later(lease) {
                    tracing::error!(error = %e, "cannot reschedule a lease");
                }
            }
        }
        due.len()
    }
}
