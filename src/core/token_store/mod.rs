//! The token store, a part of the core: every request's identity.
//!
//! Owns: token entries, accessors, the parent/child tree, TTL arithmetic,
//! and the `auth/token/*` endpoints (`handlers`). Must not touch: HTTP,
//! the router, other mounts' storage.
//!
//! Tokens are `hvs.` + 24 random bytes in base62. Only HMAC-SHA256(salt,
//! token) is stored (the salt lives behind the barrier); the token itself
//! exists only in the client's hands and in the response that created it.
//!
//! Storage (the token store's view):
//! - `salt`: the HMAC key;
//! - `id/<hmac>`: the [`TokenEntry`];
//! - `accessor/<accessor>`: the entry's hmac;
//! - `parent/<parent hmac>/<child hmac>`: the tree, for cascading revocation.

mod entry;
mod error;
pub(crate) mod handlers;
mod store;

pub use entry::{TokenEntry, TokenParams, WRAPPING_POLICY};
pub use error::TokenError;
pub use store::{lease_id_of, TokenStore, SERVICE_TOKEN_LEN};

pub use store::TtlLimits;

/// The token TTL limits implied by the core configuration.
pub fn store_limits(c: &crate::core::CoreConfig) -> TtlLimits {
    TtlLimits {
        default_ttl: c.default_lease_ttl,
        max_ttl: c.max_lease_ttl,
    }
}
