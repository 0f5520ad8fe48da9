//! The contract between the core and the backends behind it, as a leaf.
//!
//! Owns: the request and response types ([`Request`], [`Response`],
//! [`Operation`], [`LeaseInfo`], [`AuthResponse`], [`LoginAuth`]), the
//! declared routes of a backend and their field schemas ([`route`]) and the
//! wall-clock helpers ([`time`]). Secrets engines and auth methods take
//! these from here, not from `core`.
//! Must not touch: anything of this crate but [`crate::crypto`]; in
//! particular not `core`, `auth`, `audit`, `logical`, `router`, `barrier`
//! or `physical` (the layout test, `src/layout.rs`, enforces it).

mod request;
pub mod route;
pub mod time;

pub use request::{AuthResponse, LeaseInfo, LoginAuth, Operation, Request, Response};
pub use route::Route;
