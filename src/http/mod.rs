//! The HTTP layer: Vault's `/v1/` API over axum.
//!
//! Owns: turning an HTTP request into a core [`Request`] (method →
//! operation, token headers, body limits, JSON parsing) and a core result
//! into Vault's envelope or `{"errors":[…]}`. Must not touch storage, the
//! barrier or tokens: it only calls [`Core::handle`].

mod error;
mod handler;

pub use handler::router;
