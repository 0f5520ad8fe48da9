//! What a backend reports to the vault's metrics: a [`Telemetry`] handle
//! in its mount context, and the typed [`Event`]s it may record. The core
//! implements the handle; backends never see the metrics registry.
//!
//! Owns: the event vocabulary. Must not touch: request contents (an event
//! carries no key, name or path).

/// How an API key validation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiKeyOutcome {
    Valid,
    /// Malformed, unknown, expired, or not for this service or scope.
    Invalid,
    Revoked,
}

/// Something a backend counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    ApiKeyValidation(ApiKeyOutcome),
    /// A key got a new version (requested or scheduled).
    ApiKeyRotation,
    ApiKeyRevocation,
}

/// Where a backend records its events.
pub trait Telemetry: Send + Sync {
    fn record(&self, event: Event);
}

/// Records nothing (tests, tools).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTelemetry;

impl Telemetry for NoTelemetry {
    fn record(&self, _event: Event) {}
}
