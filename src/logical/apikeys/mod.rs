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
//! ([`backend`] builds a fresh one per mount, from its `MountContext`).
//! The state is a cache of storage: built when the mount is set up (the
//! `setup` hook, after unseal or once the mount is created), reloaded on
//! first use if it is missing, dropped by the `cleanup` hook when the core
//! seals or the mount is removed, and gone with the instance. Scheduled
//! rotation is the `periodic` hook, driven by the core's scheduler.
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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use serde_json::{json, Map};

use crate::barrier::StorageView;
use crate::logical::{
    matched, LogicalBackend, LogicalError, LogicalRequest, MountContext, Performed,
};
use crate::sdk;
use crate::sdk::route::{lookup, Field, FieldType, Matched};
use crate::sdk::MountPoint;
use crate::sdk::{Operation, Response};

use store::MountState;

/// The mount type.
pub const KIND: &str = "apikeys";

/// Per-mount state of every `apikeys` mount, by mount uuid.
pub struct Registry {
    /// Bumped by [`Registry::forget_all`]; a state remembers its epoch.
    epoch: AtomicU64,
    mounts: RwLock<HashMap<String, Arc<MountState>>>,
    /// Where the mount's states count validations and rotations.
    telemetry: Arc<dyn sdk::Telemetry>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new(Arc::new(sdk::NoTelemetry))
    }
}

impl Registry {
    pub fn new(telemetry: Arc<dyn sdk::Telemetry>) -> Registry {
        Registry {
            epoch: AtomicU64::new(0),
            mounts: RwLock::new(HashMap::new()),
            telemetry,
        }
    }

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
        let state = Arc::new(MountState::load(storage, epoch, self.telemetry.clone())?);
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
    /// The mount's storage view (for the scheduled rotation).
    storage: StorageView,
}

/// The engine for a new or loaded `apikeys` mount (a fresh instance).
pub fn backend(ctx: &MountContext) -> Arc<dyn LogicalBackend> {
    Arc::new(ApiKeysBackend::new(
        Arc::new(Registry::new(ctx.telemetry.clone())),
        ctx.storage.clone(),
    ))
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
    pub fn new(registry: Arc<Registry>, storage: StorageView) -> ApiKeysBackend {
        ApiKeysBackend { registry, storage }
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
                self.registry
                    .telemetry
                    .record(sdk::telemetry::Event::ApiKeyValidation(
                        sdk::telemetry::ApiKeyOutcome::Invalid,
                    ));
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
                Operation::Read => handlers::read(state, req, name),
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

    fn routes(&self, _mount: MountPoint<'_>) -> &'static [sdk::Route] {
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

    /// Loads the mount's state (salt, config, index) so the first request
    /// after unseal finds it ready.
    fn setup(&self) -> Result<(), LogicalError> {
        let state = self.registry.state(&self.storage)?;
        self.registry.settle(&self.storage, &state);
        Ok(())
    }

    /// Drops the mount's state: its salt is zeroized once the last request
    /// using it ends.
    fn cleanup(&self) {
        if let Some(state) = self.registry.peek(&self.storage) {
            state.flush_usage(&self.storage, 0, true);
        }
        self.registry.forget_all();
    }

    /// Due rotations and retirements ([`rotation::run_due`]), and the
    /// batched write of keys' use ([`MountState::flush_usage`]); each
    /// rotation is reported for the audit log as `keys/:name/rotate` with
    /// `trigger: scheduled` (manual rotations are audited as the requests
    /// they are).
    fn periodic(&self, now: time::OffsetDateTime) -> Vec<Performed> {
        let now_ms = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
        let state = match self.registry.state(&self.storage) {
            Ok(state) => state,
            Err(LogicalError::Storage(crate::barrier::BarrierError::Sealed)) => return Vec::new(),
            Err(e) => {
                tracing::warn!(mount = self.storage.id(), error = %e,
                    "cannot load an apikeys mount for rotation");
                return Vec::new();
            }
        };
        let rotated = rotation::run_due(&state, &self.storage, now_ms);
        state.flush_usage(&self.storage, now_ms, false);
        self.registry.settle(&self.storage, &state);
        rotated
            .into_iter()
            .map(|name| {
                let mut data = Map::new();
                data.insert("trigger".into(), json!("scheduled"));
                Performed {
                    path: format!("keys/{name}/rotate"),
                    data,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
