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

use crate::logical::{LogicalBackend, LogicalError, LogicalRequest};
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

/// The folders LIST may name with a trailing '/'.
fn is_list_folder(path: &str) -> bool {
    path == "role"
        || path
            .strip_prefix("role/")
            .and_then(|rest| rest.strip_suffix("/secret-id"))
            .is_some_and(|name| !name.is_empty() && !name.contains('/'))
}

/// The route of `path` for `op`. Only a list may name a folder, with the
/// trailing '/' the pipeline gives every list: "role/x/secret-id/" must not
/// reach the writer of "role/x/secret-id", or a policy on the latter could be
/// sidestepped.
fn route(path: &str, op: Operation) -> Option<Route<'_>> {
    let path = match path.strip_suffix('/') {
        Some(folder) if op == Operation::List && is_list_folder(folder) => folder,
        Some(_) => return None,
        None => path,
    };
    match path {
        "login" => return Some(Route::Login),
        "role" => return Some(Route::Roles),
        "tidy/secret-id" => return Some(Route::Tidy),
        _ => {}
    }
    let rest = path.strip_prefix("role/")?;
    let (name, sub) = match rest.split_once('/') {
        Some((name, sub)) => (name, Some(sub)),
        None => (rest, None),
    };
    if name.is_empty() {
        return None;
    }
    Some(match sub {
        None => Route::Role(name),
        Some("role-id") => Route::RoleId(name),
        Some("secret-id") => Route::SecretIds(name),
        Some("custom-secret-id") => Route::CustomSecretId(name),
        Some("secret-id/lookup") => Route::SecretIdLookup(name),
        Some("secret-id/destroy") => Route::SecretIdDestroy(name),
        Some("secret-id-accessor/lookup") => Route::AccessorLookup(name),
        Some("secret-id-accessor/destroy") => Route::AccessorDestroy(name),
        Some(field) if role::is_field_endpoint(field) => Route::RoleField(name, field),
        Some(_) => return None,
    })
}

fn is_write(op: Operation) -> bool {
    matches!(op, Operation::Create | Operation::Update)
}

impl LogicalBackend for AppRoleBackend {
    fn handle(&self, req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
        let Some(r) = route(req.path, req.operation) else {
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

    fn unauthenticated(&self, path: &str) -> bool {
        path == "login"
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
}
