//! The HTTP layer: Vault's `/v1/` API over axum, and the web UI's
//! static assets at `/ui/` ([`with_ui`]).
//!
//! Owns: turning an HTTP request into a core [`Request`] (method →
//! operation, token headers, body limits, JSON shape limits, parsing) and
//! a core result into Vault's envelope or `{"errors":[…]}`. Must not touch
//! storage, the barrier or tokens: it only calls [`Core::precheck`] (before
//! reading a body) and [`Core::handle`].
//!
//! [`Request`]: crate::core::Request
//! [`Core::precheck`]: crate::core::Core::precheck
//! [`Core::handle`]: crate::core::Core::handle

mod access_log;
mod error;
mod handler;
pub mod json_limits;
mod oauth2;
mod ui;

pub use handler::{router, HttpLimits};
pub use ui::with_ui;
