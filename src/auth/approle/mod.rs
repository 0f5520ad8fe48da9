//! The AppRole auth method: machines log in with a `role_id` (which role)
//! and a `secret_id` (a short-lived, possibly single-use credential issued
//! for that role) and receive a token with the role's policies.
//!
//! Owns: the layout of an approle mount's storage view, and nothing else:
//! ```text
//! salt                                 per-mount HMAC key (32 random bytes)
//! role/<name>                          RoleEntry (name lower-cased)
//! role_id/<hmac(role_id)>              {name}: role_id → role index
//! secret_id/<name>/<hmac(secret_id)>   SecretIdEntry (never the secret_id)
//! accessor/<hmac(accessor)>            {secret_id_hmac, role}: accessor index
//! ```
//! Must not touch: tokens (the core issues them from the `LoginAuth` a
//! login returns), other mounts, HTTP. Secret ids and role ids never appear
//! in storage keys, errors or logs, only their HMACs.
//!
//! Concurrency: every change to a role or its secret ids holds that role's
//! lock (striped by name), so a secret id with `num_uses = 1` logs in
//! exactly once even under concurrent logins.

mod login;
mod role;
mod salt;
mod secret_id;

use std::sync::{Mutex, MutexGuard};

use crate::logical::{matched, LogicalBackend, LogicalError, LogicalRequest};
use crate::sdk;
use crate::sdk::route::{find, Field, FieldType, Matched, ALL_OPERATIONS};
use crate::sdk::MountPoint;
use crate::sdk::{Operation, Response};

/// How many lock stripes serialize per-role changes.
const LOCK_STRIPES: usize = 16;

/// The AppRole engine of one mount (lives as long as the mount is unsealed).
pub struct AppRoleBackend {
    salt: salt::SaltCache,
    role_locks: Vec<Mutex<()>>,
    /// Serializes role_id changes across roles (uniqueness of the index).
    role_id_lock: Mutex<()>,
}

impl Default for AppRoleBackend {
    fn default() -> Self {
        AppRoleBackend {
            salt: salt::SaltCache::default(),
            role_locks: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
            role_id_lock: Mutex::new(()),
        }
    }
}

impl AppRoleBackend {
    /// The lock of the role `name` (already lower-cased).
    fn lock_role(&self, name: &str) -> MutexGuard<'_, ()> {
        let stripe = name
            .bytes()
            .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize))
            % self.role_locks.len();
        self.role_locks[stripe]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn lock_role_ids(&self) -> MutexGuard<'_, ()> {
        self.role_id_lock.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A parsed request path, relative to the mount.
enum Route<'a> {
    Login,
    Roles,
    Role(&'a str),
    RoleId(&'a str),
    SecretIds(&'a str),
    CustomSecretId(&'a str),
    SecretIdLookup(&'a str),
    SecretIdDestroy(&'a str),
    AccessorLookup(&'a str),
    AccessorDestroy(&'a str),
    RoleField(&'a str, &'a str),
    Tidy,
}

const LOGIN: &str = "login";
const ROLES: &str = "role";
const ROLES_FOLDER: &str = "role/";
const TIDY: &str = "tidy/secret-id";
const ROLE: &str = "role/:role_name";
const ROLE_ID: &str = "role/:role_name/role-id";
const SECRET_IDS: &str = "role/:role_name/secret-id";
const SECRET_IDS_FOLDER: &str = "role/:role_name/secret-id/";
const CUSTOM_SECRET_ID: &str = "role/:role_name/custom-secret-id";
const SECRET_ID_LOOKUP: &str = "role/:role_name/secret-id/lookup";
const SECRET_ID_DESTROY: &str = "role/:role_name/secret-id/destroy";
const ACCESSOR_LOOKUP: &str = "role/:role_name/secret-id-accessor/lookup";
const ACCESSOR_DESTROY: &str = "role/:role_name/secret-id-accessor/destroy";
/// The one-field endpoints are `role/:role_name/<segment>`.
const FIELD_PREFIX: &str = "role/:role_name/";

const WRITE: &[Operation] = &[Operation::Create, Operation::Update];

/// The settings of a role (their current names): its own, then the token
/// settings of `tokenutil::TOKEN_FIELDS`.
const ROLE_FIELDS: &[Field] = &[
    Field::new("bind_secret_id", FieldType::Bool),
    Field::new("secret_id_bound_cidrs", FieldType::StringList),
    Field::new("secret_id_num_uses", FieldType::Int),
    Field::new("secret_id_ttl", FieldType::Duration),
    Field::new("local_secret_ids", FieldType::Bool),
    Field::new("role_id", FieldType::String),
    Field::new("token_policies", FieldType::StringList),
    Field::new("token_bound_cidrs", FieldType::StringList),
    Field::new("token_ttl", FieldType::Duration),
    Field::new("token_max_ttl", FieldType::Duration),
    Field::new("token_explicit_max_ttl", FieldType::Duration),
    Field::new("token_period", FieldType::Duration),
    Field::new("token_num_uses", FieldType::Int),
    Field::new("token_no_default_policy", FieldType::Bool),
    Field::new("token_type", FieldType::String),
];
const WRITE_OR_DELETE: &[Operation] = &[Operation::Create, Operation::Update, Operation::Delete];

/// A one-field endpoint (see `role::FIELD_ENDPOINTS`): its handler decides
/// per operation.
const fn field_route(pattern: &'static str) -> sdk::Route {
    sdk::Route::new(pattern, ALL_OPERATIONS)
}

/// The method's routes. Only a list may name a folder, with the trailing
/// '/' the pipeline gives every list: "role/x/secret-id/" must not reach
/// the writer of "role/x/secret-id", or a policy on the latter could be
/// sidestepped.
const ROUTES: &[sdk::Route] = &[
    sdk::Route::new(LOGIN, WRITE).unauthenticated(),
    sdk::Route::list(ROLES),
    sdk::Route::list(ROLES_FOLDER),
    sdk::Route::new(TIDY, WRITE),
    sdk::Route::new(
        ROLE,
        &[
            Operation::Read,
            Operation::Create,
            Operation::Update,
            Operation::Delete,
        ],
    )
    .fields(ROLE_FIELDS),
    sdk::Route::new(
        ROLE_ID,
        &[Operation::Read, Operation::Create, Operation::Update],
    ),
    sdk::Route::new(
        SECRET_IDS,
        &[Operation::List, Operation::Create, Operation::Update],
    ),
    sdk::Route::list(SECRET_IDS_FOLDER),
    sdk::Route::new(CUSTOM_SECRET_ID, WRITE),
    sdk::Route::new(SECRET_ID_LOOKUP, WRITE),
    sdk::Route::new(SECRET_ID_DESTROY, WRITE_OR_DELETE),
    sdk::Route::new(ACCESSOR_LOOKUP, WRITE),
    sdk::Route::new(ACCESSOR_DESTROY, WRITE_OR_DELETE),
    field_route("role/:role_name/policies"),
    field_route("role/:role_name/secret-id-num-uses"),
    field_route("role/:role_name/secret-id-ttl"),
    field_route("role/:role_name/token-num-uses"),
    field_route("role/:role_name/token-ttl"),
    field_route("role/:role_name/token-max-ttl"),
    field_route("role/:role_name/bind-secret-id"),
    field_route("role/:role_name/secret-id-bound-cidrs"),
    field_route("role/:role_name/bound-cidr-list"),
    field_route("role/:role_name/token-bound-cidrs"),
    field_route("role/:role_name/period"),
    field_route("role/:role_name/local-secret-ids"),
];

/// The typed route of a matched path.
fn typed<'a>(m: &Matched<'_, 'a>) -> Option<Route<'a>> {
    let name = m.get("role_name");
    Some(match m.pattern() {
        LOGIN => Route::Login,
        ROLES | ROLES_FOLDER => Route::Roles,
        TIDY => Route::Tidy,
        ROLE => Route::Role(name),
        ROLE_ID => Route::RoleId(name),
        SECRET_IDS | SECRET_IDS_FOLDER => Route::SecretIds(name),
        CUSTOM_SECRET_ID => Route::CustomSecretId(name),
        SECRET_ID_LOOKUP => Route::SecretIdLookup(name),
        SECRET_ID_DESTROY => Route::SecretIdDestroy(name),
        ACCESSOR_LOOKUP => Route::AccessorLookup(name),
        ACCESSOR_DESTROY => Route::AccessorDestroy(name),
        p => Route::RoleField(name, p.strip_prefix(FIELD_PREFIX)?),
    })
}

/// The route of `path` for `op`; `None` when the table has none.
fn route(path: &str, op: Operation) -> Option<Route<'_>> {
    find(ROUTES, path, op).ok().as_ref().and_then(typed)
}

fn is_write(op: Operation) -> bool {
    matches!(op, Operation::Create | Operation::Update)
}

impl LogicalBackend for AppRoleBackend {
    /// The `role_id` of a `login` request (Vault's alias for AppRole).
    fn login_alias(&self, req: &LogicalRequest<'_>) -> Option<String> {
        if req.path != "login" {
            return None;
        }
        crate::logical::fields::opt_string(req.data, "role_id")
            .ok()
            .flatten()
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
    }

    fn handle(&self, req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
        let m = matched(ROUTES, req)?;
        let Some(r) = typed(&m) else {
            return Err(LogicalError::UnsupportedPath(req.path.to_string()));
        };
        let op = req.operation;
        match r {
            Route::Login if is_write(op) => login::login(self, req),
            Route::Roles if op == Operation::List => role::list(req),
            Route::Role(name) => match op {
                Operation::Read => role::read(req, name),
                Operation::Delete => role::delete(self, req, name),
                _ if is_write(op) => role::write(self, req, name),
                _ => Err(LogicalError::UnsupportedOperation),
            },
            Route::RoleId(name) => match op {
                Operation::Read => role::read_role_id(req, name),
                _ if is_write(op) => role::write_role_id(self, req, name),
                _ => Err(LogicalError::UnsupportedOperation),
            },
            Route::RoleField(name, field) => role::field_endpoint(self, req, name, field),
            Route::SecretIds(name) => match op {
                Operation::List => secret_id::list(self, req, name),
                _ if is_write(op) => secret_id::generate(self, req, name, None),
                _ => Err(LogicalError::UnsupportedOperation),
            },
            Route::CustomSecretId(name) if is_write(op) => {
                secret_id::generate_custom(self, req, name)
            }
            Route::SecretIdLookup(name) if is_write(op) => secret_id::lookup(self, req, name),
            Route::SecretIdDestroy(name) if is_write(op) || op == Operation::Delete => {
                secret_id::destroy(self, req, name)
            }
            Route::AccessorLookup(name) if is_write(op) => {
                secret_id::accessor_lookup(self, req, name)
            }
            Route::AccessorDestroy(name) if is_write(op) || op == Operation::Delete => {
                secret_id::accessor_destroy(self, req, name)
            }
            Route::Tidy if is_write(op) => secret_id::tidy(self, req),
            _ => Err(LogicalError::UnsupportedOperation),
        }
    }

    fn exists(&self, req: &LogicalRequest<'_>) -> Result<Option<bool>, LogicalError> {
        match route(req.path, req.operation) {
            Some(Route::Role(name)) => Ok(Some(role::load(req.storage, name)?.is_some())),
            // Every other write is an update of something that exists (or
            // an action), as in Vault.
            _ => Ok(None),
        }
    }

    fn routes(&self, _mount: MountPoint<'_>) -> &'static [sdk::Route] {
        ROUTES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        use Operation::{List, Read, Update};
        assert!(matches!(route("login", Update), Some(Route::Login)));
        assert!(matches!(route("role/", List), Some(Route::Roles)));
        assert!(matches!(route("role/web", Read), Some(Route::Role("web"))));
        assert!(matches!(
            route("role/web/secret-id/", List),
            Some(Route::SecretIds("web"))
        ));
        assert!(matches!(
            route("role/web/secret-id", Update),
            Some(Route::SecretIds("web"))
        ));
        // The folder form is a list, never a write or a read.
        assert!(route("role/web/secret-id/", Update).is_none());
        assert!(route("role/", Read).is_none());
        assert!(route("role/web/", List).is_none());
        assert!(matches!(
            route("role/web/secret-id-accessor/destroy", Update),
            Some(Route::AccessorDestroy("web"))
        ));
        assert!(matches!(
            route("role/web/token-ttl", Read),
            Some(Route::RoleField("web", "token-ttl"))
        ));
        assert!(route("role/web/nope", Read).is_none());
        assert!(route("role//x", Read).is_none());
        assert!(route("other", Read).is_none());
    }

    #[test]
    fn the_route_table_is_sound() {
        assert_eq!(sdk::route::overlaps(ROUTES), Vec::<String>::new());
        // every route has its typed route
        for r in ROUTES {
            let path = r.pattern.replace(":role_name", "web");
            let m = sdk::route::lookup(ROUTES, &path).expect(r.pattern);
            assert!(typed(&m).is_some(), "{}", r.pattern);
        }
        // the one-field routes are exactly the role's one-field endpoints
        let fields: Vec<&str> = ROUTES
            .iter()
            .filter(|r| r.operations == ALL_OPERATIONS)
            .filter_map(|r| r.pattern.strip_prefix(FIELD_PREFIX))
            .collect();
        assert!(
            fields.iter().all(|seg| role::is_field_endpoint(seg)),
            "{fields:?}"
        );
        assert_eq!(fields.len(), role::FIELD_ENDPOINTS.len());
        assert_eq!(
            ROUTES
                .iter()
                .filter(|r| r.unauthenticated)
                .map(|r| r.pattern)
                .collect::<Vec<_>>(),
            [LOGIN]
        );
        // a role carries every token setting, typed as tokenutil types it
        for t in crate::auth::tokenutil::TOKEN_FIELDS {
            let f = ROLE_FIELDS.iter().find(|f| f.name == t.name).expect(t.name);
            assert_eq!(f.kind, t.kind, "{}", t.name);
        }
    }
}
