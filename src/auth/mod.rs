//! Authentication: the token store (every request's identity) and, later,
//! auth methods that log in and receive tokens from it.
//!
//! Owns: token entries, accessors, the parent/child tree, TTL arithmetic.
//! Must not touch: HTTP, the router, other mounts' storage.

pub mod token;
