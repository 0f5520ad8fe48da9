//! The userpass auth method: users with a password (Argon2id) log in with
//! `login/:username {password}` and receive a token with their policies.
//!
//! Owns: the layout of a userpass mount's storage view:
//! ```text
//! user/<username>    UserEntry: PHC password hash + token settings
//! ```
//! Usernames are lower-cased, as in Vault. Must not touch: tokens (the core
//! issues them from the `LoginAuth` a login returns), other mounts, HTTP.
//! Passwords never leave this module except as hashes, and neither the
//! password nor its hash is ever returned, logged or put in an error.

mod password;

use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::auth::cidr;
use crate::auth::tokenutil::{Alias, TokenFields, TOKEN_FIELDS};
use crate::barrier::StorageView;
use crate::crypto::SecretString;
use crate::logical::{matched, LogicalBackend, LogicalError, LogicalRequest};
use crate::sdk;
use crate::sdk::route::{lookup, Matched};
use crate::sdk::MountPoint;
use crate::sdk::{Operation, Response};

/// Legacy names a user still accepts.
const ALIASES: &[Alias] = &[
    ("policies", "token_policies"),
    ("ttl", "token_ttl"),
    ("max_ttl", "token_max_ttl"),
    ("bound_cidrs", "token_bound_cidrs"),
    ("period", "token_period"),
];
/// Vault's answer to every failed login.
const INVALID: &str = "invalid username or password";

/// A stored user.
#[derive(Clone, Default, Serialize, Deserialize)]
struct UserEntry {
    /// PHC string of the Argon2id hash.
    password_hash: String,
    #[serde(flatten)]
    token: TokenFields,
}

impl std::fmt::Debug for UserEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserEntry")
            .field("password_hash", &"[REDACTED]")
            .field("token", &self.token)
            .finish()
    }
}

pub use password::Hashers;

/// The userpass engine of one mount. Users are in storage; the instance
/// holds the hashing workers the unsealed core hands it
/// ([`UserpassBackend::use_hashers`]), shared by every userpass mount.
pub struct UserpassBackend {
    hashers: OnceLock<Arc<Hashers>>,
}

impl UserpassBackend {
    /// The engine, without hashing workers until the core hands them over.
    pub fn new() -> Self {
        UserpassBackend {
            hashers: OnceLock::new(),
        }
    }

    /// Hands the core's hashing workers to this mount and starts them now
    /// rather than on the first login. Only the first call counts.
    pub fn use_hashers(&self, hashers: Arc<Hashers>) {
        let _ = self.hashers.get_or_init(|| hashers).workers();
    }

    fn hashers(&self) -> Result<&Hashers, LogicalError> {
        self.hashers
            .get()
            .map(Arc::as_ref)
            .ok_or_else(|| LogicalError::Internal("password hashing workers unavailable".into()))
    }
}

impl Default for UserpassBackend {
    fn default() -> Self {
        Self::new()
    }
}

enum Route<'a> {
    Users,
    User(&'a str),
    Password(&'a str),
    Policies(&'a str),
    Login(&'a str),
}

const USERS: &str = "users";
const USERS_FOLDER: &str = "users/";
const USER: &str = "users/:username";
const PASSWORD: &str = "users/:username/password";
const POLICIES: &str = "users/:username/policies";
const LOGIN: &str = "login/:username";

const WRITE: &[Operation] = &[Operation::Create, Operation::Update];

/// The method's routes. Only the folder "users/" ends in '/' (see
/// approle's table).
const ROUTES: &[sdk::Route] = &[
    sdk::Route::list(USERS),
    sdk::Route::list(USERS_FOLDER),
    sdk::Route::new(
        USER,
        &[
            Operation::Read,
            Operation::Create,
            Operation::Update,
            Operation::Delete,
        ],
    )
    .fields(TOKEN_FIELDS),
    sdk::Route::new(PASSWORD, WRITE),
    sdk::Route::new(POLICIES, WRITE),
    sdk::Route::new(LOGIN, WRITE).unauthenticated(),
];

/// The typed route of a matched path.
fn typed<'a>(m: &Matched<'_, 'a>) -> Option<Route<'a>> {
    let name = m.get("username");
    Some(match m.pattern() {
        USERS | USERS_FOLDER => Route::Users,
        USER => Route::User(name),
        PASSWORD => Route::Password(name),
        POLICIES => Route::Policies(name),
        LOGIN => Route::Login(name),
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

/// A username, lower-cased; `users/` paths cannot hold a slash anyway.
fn normalize(name: &str) -> Result<String, LogicalError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 4096 || name.chars().any(char::is_control) {
        return Err(LogicalError::BadRequest("invalid username".into()));
    }
    Ok(name.to_lowercase())
}

/// A username in a management path: it must already be in its stored
/// (lower-case) form, because policies match paths case-sensitively.
fn managed(name: &str) -> Result<String, LogicalError> {
    let n = normalize(name)?;
    if n != name {
        return Err(LogicalError::BadRequest(
            "usernames must be lower case, without surrounding spaces".into(),
        ));
    }
    Ok(n)
}

fn user_key(name: &str) -> String {
    format!("user/{name}")
}

fn load(s: &StorageView, name: &str) -> Result<Option<UserEntry>, LogicalError> {
    Ok(s.get_json::<UserEntry>(&user_key(name))?)
}

/// The `password` field as a secret (`None` when absent or empty).
fn password_field(data: &Map<String, Value>) -> Result<Option<SecretString>, LogicalError> {
    match data.get("password") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(SecretString::new(s.clone()))),
        Some(_) => Err(LogicalError::BadRequest(
            "field \"password\" must be a string".into(),
        )),
    }
}

impl LogicalBackend for UserpassBackend {
    fn handle(&self, req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
        let m = matched(ROUTES, req)?;
        let Some(r) = typed(&m) else {
            return Err(LogicalError::UnsupportedPath(req.path.to_string()));
        };
        let op = req.operation;
        match r {
            Route::Users if op == Operation::List => list(req),
            Route::User(name) => match op {
                Operation::Read => read(req, name),
                Operation::Delete => delete(req, name),
                _ if is_write(op) => write(self.hashers()?, req, name),
                _ => Err(LogicalError::UnsupportedOperation),
            },
            Route::Password(name) if is_write(op) => set_password(self.hashers()?, req, name),
            Route::Policies(name) if is_write(op) => set_policies(req, name),
            Route::Login(name) if is_write(op) => login(self.hashers()?, req, name),
            _ => Err(LogicalError::UnsupportedOperation),
        }
    }

    fn exists(&self, req: &LogicalRequest<'_>) -> Result<Option<bool>, LogicalError> {
        match route(req.path) {
            Some(Route::User(name)) => match managed(name) {
                Ok(n) => Ok(Some(req.storage.get(&user_key(&n))?.is_some())),
                Err(_) => Ok(Some(false)),
            },
            _ => Ok(None),
        }
    }

    fn routes(&self, _mount: MountPoint<'_>) -> &'static [sdk::Route] {
        ROUTES
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    /// The user name of `login/:name`, as the login normalises it.
    fn login_alias(&self, req: &LogicalRequest<'_>) -> Option<String> {
        match route(req.path) {
            Some(Route::Login(name)) => normalize(name).ok(),
            _ => None,
        }
    }
}

/// LIST users.
fn list(req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
    let keys = req.storage.list("user/")?;
    if keys.is_empty() {
        return Err(LogicalError::NotFound);
    }
    Ok(Response::list(keys))
}

/// GET users/:name — the token settings; never the password or its hash.
fn read(req: &LogicalRequest<'_>, name: &str) -> Result<Response, LogicalError> {
    let name = managed(name)?;
    let user = load(req.storage, &name)?.ok_or(LogicalError::NotFound)?;
    let mut m = Map::new();
    user.token.populate(&mut m);
    user.token.populate_legacy(&mut m, ALIASES);
    Ok(Response::data(m))
}

/// POST users/:name — create (password required) or update.
fn write(
    hashers: &Hashers,
    req: &LogicalRequest<'_>,
    name: &str,
) -> Result<Response, LogicalError> {
    let name = managed(name)?;
    let existing = load(req.storage, &name)?;
    let password = password_field(req.data)?;
    if existing.is_none() && password.is_none() {
        return Err(LogicalError::BadRequest("missing password".into()));
    }
    let mut user = existing.unwrap_or_default();
    user.token.update(req.data, ALIASES)?;
    if let Some(pw) = password {
        user.password_hash = password::hash(hashers, &pw)?;
    }
    req.storage.put_json(&user_key(&name), &user)?;
    Ok(Response::empty())
}

/// DELETE users/:name.
fn delete(req: &LogicalRequest<'_>, name: &str) -> Result<Response, LogicalError> {
    let name = managed(name)?;
    req.storage.delete(&user_key(&name))?;
    Ok(Response::empty())
}

fn existing_user(
    req: &LogicalRequest<'_>,
    name: &str,
) -> Result<(String, UserEntry), LogicalError> {
    let name = managed(name)?;
    let user = load(req.storage, &name)?
        .ok_or_else(|| LogicalError::BadRequest("username does not exist".into()))?;
    Ok((name, user))
}

/// POST users/:name/password {password}.
fn set_password(
    hashers: &Hashers,
    req: &LogicalRequest<'_>,
    name: &str,
) -> Result<Response, LogicalError> {
    let password = password_field(req.data)?
        .ok_or_else(|| LogicalError::BadRequest("missing password".into()))?;
    let (name, mut user) = existing_user(req, name)?;
    user.password_hash = password::hash(hashers, &password)?;
    req.storage.put_json(&user_key(&name), &user)?;
    Ok(Response::empty())
}

/// POST users/:name/policies {token_policies | policies}.
fn set_policies(req: &LogicalRequest<'_>, name: &str) -> Result<Response, LogicalError> {
    let (name, mut user) = existing_user(req, name)?;
    let mut only = Map::new();
    for key in ["token_policies", "policies"] {
        if let Some(v) = req.data.get(key) {
            only.insert(key.to_string(), v.clone());
        }
    }
    if only.is_empty() {
        return Err(LogicalError::BadRequest("missing token_policies".into()));
    }
    user.token.update(&only, ALIASES)?;
    req.storage.put_json(&user_key(&name), &user)?;
    Ok(Response::empty())
}

/// POST login/:name {password}. One Argon2 verification whether or not
/// the user exists; the same 400 for an unknown user and a wrong password.
fn login(
    hashers: &Hashers,
    req: &LogicalRequest<'_>,
    name: &str,
) -> Result<Response, LogicalError> {
    let password = password_field(req.data)?
        .ok_or_else(|| LogicalError::BadRequest("missing password".into()))?;
    let name = normalize(name).map_err(|_| LogicalError::BadRequest(INVALID.into()))?;
    let user = load(req.storage, &name)?;
    let matches = match &user {
        Some(u) => password::verify(hashers, &password, &u.password_hash)?,
        None => {
            password::verify_unknown(hashers, &password)?;
            false
        }
    };
    let Some(user) = user.filter(|_| matches) else {
        return Err(LogicalError::InvalidCredentials(INVALID.into()));
    };
    if !cidr::allowed(&user.token.token_bound_cidrs, req.caller.remote_addr) {
        return Err(LogicalError::PermissionDenied);
    }
    let mut auth = user.token.login_auth();
    auth.display_name = name.clone();
    auth.metadata
        .insert("username".into(), Value::from(name.clone()));
    auth.internal.insert("username".into(), Value::from(name));
    Ok(Response {
        login: Some(auth),
        ..Response::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert!(matches!(route("users/"), Some(Route::Users)));
        assert!(matches!(route("users/Bob"), Some(Route::User("Bob"))));
        assert!(matches!(
            route("users/bob/password"),
            Some(Route::Password("bob"))
        ));
        assert!(matches!(
            route("users/bob/policies"),
            Some(Route::Policies("bob"))
        ));
        assert!(matches!(route("login/bob"), Some(Route::Login("bob"))));
        assert!(route("login/").is_none());
        assert!(route("login/a/b").is_none());
        assert!(route("users/bob/other").is_none());
        let unauthenticated = |p| lookup(ROUTES, p).is_some_and(|m| m.route.unauthenticated);
        assert!(unauthenticated("login/bob"));
        assert!(!unauthenticated("users/bob"));
        assert!(!unauthenticated("login/a/b"));
    }

    #[test]
    fn the_route_table_is_sound() {
        assert_eq!(sdk::route::overlaps(ROUTES), Vec::<String>::new());
        for r in ROUTES {
            let path = r.pattern.replace(":username", "bob");
            assert!(route(&path).is_some(), "{}", r.pattern);
        }
    }

    #[test]
    fn mounts_hash_on_the_workers_the_core_hands_them() {
        let shared = Arc::new(Hashers::default());
        let (a, b) = (UserpassBackend::new(), UserpassBackend::new());
        a.use_hashers(shared.clone());
        b.use_hashers(shared.clone());
        b.use_hashers(Arc::new(Hashers::default()));
        assert!(Arc::ptr_eq(a.hashers.get().unwrap(), &shared));
        assert!(Arc::ptr_eq(b.hashers.get().unwrap(), &shared));
        // Without workers, a request that needs one is refused, not hung.
        assert!(matches!(
            UserpassBackend::new().hashers(),
            Err(LogicalError::Internal(_))
        ));
    }

    #[test]
    fn debug_hides_the_hash() {
        let u = UserEntry {
            password_hash: "$argon2id$secret".into(),
            token: TokenFields::default(),
        };
        assert!(!format!("{u:?}").contains("argon2id"));
    }
}
