//! The `kv` secrets engine: version 1 (plain key/value) and version 2
//! (versioned), chosen per mount by `options.version`; it also serves the
//! `generic` mount type (Vault's old name for kv version 1).
//!
//! Owns: the layout of a KV mount's storage view. Must not touch anything
//! outside that view.

mod v1;
mod v2;

use std::sync::Arc;

use crate::logical::{LogicalBackend, LogicalError, LogicalRequest, MountContext};
use crate::sdk::route::ALL_OPERATIONS;
use crate::sdk::{Clock, MountPoint, Response, Route};

/// The routes of a mount whose version is unknown: every path, so that the
/// handler refuses the mount itself (400), not the path.
const UNKNOWN_VERSION: &[Route] = &[Route::new(":path*", ALL_OPERATIONS)];

/// The KV engine of one mount; dispatches on the mount's `options.version`.
/// The instance owns the mount's per-key locks and upgrade guard: it is
/// built when the mount is loaded or created and dropped with it.
pub struct KvBackend {
    state: v2::KvState,
    /// Dates the versions an in-place upgrade creates.
    clock: Arc<dyn Clock>,
}

impl KvBackend {
    /// The engine of the mount `ctx` describes (a fresh instance).
    pub fn new(ctx: &MountContext) -> KvBackend {
        KvBackend {
            state: v2::KvState::default(),
            clock: ctx.clock.clone(),
        }
    }
}

impl LogicalBackend for KvBackend {
    fn handle(&self, req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
        match req.mount.kv_version() {
            "1" => {
                let _upgrade = v2::v1_guard(&self.state.upgrade, req.storage)?;
                v1::handle(req)
            }
            "2" => v2::handle(&self.state, req),
            other => Err(LogicalError::BadRequest(format!(
                "unsupported kv version \"{other}\""
            ))),
        }
    }

    fn routes(&self, mount: MountPoint<'_>) -> &'static [Route] {
        match mount.kv_version() {
            "1" => v1::ROUTES,
            "2" => v2::ROUTES,
            _ => UNKNOWN_VERSION,
        }
    }

    fn exists(&self, req: &LogicalRequest<'_>) -> Result<Option<bool>, LogicalError> {
        match req.mount.kv_version() {
            "1" => v1::exists(req),
            "2" => v2::exists(req),
            _ => Ok(None),
        }
    }

    fn unrouted(&self, req: &LogicalRequest<'_>) -> Option<Response> {
        (req.mount.kv_version() == "2").then(|| v2::invalid_path(req.operation))
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

impl KvBackend {
    /// Converts this KV v1 mount's data in place to the v2 layout (tune
    /// `options.version=2`); v1 requests to it are refused from then on.
    pub fn upgrade_v1_to_v2(
        &self,
        storage: &crate::barrier::StorageView,
    ) -> Result<(), LogicalError> {
        v2::upgrade_v1_to_v2(&self.state.upgrade, storage, self.clock.now())
    }
}

/// The mount types this engine serves: `kv`, and `generic` (Vault's old
/// name for kv version 1, kept by Vault for old mount tables and scripts).
pub fn serves_kind(kind: &str) -> bool {
    matches!(kind, "kv" | "generic")
}

/// The KV version `server --dev` mounts at `secret/`.
pub const DEV_KV_VERSION: &str = "2";
