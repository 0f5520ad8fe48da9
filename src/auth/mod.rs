//! Auth methods (AppRole, userpass, JWT): they check credentials and answer a
//! login with what the token store (a part of the core) should issue.
//!
//! Owns: each method's roles, users, secret IDs and their storage, the
//! token fields they share (`tokenutil`), CIDR checks.
//! Must not touch: the core, the token store, HTTP, the router, other
//! mounts' storage.

pub mod approle;
pub mod cidr;
pub mod jwt;
pub mod tokenutil;
pub mod userpass;

use std::sync::Arc;

use crate::logical::{LogicalBackend, MountContext};

/// The auth method engine of a mount (made with `sys/auth`), by its type;
/// the token store is built in and not listed here.
pub fn backend_for(ctx: &MountContext) -> Option<Arc<dyn LogicalBackend>> {
    match ctx.kind.as_str() {
        "approle" => Some(Arc::new(approle::AppRoleBackend::default())),
        "userpass" => Some(Arc::new(userpass::UserpassBackend::new())),
        jwt::KIND => Some(Arc::new(jwt::JwtAuthBackend::default())),
        _ => None,
    }
}
