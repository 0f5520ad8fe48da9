//! The `apikeys` secrets engine: service API keys that vault-rs generates
//! (or imports), hands to the owning service (`creds/`), validates for the
//! services that receive them (`validate`) and rotates on schedule.
//!
//! Paths (relative to the mount, `apikeys/` in dev mode; mountable more
//! than once): `config`, `keys/` (LIST), `keys/:name` (create/update, read
//! metadata, delete), `keys/:name/rotate`, `keys/:name/revoke`,
//! `creds/:name`, `validate`, `stats`.
//!
//! Per-mount state (salt, config, in-memory index, rate limiter, counters)
//! lives in a [`Registry`] owned by the mount's own backend instance
//! ([`backend`] builds a fresh one per mount); the rotation scheduler
//! reaches it through the mount table. The state is a cache of storage:
//! built lazily on first use after unseal (in practice by the scheduler's
//! first tick), dropped by [`forget_all`] when the core seals
//! (`Active::stop`) and again when the unsealed state is dropped (`Drop for
//! Active`: by then no request or tick that could have reloaded it is still
//! running), and gone with the instance when the mount is removed.
//!
//! Owns: everything under this module's mounts' storage views. Must not
//! touch other mounts, the barrier, tokens or HTTP; never logs a key.

mod handlers;
pub mod key;
mod ratelimit;
pub mod rotation;
pub mod store;
mod validate;
mod webhook;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};

use crate::barrier::StorageView;
use crate::logical::{matched, LogicalBackend, LogicalError, LogicalRequest};
use crate::router::MountEntry;
use crate::sdk;
use crate::sdk::route::{lookup, Field, FieldType, Matched};
use crate::sdk::{Operation, Response};

pub use rotation::MountSource;
use store::MountState;

/// The mount type.
pub const KIND: &str = "apikeys";

/// Per-mount state of every `apikeys` mount, by mount uuid.
#[derive(Default)]
pub struct Registry {
    /// Bumped by [`Registry::forget_all`]; a state remembers its epoch.
    epoch: AtomicU64,
    mounts: RwLock<HashMap<String, Arc<MountState>>>,
}

impl Registry {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<MountState>>> {
        self.mounts.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<MountState>>> {
        self.mounts.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The mount's state if it is loaded (never touches storage).
    pub fn peek(&self, storage: &StorageView) -> Option<Arc<MountState>> {
        self.read().get(storage.id()).cloned()
    }

    /// The mount's state, loading it from storage on first use. Loads are
    /// serialised, so a mount's salt is created at most once.
    pub fn state(&self, storage: &StorageView) -> Result<Arc<MountState>, LogicalError> {
        if let Some(s) = self.peek(storage) {
            return Ok(s);
        }
        let mut map = self.write();
        if let Some(s) = map.get(storage.id()) {
            return Ok(s.clone());
        }
        let epoch = self.epoch.load(Ordering::SeqCst);
        let state = Arc::new(MountState::load(storage, epoch)?);
        map.insert(storage.id().to_string(), state.clone());
        Ok(state)
    }

    /// Drops every mount's state (on seal): salts are zeroized once the
    /// last request using them ends.
    pub fn forget_all(&self) {
        let mut map = self.write();
        self.epoch.fetch_add(1, Ordering::SeqCst);
        map.clear();
    }

    /// After a mutation through `state`: if a seal/unseal happened
    /// meanwhile, the loaded state may predate the write, so drop it (it is
    /// reloaded on next use).
    pub fn settle(&self, storage: &StorageView, state: &MountState) {
        if state.epoch != self.epoch.load(Ordering::SeqCst) {
            self.write().remove(storage.id());
        }
    }
}

/// The engine of one `apikeys` mount. The instance owns the mount's
/// [`Registry`]: built when the mount is loaded or created, dropped with it
/// (on unmount, or with the unsealed state on seal).
pub struct ApiKeysBackend {
    registry: Arc<Registry>,
}

/// The engine for a new or loaded `apikeys` mount (a fresh instance).
pub fn backend() -> Arc<dyn LogicalBackend> {
    Arc::new(ApiKeysBackend::new(Arc::new(Registry::default())))
}

/// The registry of the `apikeys` instance serving `mount`, if it is one.
fn registry_of(mount: &crate::router::Mounted) -> Option<&Arc<Registry>> {
    if mount.entry.kind != KIND {
        return None;
    }
    let backend = mount.backend.as_any()?.downcast_ref::<ApiKeysBackend>()?;
    Some(&backend.registry)
}

/// Forgets the in-memory state of every `apikeys` mount of `router` (the
/// core is sealing).
pub fn forget_all(router: &crate::router::Router) {
    for registry in router.all().iter().filter_map(|m| registry_of(m)) {
        registry.forget_all();
    }
}

/// Starts the rotation scheduler of an unsealed core.
pub fn spawn_scheduler<T: MountSource>(source: Weak<T>, stop: Arc<AtomicBool>) {
    rotation::spawn_ticker(source, stop);
}

/// Where a request goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route<'a> {
    Config,
    Stats,
    Validate,
    Keys,
    Key(&'a str),
    Rotate(&'a str),
    Revoke(&'a str),
    Creds(&'a str),
}

const CONFIG: &str = "config";
const STATS: &str = "stats";
const VALIDATE: &str = "validate";
const KEYS: &str = "keys";
const KEYS_FOLDER: &str = "keys/";
const KEY: &str = "keys/:name";
const ROTATE: &str = "keys/:name/rotate";
const REVOKE: &str = "keys/:name/revoke";
const CREDS: &str = "creds/:name*";

const WRITE: &[Operation] = &[Operation::Create, Operation::Update];

const CONFIG_FIELDS: &[Field] = &[
    Field::new("prefix", FieldType::String),
    Field::new("default_ttl", FieldType::Duration),
    Field::new("default_rotation_period", FieldType::Duration),
    Field::new("default_grace_period", FieldType::Duration),
    Field::new("rate_limit", FieldType::Int),
    Field::new("rate_limit_burst", FieldType::Int),
    Field::new("webhook_allow_http", FieldType::Bool),
    Field::new("webhook_allowed_networks", FieldType::StringList),
];
const ROTATE_FIELDS: &[Field] = &[Field::new("grace_period", FieldType::Duration)];
const REVOKE_FIELDS: &[Field] = &[Field::new("version", FieldType::Int)];

/// The engine's routes. `creds/` takes the rest of the path as the name
/// (the handler checks it).
const ROUTES: &[sdk::Route] = &[
    sdk::Route::new(
        CONFIG,
        &[Operation::Read, Operation::Create, Operation::Update],
    )
    .fields(CONFIG_FIELDS),
    sdk::Route::new(STATS, &[Operation::Read]),
    sdk::Route::new(VALIDATE, WRITE),
    sdk::Route::list(KEYS),
    sdk::Route::list(KEYS_FOLDER),
    sdk::Route::new(
        KEY,
        &[
            Operation::Read,
            Operation::Create,
            Operation::Update,
            Operation::Delete,
        ],
    ),
    sdk::Route::new(ROTATE, WRITE).fields(ROTATE_FIELDS),
    sdk::Route::new(REVOKE, WRITE).fields(REVOKE_FIELDS),
    sdk::Route::new(CREDS, &[Operation::Read]),
];

/// The typed route of a matched path.
fn typed<'a>(m: &Matched<'_, 'a>) -> Option<Route<'a>> {
    Some(match m.pattern() {
        CONFIG => Route::Config,
        STATS => Route::Stats,
        VALIDATE => Route::Validate,
        KEYS | KEYS_FOLDER => Route::Keys,
        KEY => Route::Key(m.get("name")),
        ROTATE => Route::Rotate(m.get("name")),
        REVOKE => Route::Revoke(m.get("name")),
        CREDS => Route::Creds(m.get("name")),
        _ => return None,
    })
}

/// The route of `path`, whatever the operation.
fn route(path: &str) -> Option<Route<'_>> {
    lookup(ROUTES, path).as_ref().and_then(typed)
}

fn is_write(op: Operation) -> bool {
    matches!(op, Operation::Create | Operation::Update)
}

impl ApiKeysBackend {
    pub fn new(registry: Arc<Registry>) -> ApiKeysBackend {
        ApiKeysBackend { registry }
    }

    /// Validation: the format check comes before any state is touched.
    fn validate(&self, req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
        let input = handlers::validate_input(req.data)?;
        let shape = match validate::precheck(input.key) {
            Ok(shape) => shape,
            Err(_) => {
                if let Some(state) = self.registry.peek(req.storage) {
                    state.stats.count(&state.stats.malformed);
                }
                return Ok(handlers::malformed());
            }
        };
        let state = self.registry.state(req.storage)?;
        handlers::validate(&state, req, &input, shape)
    }

    fn dispatch(
        &self,
        state: &MountState,
        route: Route<'_>,
        req: &LogicalRequest<'_>,
    ) -> Result<Response, LogicalError> {
        let op = req.operation;
        match route {
            Route::Config if op == Operation::Read => Ok(handlers::read_config(state)),
            Route::Config if is_write(op) => handlers::write_config(state, req),
            Route::Stats if op == Operation::Read => Ok(handlers::stats(state)),
            Route::Keys if op == Operation::List => handlers::list(state),
            Route::Key(name) => match op {
                Operation::Read => handlers::read(state, name),
                Operation::Create | Operation::Update => handlers::write(state, req, name),
                Operation::Delete => handlers::delete(state, req, name),
                _ => Err(LogicalError::UnsupportedOperation),
            },
            Route::Rotate(name) if is_write(op) => handlers::rotate(state, req, name),
            Route::Revoke(name) if is_write(op) => handlers::revoke(state, req, name),
            Route::Creds(name) if op == Operation::Read => handlers::creds(state, req, name),
            _ => Err(LogicalError::UnsupportedOperation),
        }
    }
}

impl LogicalBackend for ApiKeysBackend {
    fn handle(&self, req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
        let m = matched(ROUTES, req)?;
        let route = typed(&m).ok_or_else(|| LogicalError::UnsupportedPath(req.path.to_string()))?;
        if route == Route::Validate {
            if !is_write(req.operation) {
                return Err(LogicalError::UnsupportedOperation);
            }
            return self.validate(req);
        }
        let state = self.registry.state(req.storage)?;
        let result = self.dispatch(&state, route, req);
        self.registry.settle(req.storage, &state);
        result
    }

    fn routes(&self, _mount: &MountEntry) -> &'static [sdk::Route] {
        ROUTES
    }

    fn exists(&self, req: &LogicalRequest<'_>) -> Result<Option<bool>, LogicalError> {
        match route(req.path) {
            Some(Route::Key(name)) => {
                let state = self.registry.state(req.storage)?;
                Ok(Some(state.record(name).is_some()))
            }
            _ => Ok(None),
        }
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

#[cfg(test)]
mod tests;
