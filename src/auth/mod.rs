//! Authentication: the token store (every request's identity) and, later,
//! auth methods that log in and receive tokens from it.
//!
//! Owns: token entries, accessors, the parent/child tree, TTL arithmetic.
//! Must not touch: HTTP, the router, other mounts' storage.

pub mod approle;
pub mod cidr;
pub mod token;
pub mod tokenutil;
pub mod userpass;

use std::sync::Arc;

use crate::logical::{LogicalBackend, MountContext};

/// The auth method engine of a mount (made with `sys/auth`), by its type;
/// the token store is built in and not listed here.
pub fn backend_for(ctx: &MountContext) -> Option<Arc<dyn LogicalBackend>> {
    match ctx.entry.kind.as_str() {
        "approle" => Some(Arc::new(approle::AppRoleBackend::default())),
        "userpass" => Some(Arc::new(userpass::UserpassBackend::new())),
        _ => None,
    }
}
