//! vault-rs: a secrets vault with a Vault-compatible HTTP API.
//!
//! # Layout
//! The layers, from the wire down (each module's own doc says what it owns
//! and what it must not touch):
//! - [`http`]: parses requests, maps errors to status codes; never touches storage.
//!   Also serves the web UI's embedded assets at `/ui/` (`ui = true`), a
//!   client of the API like any other.
//! - [`core`]: the request pipeline: sealed? → token → ACL → audit → router
//!   → backend; the seal/rekey state machine ([`core::seal_state`]); the
//!   one scheduler of the unsealed state (`core::scheduler`: lease expiry
//!   and the mounts' `periodic` work, at the core clock's time); and the
//!   parts that act on the core itself: the system backend
//!   ([`core::system`], `sys/`) and the token store ([`core::token_store`],
//!   `auth/token/`); and the OAuth2 client-credentials grant
//!   ([`core::oauth2`], `identity/oidc/token`: an AppRole login that issues
//!   an identity token, no Vault token).
//! - [`router`]: the mount tables (secrets engines, auth methods) and
//!   longest-prefix routing.
//! - [`logical`]: secrets engines behind the router: kv (v1, v2), cubbyhole,
//!   apikeys, identity; the [`logical::LogicalBackend`] trait.
//! - [`auth`]: auth methods behind the router: AppRole, userpass and JWT
//!   (tokens of an outside issuer, checked against PEM keys or a JWKS URL).
//! - [`policy`]: HCL/JSON policies compiled into ACLs.
//! - [`expiration`]: leases and their time index (the core's scheduler
//!   revokes what is due).
//! - [`barrier`]: encrypts every value and every path; keyring by term.
//! - [`physical`]: untrusted key-value storage (sled, in-memory).
//! - [`seal`]: Shamir shares of the unseal key.
//! - [`audit`]: the audit broker (fails closed), devices, hash chain, verifier,
//!   and the search of a log (shared by `audit search` and `sys/audit/:path/entries`).
//! - [`sdk`]: the contract between the core and the backends (request,
//!   response, operation, lease and auth blocks, login outcome, the mount
//!   a request was routed to, declared routes with their field schemas),
//!   the injectable `Clock` every time rule reads (`SystemClock`,
//!   `ManualClock`), timestamp helpers and the duration syntax; a leaf that
//!   names nothing of the crate but `crypto`. Each backend declares its
//!   routes (`LogicalBackend::routes`) and dispatches from them; the
//!   pipeline reads the same tables for unauthenticated paths, sudo and
//!   404/405, and `core::sys_routes` holds those of `sys/` and
//!   `auth/token/` (whose handlers dispatch on its typed routes).
//! - [`crypto`]: secret newtypes and primitives shared by the above.
//! - [`config`]: the server's HCL configuration file.
//! - [`server`]: `serve(options)` (what `main` calls) and
//!   `run(core, listener, tls, limits, max_request_size, ui, shutdown)`.
//!
//! Import rules (checked by the tests in `src/layout.rs`): secrets engines
//! and auth methods take the contract from [`sdk`], never from `core` or
//! `router`, and do not name `audit`, `http`, `policy` or `expiration`;
//! nothing above the barrier names `physical` outside its tests; `http`
//! names only `core`, `sdk`, `crypto` and `config`; `audit` names neither
//! `core` nor `auth` (the core hands it flat records); no two top-level
//! modules name each other, directly or through others (the module graph
//! is acyclic: `core` above engines, auth methods, router, policy,
//! expiration and audit; those above the barrier; the barrier above
//! physical storage); no `static` holds mutable state (a mount's state
//! lives in its backend instance, built when the mount is loaded or
//! created and dropped with it; what mounts share, such as the Argon2
//! workers, is owned by the unsealed state and handed to them). Still to
//! untangle: apikeys' rotation scheduler walks the router (`MountSource`)
//! until a scheduler in core drives the mounts' periodic work.
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
