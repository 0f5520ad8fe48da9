//! `apikeys/validate`: the hot path.
//!
//! Order of checks, cheapest and least revealing first:
//! 1. format and checksum ([`precheck`]): a malformed key is answered
//!    without touching the mount state, the index or storage;
//! 2. (in the handler) the per-client rate limit;
//! 3. HMAC(salt, key) looked up in the in-memory index, then the full HMAC
//!    compared in constant time ("unknown" otherwise);
//! 4. revocation, expiry (TTL, or the grace period of a superseded
//!    version), service, scope.
//!
//! Nothing here reads or writes storage, and nothing logs: the core audits
//! every request with its data HMAC'd.
//!
//! Owns: the verdict and its JSON. Must not touch storage or return a key.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::key::{classify, Shape};
use super::store::{time_value, KeyRecord, MountState, VersionState};

/// Why a key is not valid (the `reason` field).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Malformed,
    Unknown,
    Expired,
    Revoked,
    Scope,
    Service,
}

impl Reason {
    pub fn as_str(&self) -> &'static str {
        match self {
            Reason::Malformed => "malformed",
            Reason::Unknown => "unknown",
            Reason::Expired => "expired",
            Reason::Revoked => "revoked",
            Reason::Scope => "scope",
            Reason::Service => "service",
        }
    }
}

/// The outcome of a validation.
pub enum Verdict {
    Valid {
        record: Arc<KeyRecord>,
        version: u64,
        state: VersionState,
    },
    Invalid(Reason),
}

/// What the caller asks besides the key.
pub struct Requirements<'a> {
    /// Every one of these scopes must be granted.
    pub scopes: &'a [String],
    /// The key must belong to this service.
    pub service: Option<&'a str>,
}

/// Step 1: format and checksum, with no state at all.
pub fn precheck(key: &str) -> Result<Shape<'_>, Reason> {
    classify(key).map_err(|_| Reason::Malformed)
}

/// Steps 3 and 4, against the in-memory index only.
pub fn check(
    state: &MountState,
    key: &str,
    shape: Shape<'_>,
    wants: &Requirements<'_>,
    now: i64,
) -> Verdict {
    // Text that is not a vault-rs key can only be an imported key.
    if shape == Shape::Foreign && !state.has_imported() {
        return Verdict::Invalid(Reason::Malformed);
    }
    let Some((record, version)) = state.lookup(&state.mac(key)) else {
        return Verdict::Invalid(Reason::Unknown);
    };
    let Some(v) = record.versions.get(&version) else {
        return Verdict::Invalid(Reason::Unknown);
    };
    let vstate = v.state(now);
    let reason = match vstate {
        VersionState::Revoked => Some(Reason::Revoked),
        VersionState::Expired | VersionState::Retired => Some(Reason::Expired),
        VersionState::Current | VersionState::Grace => {
            if wants.service.is_some_and(|s| s != record.service) {
                Some(Reason::Service)
            } else if !wants
                .scopes
                .iter()
                .all(|s| scope_granted(&record.scopes, s))
            {
                Some(Reason::Scope)
            } else {
                None
            }
        }
    };
    match reason {
        Some(r) => Verdict::Invalid(r),
        None => Verdict::Valid {
            record,
            version,
            state: vstate,
        },
    }
}

/// Whether `granted` covers `wanted`: an exact match, `*`, or a granted
/// pattern ending in `*` that prefixes it (`orders:*` covers `orders:read`).
pub fn scope_granted(granted: &[String], wanted: &str) -> bool {
    granted.iter().any(|g| match g.strip_suffix('*') {
        Some(prefix) => wanted.starts_with(prefix),
        None => g == wanted,
    })
}

/// The `data` of a validate response.
pub fn to_json(verdict: &Verdict) -> Map<String, Value> {
    let value = match verdict {
        Verdict::Invalid(reason) => json!({"valid": false, "reason": reason.as_str()}),
        Verdict::Valid {
            record,
            version,
            state,
        } => {
            let v = record.versions.get(version);
            let expires = v.map_or(0, |v| v.expires);
            let valid_until = match (state, v) {
                (VersionState::Grace, Some(v)) => time_value(v.valid_until),
                _ => Value::Null,
            };
            json!({
                "valid": true,
                "name": record.name,
                "service": record.service,
                "environment": record.environment.as_str(),
                "scopes": record.scopes,
                "version": version,
                "current": *state == VersionState::Current,
                "expires_at": time_value(expires),
                "valid_until": valid_until,
                "metadata": record.metadata,
            })
        }
    };
    match value {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        let g = vec!["orders:read".to_string(), "billing:*".to_string()];
        assert!(scope_granted(&g, "orders:read"));
        assert!(!scope_granted(&g, "orders:write"));
        assert!(scope_granted(&g, "billing:refund"));
        assert!(scope_granted(&["*".to_string()], "anything"));
        assert!(!scope_granted(&[], "x"));
    }

    #[test]
    fn malformed_before_anything() {
        assert_eq!(precheck("nope").err(), Some(Reason::Malformed));
    }
}
