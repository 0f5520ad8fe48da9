//! vault-rs: a secrets vault with a Vault-compatible HTTP API.
//!
//! # Layout
//! The layers, from the wire down (each module's own doc says what it owns
//! and what it must not touch):
//! - [`http`]: parses requests, maps errors to status codes; never touches storage.
//! - [`core`]: the request pipeline: sealed? → token → ACL → audit → router → backend.
//! - [`router`]: the mount tables (secrets engines, auth methods) and
//!   longest-prefix routing.
//! - [`logical`]: secrets engines behind the router: kv (v1, v2), cubbyhole,
//!   apikeys, identity, and the system backend (`sys/`).
//! - [`auth`]: the token store, AppRole and userpass.
//! - [`policy`]: HCL/JSON policies compiled into ACLs.
//! - [`expiration`]: leases, their time index, revocation on expiry.
//! - [`barrier`]: encrypts every value and every path; keyring by term.
//! - [`physical`]: untrusted key-value storage (sled, in-memory).
//! - [`seal`]: Shamir shares of the unseal key.
//! - [`audit`]: the audit broker (fails closed), devices, hash chain, verifier.
//! - [`sdk`]: the contract between the core and the backends (request,
//!   response, operation, lease and auth blocks, login outcome, declared
//!   routes with their field schemas) and the clock helpers; a leaf that
//!   names nothing of the crate but `crypto`. Each backend declares its
//!   routes (`LogicalBackend::routes`) and dispatches from them; the
//!   pipeline reads the same tables for unauthenticated paths, sudo and
//!   404/405, and `core::sys_routes` holds those of `sys/` and
//!   `auth/token/`.
//! - [`crypto`]: secret newtypes and primitives shared by the above.
//! - [`config`]: the server's HCL configuration file.
//! - [`server`]: `serve(options)` (what `main` calls) and
//!   `run(core, listener, tls, limits, max_request_size, shutdown)`.
//!
//! Import rules (checked by the test in `src/layout.rs`): secrets engines
//! and auth methods take the contract from [`sdk`], never from `core`, and
//! do not name `audit`, `http`, `policy` or `expiration`; nothing above the
//! barrier names `physical` outside its tests; `http` names neither
//! `barrier` nor `physical`; `audit` names neither `core` nor `auth` (the
//! core hands it flat records); no `static` holds mutable state (a mount's
//! state lives in its backend instance, built when the mount is loaded or
//! created and dropped with it; what mounts share, such as the Argon2
//! workers, is owned by the unsealed state and handed to them). Still to
//! untangle: the `sys/` handlers and the token store call into `core`.
#![forbid(unsafe_code)]

pub mod audit;
pub mod auth;
pub mod barrier;
pub mod config;
pub mod core;
pub mod crypto;
pub mod expiration;
pub mod http;
#[cfg(test)]
mod layout;
pub mod logical;
pub mod physical;
pub mod policy;
pub mod router;
pub mod sdk;
pub mod seal;
pub mod server;
mod server_tls;
