//! The contract between the core and the backends behind it, as a leaf.
//!
//! Owns: the request and response types ([`Request`], [`Response`],
//! [`Operation`], [`LeaseInfo`], [`AuthResponse`], [`LoginAuth`]), the
//! mount a request was routed to ([`MountPoint`]), the declared routes of
//! a backend and their field schemas ([`route`]), the injectable [`Clock`]
//! every time rule reads ([`clock`]), the timestamp helpers ([`time`]) and
//! the duration syntax ([`duration`]), the boolean syntax ([`boolean`]) and
//! what a backend reports to the vault's metrics ([`telemetry`]). Secrets engines, auth methods, the
//! HTTP layer and the configuration take these from here, not from `core`
//! or `logical`.
//! Must not touch: anything of this crate but [`crate::crypto`]; in
//! particular not `core`, `auth`, `audit`, `logical`, `router`, `barrier`
//! or `physical` (the layout test, `src/layout.rs`, enforces it).

pub mod boolean;
pub mod clock;
pub mod duration;
mod mount;
mod request;
pub mod route;
pub mod telemetry;
pub mod time;

pub use boolean::parse_bool;
pub use clock::{Clock, ManualClock, SystemClock};
pub use duration::parse_duration;
pub use mount::MountPoint;
pub use request::{AuthResponse, LeaseInfo, LoginAuth, Operation, Request, Response};
pub use route::Route;
pub use telemetry::{NoTelemetry, Telemetry};
