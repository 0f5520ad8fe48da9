//! The `identity` secrets engine (mounted once, at `identity/`): signed
//! identity tokens. vault-rs signs short-lived JWTs (RS256 by default;
//! RS384, RS512, ES256, ES384 or EdDSA per key) for authenticated callers
//! and publishes its public keys as a JWKS, so services validate each
//! other's tokens locally.
//!
//! Paths (relative to the mount): `oidc/config` (the issuer),
//! `oidc/key/:name` (create/update, read, delete; LIST `oidc/key`),
//! `oidc/key/:name/rotate`, `oidc/role/:name` (likewise; LIST
//! `oidc/role`), `oidc/token/:role` (GET: a signed token for the caller),
//! `oidc/introspect`, and, without a token, `oidc/.well-known/keys` and
//! `oidc/.well-known/openid-configuration`.
//!
//! Owns: request dispatch, token issue (claims) and introspection; keys
//! live in [`keys`], roles in [`roles`], signing and verification (on
//! `jsonwebtoken`) in [`jwt`]. The issuer is `<issuer>/v1/identity/oidc`
//! when `oidc/config` sets one, else `<api_addr>/v1/identity/oidc` from
//! the mount's context ([`MountContext::api_addr`]). Scheduled key
//! rotation runs in [`LogicalBackend::periodic`], driven by the core's
//! scheduler: requests (the unauthenticated JWKS included) never write.
//! Must not touch other mounts, the barrier, tokens or HTTP; never logs a
//! token or a private key.

pub mod jwt;
pub mod keys;
pub mod roles;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use serde_json::{json, Map, Value};

use crate::barrier::StorageView;
use crate::logical::{
    fields, matched, LogicalBackend, LogicalError, LogicalRequest, MountContext, Performed,
};
use crate::sdk;
use crate::sdk::route::{lookup, Field, FieldType, Matched};
use crate::sdk::MountPoint;
use crate::sdk::{Operation, Response};
use Operation::*;

/// The mount type.
pub const KIND: &str = "identity";
/// Where the engine is mounted.
pub const MOUNT_PATH: &str = "identity/";
/// The issuer base when no `api_addr` is configured.
pub const DEFAULT_API_ADDR: &str = "http://127.0.0.1:8200";

const WELL_KNOWN_KEYS: &str = "oidc/.well-known/keys";
const WELL_KNOWN_CONFIG: &str = "oidc/.well-known/openid-configuration";

/// The engine of one identity mount. The instance owns the mount's state
/// (built when the mount is loaded, dropped on seal): the lock over its
/// keys, the API address its tokens name as issuer, and the mount's
/// storage view (for the scheduled rotation).
pub struct IdentityBackend {
    keys_lock: keys::KeyLock,
    /// `None`: [`DEFAULT_API_ADDR`].
    api_addr: RwLock<Option<String>>,
    storage: StorageView,
    /// When the scheduler next has work here (unix seconds; 0: unknown,
    /// look at storage). Reset by every key write.
    next_due: AtomicI64,
}

/// A backend object for the mount table.
pub fn backend(ctx: &MountContext) -> Arc<dyn LogicalBackend> {
    Arc::new(IdentityBackend::new(ctx))
}

impl IdentityBackend {
    /// The engine of the mount `ctx` describes (a fresh instance).
    pub fn new(ctx: &MountContext) -> IdentityBackend {
        let b = IdentityBackend {
            keys_lock: keys::KeyLock::default(),
            api_addr: RwLock::new(None),
            storage: ctx.storage.clone(),
            next_due: AtomicI64::new(0),
        };
        b.configure(ctx.api_addr.as_deref());
        b
    }

    /// Records the address this mount's tokens name as issuer.
    pub fn configure(&self, api_addr: Option<&str>) {
        let addr = api_addr
            .map(|a| a.trim().trim_end_matches('/'))
            .filter(|a| !a.is_empty())
            .map(str::to_string);
        *self.api_addr.write().unwrap_or_else(|p| p.into_inner()) = addr;
    }

    /// The `iss` of the mount's tokens: `<issuer>/v1/identity/oidc` when
    /// `oidc/config` sets an issuer, else [`Self::issuer`].
    pub fn issuer_in(&self, storage: &StorageView) -> Result<String, LogicalError> {
        Ok(match load_config(storage)?.issuer {
            Some(base) if !base.is_empty() => format!("{base}/v1/identity/oidc"),
            _ => self.issuer(),
        })
    }

    /// The `iss` of the mount's tokens when no issuer is configured:
    /// `<api_addr>/v1/identity/oidc`.
    pub fn issuer(&self) -> String {
        let addr = self.api_addr.read().unwrap_or_else(|p| p.into_inner());
        let base = addr.as_deref().unwrap_or(DEFAULT_API_ADDR);
        format!("{base}/v1/identity/oidc")
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.keys_lock.lock()
    }
}

/// The `oidc/config` entry.
#[derive(serde::Serialize, serde::Deserialize, Default)]
struct OidcConfig {
    /// Scheme, host and optional port (no path), e.g.
    /// `https://vault.example:8200`.
    #[serde(default)]
    issuer: Option<String>,
}

const CONFIG_ENTRY: &str = "oidc/config";

fn load_config(storage: &StorageView) -> Result<OidcConfig, LogicalError> {
    Ok(storage.get_json(CONFIG_ENTRY)?.unwrap_or_default())
}

/// Checks an issuer base as Vault does: an http(s) URL with a host and
/// nothing after it but an optional port. Returns it without a trailing
/// `/`.
fn check_issuer(raw: &str) -> Result<String, LogicalError> {
    let bad = || {
        LogicalError::BadRequest(format!(
            "invalid issuer \"{raw}\": use a URL of scheme, host and optional port, such as https://vault.example.com:8200"
        ))
    };
    let s = raw.trim().trim_end_matches('/');
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(bad)?;
    if rest.is_empty()
        || rest.contains(['/', '?', '#', '@', ' '])
        || rest.starts_with(':')
        || rest.chars().any(char::is_control)
    {
        return Err(bad());
    }
    if let Some((_, port)) = rest.rsplit_once(':').filter(|_| !rest.ends_with(']')) {
        if !rest.starts_with('[') || rest.contains("]:") {
            port.parse::<u16>().map_err(|_| bad())?;
        }
    }
    Ok(s.to_string())
}

fn read_config(req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
    let c = load_config(req.storage)?;
    let mut data = Map::new();
    data.insert("issuer".into(), json!(c.issuer.unwrap_or_default()));
    Ok(Response::data(data))
}

fn write_config(id: &IdentityBackend, req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
    let _g = id.lock();
    let mut c = load_config(req.storage)?;
    if let Some(raw) = fields::opt_string(req.data, "issuer")? {
        c.issuer = if raw.trim().is_empty() {
            None
        } else {
            Some(check_issuer(&raw)?)
        };
    }
    req.storage.put_json(CONFIG_ENTRY, &c)?;
    Ok(Response::empty())
}

/// Key and role names: letters, digits, `_`, `-`, `.`.
fn check_name(name: &str) -> Result<&str, LogicalError> {
    if name.is_empty()
        || name.len() > 128
        || name == "."
        || name == ".."
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(LogicalError::BadRequest(format!(
            "invalid name \"{name}\": use letters, digits, '_', '-' and '.'"
        )));
    }
    Ok(name)
}

/// The routes of the engine.
enum Route<'a> {
    Config,
    KeyList,
    Key(&'a str),
    KeyRotate(&'a str),
    RoleList,
    Role(&'a str),
    Token(&'a str),
    Introspect,
    Jwks,
    OpenIdConfig,
}

const CONFIG: &str = "oidc/config";
const KEYS: &str = "oidc/key/";
const KEY: &str = "oidc/key/:name";
const KEY_ROTATE: &str = "oidc/key/:name/rotate";
const ROLES: &str = "oidc/role/";
const ROLE: &str = "oidc/role/:name";
const TOKEN: &str = "oidc/token/:name";
const INTROSPECT: &str = "oidc/introspect";

const KEY_FIELDS: &[Field] = &[
    Field::new("algorithm", FieldType::String),
    Field::new("rotation_period", FieldType::Duration),
    Field::new("verification_ttl", FieldType::Duration),
    Field::new("allowed_client_ids", FieldType::StringList),
];
const CONFIG_FIELDS: &[Field] = &[Field::new("issuer", FieldType::String)];
const ROTATE_FIELDS: &[Field] = &[Field::new("verification_ttl", FieldType::Duration)];
const ROLE_FIELDS: &[Field] = &[
    Field::new("key", FieldType::String),
    Field::new("ttl", FieldType::Duration),
    Field::new("scopes", FieldType::StringList),
];
const INTROSPECT_FIELDS: &[Field] = &[
    Field::new("token", FieldType::String).required(),
    Field::new("client_id", FieldType::String),
];

/// `oidc/key/:name`, whose schema also types the key's settings.
const KEY_ROUTE: sdk::Route =
    sdk::Route::new(KEY, &[Read, Create, Update, Delete]).fields(KEY_FIELDS);

/// The engine's routes. Only the list folders `oidc/key/` and `oidc/role/`
/// end in `/` ("oidc/role/x/" must not reach the handler of "oidc/role/x",
/// or a policy on the latter could be sidestepped).
const ROUTES: &[sdk::Route] = &[
    sdk::Route::new(CONFIG, &[Read, Create, Update]).fields(CONFIG_FIELDS),
    sdk::Route::list(KEYS),
    KEY_ROUTE,
    sdk::Route::new(KEY_ROTATE, &[Create, Update]).fields(ROTATE_FIELDS),
    sdk::Route::list(ROLES),
    sdk::Route::new(ROLE, &[Read, Create, Update, Delete]).fields(ROLE_FIELDS),
    sdk::Route::new(TOKEN, &[Read]),
    sdk::Route::new(INTROSPECT, &[Create, Update]).fields(INTROSPECT_FIELDS),
    sdk::Route::new(WELL_KNOWN_KEYS, &[Read]).unauthenticated(),
    sdk::Route::new(WELL_KNOWN_CONFIG, &[Read]).unauthenticated(),
];

/// The typed route of a matched path.
fn typed<'a>(m: &Matched<'_, 'a>) -> Option<Route<'a>> {
    Some(match m.pattern() {
        CONFIG => Route::Config,
        KEYS => Route::KeyList,
        KEY => Route::Key(m.get("name")),
        KEY_ROTATE => Route::KeyRotate(m.get("name")),
        ROLES => Route::RoleList,
        ROLE => Route::Role(m.get("name")),
        TOKEN => Route::Token(m.get("name")),
        INTROSPECT => Route::Introspect,
        WELL_KNOWN_KEYS => Route::Jwks,
        WELL_KNOWN_CONFIG => Route::OpenIdConfig,
        _ => return None,
    })
}

/// The route of `path`, whatever the operation.
fn route(path: &str) -> Option<Route<'_>> {
    lookup(ROUTES, path).as_ref().and_then(typed)
}

impl LogicalBackend for IdentityBackend {
    fn handle(&self, req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
        let m = matched(ROUTES, req)?;
        let Some(r) = typed(&m) else {
            return Err(LogicalError::UnsupportedPath(req.path.to_string()));
        };
        let op = req.operation;
        match (r, op) {
            (Route::Config, Read) => read_config(req),
            (Route::Config, Create | Update) => write_config(self, req),
            (Route::KeyList, List) => list(keys::names(req.storage)?),
            (Route::Key(n), Read) => read_key(req, check_name(n)?),
            (Route::Key(n), Create | Update) => write_key(self, req, check_name(n)?),
            (Route::Key(n), Delete) => delete_key(self, req, check_name(n)?),
            (Route::KeyRotate(n), Create | Update) => rotate_key(self, req, check_name(n)?),
            (Route::RoleList, List) => list(roles::names(req.storage)?),
            (Route::Role(n), Read) => read_role(req, check_name(n)?),
            (Route::Role(n), Create | Update) => write_role(self, req, check_name(n)?),
            (Route::Role(n), Delete) => {
                let _g = self.lock();
                roles::delete(req.storage, check_name(n)?)?;
                Ok(Response::empty())
            }
            (Route::Token(n), Read) => issue_token(self, req, check_name(n)?),
            (Route::Introspect, Create | Update) => introspect(self, req),
            (Route::Jwks, Read) => Ok(Response::raw(
                200,
                keys::jwks(req.storage, req.clock.unix())?,
            )),
            (Route::OpenIdConfig, Read) => Ok(Response::raw(
                200,
                openid_configuration(&self.issuer_in(req.storage)?),
            )),
            _ => Err(LogicalError::UnsupportedOperation),
        }
    }

    fn routes(&self, _mount: MountPoint<'_>) -> &'static [sdk::Route] {
        ROUTES
    }

    fn exists(&self, req: &LogicalRequest<'_>) -> Result<Option<bool>, LogicalError> {
        Ok(match route(req.path) {
            Some(Route::Key(n)) if check_name(n).is_ok() => {
                Some(keys::load(req.storage, n)?.is_some())
            }
            Some(Route::Role(n)) if check_name(n).is_ok() => {
                Some(roles::load(req.storage, n)?.is_some())
            }
            _ => None,
        })
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    /// Rotates the keys whose rotation is due and drops key versions past
    /// their verification window; each rotation is reported for the audit
    /// log as `oidc/key/:name/rotate` with `trigger: scheduled`.
    fn periodic(&self, now: time::OffsetDateTime) -> Vec<Performed> {
        let now = now.unix_timestamp();
        if now < self.next_due.load(Ordering::SeqCst) {
            return Vec::new();
        }
        // Under the key lock: a key write (which resets `next_due`) comes
        // wholly before this pass or after it.
        let _g = self.lock();
        let rotated = match keys::refresh_all_locked(&self.storage, now) {
            Ok(done) => {
                self.next_due.store(done.next_due, Ordering::SeqCst);
                done.rotated
            }
            Err(e) => {
                tracing::warn!(error = %e, "scheduled identity key rotation failed; will retry");
                Vec::new()
            }
        };
        rotated
            .into_iter()
            .map(|name| {
                let mut data = Map::new();
                data.insert("trigger".into(), json!("scheduled"));
                Performed {
                    path: format!("oidc/key/{name}/rotate"),
                    data,
                }
            })
            .collect()
    }
}

fn list(names: Vec<String>) -> Result<Response, LogicalError> {
    if names.is_empty() {
        return Err(LogicalError::NotFound);
    }
    Ok(Response::list(names))
}

fn openid_configuration(iss: &str) -> Value {
    json!({
        "issuer": iss,
        "jwks_uri": format!("{iss}/.well-known/keys"),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algorithm_names(),
        "token_endpoint": format!("{iss}/token"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    })
}

// ---- keys -----------------------------------------------------------------

/// The key's settings, typed by the key route's schema.
fn key_params(data: &Map<String, Value>) -> Result<keys::KeyParams, LogicalError> {
    let f = KEY_ROUTE.parse(data)?;
    let rotation_period = f.u64("rotation_period");
    if rotation_period == Some(0) {
        return Err(LogicalError::BadRequest(
            "rotation_period must be at least one second".into(),
        ));
    }
    Ok(keys::KeyParams {
        rotation_period,
        verification_ttl: f.u64("verification_ttl"),
        allowed_client_ids: f.strings("allowed_client_ids"),
        algorithm: match f.string("algorithm") {
            None | Some("") => None,
            Some(a) => Some(jwt::SigningAlgorithm::parse(a).ok_or_else(|| {
                LogicalError::BadRequest(format!(
                    "unknown signing algorithm \"{a}\": use one of {}",
                    algorithm_names().join(", ")
                ))
            })?),
        },
    })
}

fn algorithm_names() -> Vec<&'static str> {
    jwt::ALGORITHMS.iter().map(|a| a.as_str()).collect()
}

fn read_key(req: &LogicalRequest<'_>, name: &str) -> Result<Response, LogicalError> {
    match keys::load(req.storage, name)? {
        Some(k) => Ok(Response::data(k.describe())),
        None => Err(LogicalError::NotFound),
    }
}

fn write_key(
    id: &IdentityBackend,
    req: &LogicalRequest<'_>,
    name: &str,
) -> Result<Response, LogicalError> {
    let params = key_params(req.data)?;
    let now = req.clock.unix();
    let _g = id.lock();
    let key = match keys::load(req.storage, name)? {
        Some(mut k) => {
            k.update(params, now)?;
            k
        }
        None => keys::NamedKey::new(params, now)?,
    };
    // A role's tokens must stay verifiable for their whole life.
    for (role_name, role) in roles::all(req.storage)? {
        if role.key == name && role.ttl > key.verification_ttl {
            return Err(LogicalError::BadRequest(format!(
                "verification_ttl cannot be shorter than the ttl of role \"{role_name}\" ({}s), which uses this key",
                role.ttl
            )));
        }
    }
    keys::save(req.storage, name, &key)?;
    id.next_due.store(0, Ordering::SeqCst);
    Ok(Response::empty())
}

fn delete_key(
    id: &IdentityBackend,
    req: &LogicalRequest<'_>,
    name: &str,
) -> Result<Response, LogicalError> {
    let _g = id.lock();
    let users: Vec<String> = roles::all(req.storage)?
        .into_iter()
        .filter(|(_, r)| r.key == name)
        .map(|(n, _)| n)
        .collect();
    if !users.is_empty() {
        return Err(LogicalError::BadRequest(format!(
            "unable to delete key \"{name}\" because it is currently referenced by these roles: {}",
            users.join(", ")
        )));
    }
    keys::delete(req.storage, name)?;
    Ok(Response::empty())
}

fn rotate_key(
    id: &IdentityBackend,
    req: &LogicalRequest<'_>,
    name: &str,
) -> Result<Response, LogicalError> {
    let ttl = fields::opt_duration(req.data, "verification_ttl")?;
    let now = req.clock.unix();
    let _g = id.lock();
    let Some(mut key) = keys::load(req.storage, name)? else {
        return Err(LogicalError::BadRequest(format!(
            "no named key found at \"{name}\""
        )));
    };
    key.rotate(now, ttl)?;
    keys::save(req.storage, name, &key)?;
    id.next_due.store(0, Ordering::SeqCst);
    tracing::info!(key = %name, kid = %key.current, "identity signing key rotated");
    Ok(Response::empty())
}

// ---- roles ----------------------------------------------------------------

fn read_role(req: &LogicalRequest<'_>, name: &str) -> Result<Response, LogicalError> {
    match roles::load(req.storage, name)? {
        Some(r) => Ok(Response::data(r.describe())),
        None => Err(LogicalError::NotFound),
    }
}

fn write_role(
    id: &IdentityBackend,
    req: &LogicalRequest<'_>,
    name: &str,
) -> Result<Response, LogicalError> {
    let _g = id.lock();
    let existing = roles::load(req.storage, name)?;
    let key_name = match (fields::opt_string(req.data, "key")?, &existing) {
        (Some(k), _) if !k.is_empty() => k,
        (_, Some(r)) => r.key.clone(),
        _ => {
            return Err(LogicalError::BadRequest(
                "the key parameter is required".into(),
            ))
        }
    };
    let Some(key) = keys::load(req.storage, check_name(&key_name)?)? else {
        return Err(LogicalError::BadRequest(format!(
            "key \"{key_name}\" does not exist"
        )));
    };
    let ttl = fields::opt_duration(req.data, "ttl")?
        .or(existing.as_ref().map(|r| r.ttl))
        .unwrap_or(keys::DEFAULT_PERIOD);
    if ttl > key.verification_ttl {
        return Err(LogicalError::BadRequest(format!(
            "a role's token ttl ({ttl}s) cannot be longer than the verification_ttl of its key ({}s)",
            key.verification_ttl
        )));
    }
    let client_id = match fields::opt_string(req.data, "client_id")? {
        Some(c) if !c.is_empty() => c,
        _ => existing
            .as_ref()
            .map(|r| r.client_id.clone())
            .unwrap_or_else(roles::new_client_id),
    };
    let template = if req.data.contains_key("template") {
        roles::normalize_template(req.data.get("template"))?
    } else {
        existing
            .as_ref()
            .map(|r| r.template.clone())
            .unwrap_or_default()
    };
    let scopes = match fields::opt_string_list(req.data, "scopes")? {
        Some(list) => {
            for s in &list {
                if s.is_empty()
                    || !s
                        .chars()
                        .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
                {
                    return Err(LogicalError::BadRequest(format!(
                        "invalid scope \"{s}\": scopes are printable ASCII without spaces, quotes or backslashes"
                    )));
                }
            }
            list
        }
        None => existing
            .as_ref()
            .map(|r| r.scopes.clone())
            .unwrap_or_default(),
    };
    let role = roles::Role {
        key: key_name,
        ttl,
        client_id,
        template,
        scopes,
    };
    roles::save(req.storage, name, &role)?;
    Ok(Response::empty())
}

// ---- tokens ---------------------------------------------------------------

fn issue_token(
    id: &IdentityBackend,
    req: &LogicalRequest<'_>,
    role_name: &str,
) -> Result<Response, LogicalError> {
    let Some(role) = roles::load(req.storage, role_name)? else {
        return Err(LogicalError::BadRequest(format!(
            "role \"{role_name}\" not found"
        )));
    };
    let now = req.clock.unix();
    let Some(key) = keys::load(req.storage, &role.key)? else {
        return Err(LogicalError::BadRequest(format!(
            "key \"{}\" not found",
            role.key
        )));
    };
    if !key.allows(&role.client_id) {
        return Err(LogicalError::BadRequest(format!(
            "the key \"{}\" does not list the role's client_id in allowed_client_ids",
            role.key
        )));
    }
    let caller = req.caller;
    let mut claims = roles::render(&role.template, caller);
    claims.insert("iss".into(), json!(id.issuer_in(req.storage)?));
    claims.insert("sub".into(), json!(caller.accessor));
    claims.insert("aud".into(), json!(role.client_id));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now.saturating_add(role.ttl as i64)));
    claims.insert("namespace".into(), json!("root"));
    claims
        .entry("policies")
        .or_insert_with(|| json!(caller.policies));
    claims
        .entry("metadata")
        .or_insert_with(|| Value::Object(caller.metadata.clone()));
    let token = key.current()?.sign(&claims)?;
    let mut data = Map::new();
    data.insert("token".into(), json!(token));
    data.insert("client_id".into(), json!(role.client_id));
    data.insert("ttl".into(), json!(role.ttl));
    Ok(Response::data(data))
}

/// An OAuth2 client that authenticated for a client-credentials grant
/// (RFC 6749 §4.4), as the core verified it: the client's id and what its
/// credential grants.
pub struct GrantClient {
    /// The OAuth2 `client_id` (`sub` of the token).
    pub client_id: String,
    /// The identity role whose key and settings issue the token.
    pub role: String,
    pub policies: Vec<String>,
    pub metadata: Map<String, Value>,
}

/// A granted access token.
pub struct Grant {
    pub access_token: String,
    pub expires_in: u64,
    /// The granted scopes, space-separated ("" for none).
    pub scope: String,
}

/// Why a client-credentials grant was refused (RFC 6749 §5.2).
#[derive(Debug, PartialEq, Eq)]
pub enum GrantError {
    /// No identity role for the client.
    UnauthorizedClient,
    /// A requested scope is not among the role's.
    InvalidScope(String),
    /// Storage or a stored key failed.
    Server(String),
}

impl IdentityBackend {
    /// Issues an access token for `client` with the identity role it
    /// names, for `scope` (space-separated; each must be one of the
    /// role's `scopes`). The token carries `scope` when any was granted.
    pub fn grant_client_credentials(
        &self,
        storage: &StorageView,
        now: i64,
        client: &GrantClient,
        scope: Option<&str>,
    ) -> Result<Grant, GrantError> {
        let server = |e: LogicalError| GrantError::Server(e.to_string());
        let Ok(name) = check_name(&client.role) else {
            return Err(GrantError::UnauthorizedClient);
        };
        let role = roles::load(storage, name)
            .map_err(server)?
            .ok_or(GrantError::UnauthorizedClient)?;
        let mut granted: Vec<&str> = Vec::new();
        for s in scope.unwrap_or("").split(' ').filter(|s| !s.is_empty()) {
            if !role.scopes.iter().any(|r| r == s) {
                return Err(GrantError::InvalidScope(s.to_string()));
            }
            if !granted.contains(&s) {
                granted.push(s);
            }
        }
        let key = keys::load(storage, &role.key)
            .map_err(server)?
            .ok_or_else(|| GrantError::Server(format!("key \"{}\" not found", role.key)))?;
        if !key.allows(&role.client_id) {
            return Err(GrantError::UnauthorizedClient);
        }
        let caller = crate::logical::Caller {
            policies: client.policies.clone(),
            metadata: client.metadata.clone(),
            ..crate::logical::Caller::default()
        };
        let mut claims = roles::render(&role.template, &caller);
        claims.insert(
            "iss".into(),
            json!(self.issuer_in(storage).map_err(server)?),
        );
        claims.insert("sub".into(), json!(client.client_id));
        claims.insert("aud".into(), json!(role.client_id));
        claims.insert("iat".into(), json!(now));
        claims.insert("exp".into(), json!(now.saturating_add(role.ttl as i64)));
        claims.insert("namespace".into(), json!("root"));
        claims.insert("client_id".into(), json!(client.client_id));
        let scope = granted.join(" ");
        if !scope.is_empty() {
            claims.insert("scope".into(), json!(scope));
        }
        claims
            .entry("policies")
            .or_insert_with(|| json!(client.policies));
        let current = key.current().map_err(server)?;
        let access_token = current.sign(&claims).map_err(server)?;
        Ok(Grant {
            access_token,
            expires_in: role.ttl,
            scope,
        })
    }
}

/// Why a token is not active ("" when it is).
fn check_token(
    id: &IdentityBackend,
    storage: &StorageView,
    token: &str,
    client_id: Option<&str>,
    now: i64,
) -> Result<Result<(), String>, LogicalError> {
    let peeked = match jwt::peek(token) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let kid = peeked.kid.unwrap_or_default();
    let Some((alg, jwk)) = keys::find_public(storage, &kid, now)? else {
        return Ok(Err("unknown or expired signing key".into()));
    };
    let claims = match jwt::verify(token, &jwk, alg.jose()) {
        Ok(c) => c,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let c = &claims;
    match c.get("exp").and_then(Value::as_i64) {
        Some(exp) if exp > now => {}
        Some(_) => return Ok(Err("token is expired".into())),
        None => return Ok(Err("token has no expiry".into())),
    }
    if c.get("iat")
        .and_then(Value::as_i64)
        .is_some_and(|iat| iat > now + 60)
    {
        return Ok(Err("token is issued in the future".into()));
    }
    if c.get("iss").and_then(Value::as_str) != Some(id.issuer_in(storage)?.as_str()) {
        return Ok(Err("issuer does not match".into()));
    }
    if let Some(cid) = client_id {
        let aud_ok = match c.get("aud") {
            Some(Value::String(a)) => a == cid,
            Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(cid)),
            _ => false,
        };
        if !aud_ok {
            return Ok(Err("audience does not match client_id".into()));
        }
    }
    Ok(Ok(()))
}

fn introspect(id: &IdentityBackend, req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
    let token = fields::req_string(req.data, "token")?;
    let client_id = fields::opt_string(req.data, "client_id")?.filter(|c| !c.is_empty());
    let body = match check_token(
        id,
        req.storage,
        &token,
        client_id.as_deref(),
        req.clock.unix(),
    )? {
        Ok(()) => json!({"active": true}),
        Err(reason) => json!({"active": false, "error": reason}),
    };
    Ok(Response::raw(200, body))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::barrier::Barrier;
    use crate::logical::Caller;
    use crate::physical::InmemBackend;
    use crate::sdk::{Clock, ManualClock, MountPoint, SystemClock};
    use crate::seal::{new_unseal_key, SealConfig};

    fn view() -> StorageView {
        let barrier = Barrier::new(Arc::new(InmemBackend::new()));
        barrier
            .initialize(&new_unseal_key(), &SealConfig::new(1, 1).unwrap())
            .unwrap();
        barrier.view(&uuid::Uuid::new_v4().to_string())
    }

    fn backend_on(s: &StorageView) -> IdentityBackend {
        IdentityBackend::new(&MountContext {
            path: MOUNT_PATH.into(),
            kind: KIND.into(),
            storage: s.clone(),
            api_addr: None,
            clock: Arc::new(SystemClock),
            telemetry: Arc::new(crate::sdk::NoTelemetry),
        })
    }

    fn call(
        b: &IdentityBackend,
        s: &StorageView,
        op: Operation,
        path: &str,
        data: Value,
    ) -> Result<Response, LogicalError> {
        call_at(b, s, &SystemClock, op, path, data)
    }

    fn call_at(
        b: &IdentityBackend,
        s: &StorageView,
        clock: &dyn Clock,
        op: Operation,
        path: &str,
        data: Value,
    ) -> Result<Response, LogicalError> {
        let options = Map::new();
        let data = data.as_object().cloned().unwrap_or_default();
        let caller = Caller {
            accessor: "acc-1".into(),
            policies: vec!["default".into()],
            ..Caller::default()
        };
        b.handle(&LogicalRequest {
            operation: op,
            path,
            data: &data,
            storage: s,
            mount: MountPoint::new(MOUNT_PATH, KIND, &options),
            caller: &caller,
            clock,
        })
    }

    #[test]
    fn issue_and_introspect() {
        let s = view();
        let b = backend_on(&s);
        b.configure(Some("https://vault.example:8200/"));
        call(&b, &s, Operation::Update, "oidc/key/k", json!({})).unwrap();
        call(
            &b,
            &s,
            Operation::Update,
            "oidc/role/r",
            json!({"key": "k", "ttl": "1h"}),
        )
        .unwrap();
        let r = call(&b, &s, Operation::Read, "oidc/token/r", json!({})).unwrap();
        let d = r.data.unwrap();
        let token = d["token"].as_str().unwrap().to_string();
        let kid = jwt::peek(&token).unwrap().kid.unwrap();
        let (alg, jwk) = keys::find_public(&s, &kid, 0).unwrap().unwrap();
        assert_eq!(alg, jwt::SigningAlgorithm::RS256, "Vault's default");
        let claims = jwt::verify(&token, &jwk, alg.jose()).unwrap();
        assert_eq!(claims["iss"], "https://vault.example:8200/v1/identity/oidc");
        assert_eq!(claims["sub"], "acc-1");
        assert_eq!(claims["aud"], d["client_id"]);
        let active = |t: &str, cid: Value| {
            call(
                &b,
                &s,
                Operation::Update,
                "oidc/introspect",
                json!({"token": t, "client_id": cid}),
            )
            .unwrap()
            .raw
            .unwrap()["active"]
                .clone()
        };
        assert_eq!(active(&token, Value::Null), json!(true));
        assert_eq!(active(&token, d["client_id"].clone()), json!(true));
        assert_eq!(active(&token, json!("other")), json!(false));
        assert_eq!(active("x.y.z", Value::Null), json!(false));
        // unauthenticated paths are exactly the well-known documents
        let open: Vec<&str> = ROUTES
            .iter()
            .filter(|r| r.unauthenticated)
            .map(|r| r.pattern)
            .collect();
        assert_eq!(open, [WELL_KNOWN_KEYS, WELL_KNOWN_CONFIG]);
        let unauthenticated = |p| lookup(ROUTES, p).is_some_and(|m| m.route.unauthenticated);
        assert!(unauthenticated("oidc/.well-known/keys"));
        assert!(!unauthenticated("oidc/token/r"));
        assert!(!unauthenticated("oidc/introspect"));
    }

    #[test]
    fn reads_never_rotate_and_the_scheduler_does() {
        let s = view();
        let b = backend_on(&s);
        let clock = ManualClock::starting_now();
        let at = |op, path: &str, data| call_at(&b, &s, &clock, op, path, data);
        at(
            Operation::Update,
            "oidc/key/k",
            json!({"rotation_period": 60, "verification_ttl": 30}),
        )
        .unwrap();
        let stored = || keys::load(&s, "k").unwrap().unwrap();
        let first = stored().current.clone();
        clock.advance(std::time::Duration::from_secs(3600));
        // Well past the rotation and the verification window: reads (the
        // unauthenticated JWKS included) leave storage as it was.
        let before = s.scan("").unwrap();
        let jwks = at(Operation::Read, WELL_KNOWN_KEYS, json!({})).unwrap();
        assert_eq!(jwks.raw.unwrap()["keys"].as_array().unwrap().len(), 1);
        at(Operation::Read, "oidc/key/k", json!({})).unwrap();
        assert_eq!(stored().current, first);
        assert_eq!(s.scan("").unwrap(), before);
        // The scheduler's pass rotates it, once, and reports it for audit.
        let done = b.periodic(clock.now());
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].path, "oidc/key/k/rotate");
        assert_eq!(done[0].data["trigger"], "scheduled");
        let rotated = stored();
        assert_ne!(rotated.current, first);
        // Nothing to do until the old version leaves its window (30 s):
        // passes before that do not even read storage.
        let rotated_at = clock.unix();
        assert_eq!(b.next_due.load(Ordering::SeqCst), rotated_at + 30);
        assert!(b.periodic(clock.now()).is_empty());
        assert_eq!(stored().current, rotated.current);
        // Past the old version's window, the next pass drops it quietly.
        assert_eq!(stored().versions.len(), 2);
        clock.advance(std::time::Duration::from_secs(30));
        assert!(b.periodic(clock.now()).is_empty());
        assert_eq!(stored().versions.len(), 1);
        assert_eq!(b.next_due.load(Ordering::SeqCst), rotated_at + 60);
        // A key write makes the next pass look again.
        at(Operation::Update, "oidc/key/k2", json!({})).unwrap();
        assert_eq!(b.next_due.load(Ordering::SeqCst), 0);
        assert!(b.periodic(clock.now()).is_empty());
        assert_eq!(b.next_due.load(Ordering::SeqCst), rotated_at + 60);
    }

    #[test]
    fn issuer_belongs_to_the_mount_instance() {
        let configured = backend_on(&view());
        configured.configure(Some(" https://a.example:8200/ "));
        assert_eq!(
            configured.issuer(),
            "https://a.example:8200/v1/identity/oidc"
        );
        // The same mount loaded again (after a seal) starts from its own
        // configuration, not from what an earlier instance was told.
        let reloaded = backend_on(&view());
        assert_eq!(
            reloaded.issuer(),
            format!("{DEFAULT_API_ADDR}/v1/identity/oidc")
        );
        configured.configure(Some(""));
        assert_eq!(
            configured.issuer(),
            format!("{DEFAULT_API_ADDR}/v1/identity/oidc")
        );
    }

    #[test]
    fn the_configured_issuer_names_every_token() {
        let s = view();
        let b = backend_on(&s);
        let up = |path: &str, data| call(&b, &s, Operation::Update, path, data);
        for bad in [
            "vault.example",
            "ftp://vault.example",
            "https://",
            "https://vault.example/path",
            "https://vault.example:port",
            "https://user@vault.example",
        ] {
            assert!(
                matches!(
                    up("oidc/config", json!({ "issuer": bad })),
                    Err(LogicalError::BadRequest(_))
                ),
                "{bad}"
            );
        }
        up("oidc/config", json!({"issuer": "https://id.example:8443/"})).unwrap();
        let read = call(&b, &s, Operation::Read, "oidc/config", json!({})).unwrap();
        assert_eq!(read.data.unwrap()["issuer"], "https://id.example:8443");
        let iss = "https://id.example:8443/v1/identity/oidc";
        let conf = call(&b, &s, Operation::Read, WELL_KNOWN_CONFIG, json!({}))
            .unwrap()
            .raw
            .unwrap();
        assert_eq!(conf["issuer"], iss);
        assert_eq!(conf["jwks_uri"], format!("{iss}/.well-known/keys"));
        assert_eq!(conf["token_endpoint"], format!("{iss}/token"));
        assert_eq!(
            conf["id_token_signing_alg_values_supported"],
            json!(["RS256", "RS384", "RS512", "ES256", "ES384", "EdDSA"])
        );
        up("oidc/key/k", json!({"algorithm": "ES384"})).unwrap();
        assert!(up("oidc/key/bad", json!({"algorithm": "HS256"})).is_err());
        assert!(up("oidc/key/bad", json!({"algorithm": "none"})).is_err());
        up("oidc/role/r", json!({"key": "k"})).unwrap();
        let d = call(&b, &s, Operation::Read, "oidc/token/r", json!({}))
            .unwrap()
            .data
            .unwrap();
        let token = d["token"].as_str().unwrap();
        assert_eq!(
            jwt::peek(token).unwrap().alg,
            jsonwebtoken::Algorithm::ES384
        );
        let introspect = |t: &str| {
            call(
                &b,
                &s,
                Operation::Update,
                "oidc/introspect",
                json!({"token": t}),
            )
            .unwrap()
            .raw
            .unwrap()
        };
        assert_eq!(introspect(token)["active"], true);
        // A new issuer: tokens naming the old one are no longer this
        // issuer's.
        up("oidc/config", json!({"issuer": ""})).unwrap();
        let r = introspect(token);
        assert_eq!(r["active"], false);
        assert_eq!(r["error"], "issuer does not match");
    }

    #[test]
    fn routes() {
        assert!(matches!(
            route("oidc/key/a/rotate"),
            Some(Route::KeyRotate("a"))
        ));
        assert!(matches!(route("oidc/key/"), Some(Route::KeyList)));
        assert!(route("oidc/key/a/b").is_none());
        // Only the list folders end in '/': nothing is trimmed.
        for p in [
            "oidc/token/boss/",
            "oidc/role/boss/",
            "oidc/key/k/",
            "oidc/key",
        ] {
            assert!(route(p).is_none(), "{p}");
        }
        assert!(route("oidc/nope").is_none());
        assert!(check_name("../x").is_err());
    }
}
