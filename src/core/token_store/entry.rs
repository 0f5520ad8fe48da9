//! A stored token and the parameters of a new one.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The sole policy of response-wrapping tokens (it grants nothing; the
/// wrapping endpoints recognise such tokens themselves).
pub const WRAPPING_POLICY: &str = crate::policy::store::RESPONSE_WRAPPING_POLICY;

/// What the store keeps about a token (never the token itself). `Debug`
/// leaves out what can act on the token (its accessor, its storage key
/// and its parent's) and the metadata.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenEntry {
    /// HMAC of the token: the storage key.
    pub key: String,
    pub accessor: String,
    pub policies: Vec<String>,
    /// HMAC of the parent token ("" for orphans).
    #[serde(default)]
    pub parent: String,
    #[serde(default)]
    pub meta: Map<String, Value>,
    #[serde(default)]
    pub display_name: String,
    /// Remaining uses (0 = unlimited).
    #[serde(default)]
    pub num_uses: u64,
    /// Uses granted at creation (for lookup's `num_uses` reporting).
    #[serde(default)]
    pub path: String,
    /// Unix seconds.
    pub creation_time: i64,
    /// TTL at creation, seconds (0 = no expiry).
    pub creation_ttl: u64,
    /// Unix seconds of expiry (0 = never).
    pub expire_time: i64,
    /// Latest expiry renewals may reach (0 = unbounded).
    #[serde(default)]
    pub max_expire_time: i64,
    /// Unix seconds of the last renewal (0 = never renewed).
    #[serde(default)]
    pub last_renewal: i64,
    #[serde(default)]
    pub explicit_max_ttl: u64,
    #[serde(default)]
    pub period: u64,
    #[serde(default)]
    pub renewable: bool,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub entity_id: String,
    /// Storage prefix of auth-method-specific data (e.g. approle role name).
    #[serde(default)]
    pub internal_meta: Map<String, Value>,
    /// CIDR blocks the token may be used from (empty = anywhere).
    #[serde(default)]
    pub bound_cidrs: Vec<String>,
    /// The last use of a limited-use token has been spent: it is refused
    /// from now on and revoked when that last request ends.
    #[serde(default)]
    pub uses_exhausted: bool,
    /// A batch token: never stored, its entry is what the token itself
    /// carries (encrypted); no accessor, not renewable, revoked only by
    /// expiry or with its parent.
    #[serde(default)]
    pub batch: bool,
}

impl std::fmt::Debug for TokenEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenEntry")
            .field("key", &"[REDACTED]")
            .field("accessor", &"[REDACTED]")
            .field("policies", &self.policies)
            .field("orphan", &self.parent.is_empty())
            .field("display_name", &self.display_name)
            .field("num_uses", &self.num_uses)
            .field("path", &self.path)
            .field("creation_time", &self.creation_time)
            .field("expire_time", &self.expire_time)
            .field("max_expire_time", &self.max_expire_time)
            .field("period", &self.period)
            .field("renewable", &self.renewable)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl TokenEntry {
    /// Whether the token is past its expiry at `now` (unix seconds).
    pub fn is_expired(&self, now: i64) -> bool {
        self.expire_time != 0 && now >= self.expire_time
    }

    /// Seconds left (0 when it never expires or has expired).
    pub fn ttl_left(&self, now: i64) -> u64 {
        if self.expire_time == 0 {
            0
        } else {
            (self.expire_time - now).max(0) as u64
        }
    }

    /// The TTL granted at creation or at the last renewal: what the `auth`
    /// block reports (never a second short because the clock ticked while
    /// the request was served); 0 when it never expires.
    pub fn granted_ttl(&self) -> u64 {
        if self.expire_time == 0 {
            return 0;
        }
        let since = self.creation_time.max(self.last_renewal);
        (self.expire_time - since).max(0) as u64
    }

    /// Vault's name for the token's type.
    pub fn token_type(&self) -> &'static str {
        if self.batch {
            "batch"
        } else {
            "service"
        }
    }

    pub fn is_root(&self) -> bool {
        self.policies
            .iter()
            .any(|p| p == crate::policy::ROOT_POLICY)
    }

    pub fn is_orphan(&self) -> bool {
        self.parent.is_empty()
    }

    /// Whether this is a response-wrapping token.
    pub fn is_wrapping(&self) -> bool {
        self.policies.len() == 1 && self.policies[0] == WRAPPING_POLICY
    }
}

/// Parameters of a token to create.
#[derive(Clone, Debug, Default)]
pub struct TokenParams {
    pub policies: Vec<String>,
    pub parent: String,
    pub meta: Map<String, Value>,
    pub display_name: String,
    pub num_uses: u64,
    /// Requested TTL (0 = default).
    pub ttl: u64,
    pub explicit_max_ttl: u64,
    pub period: u64,
    pub renewable: bool,
    pub path: String,
    pub role: String,
    pub internal_meta: Map<String, Value>,
    /// A caller-chosen token id (root only, e.g. `--dev-root-token-id`).
    pub id: Option<String>,
    pub bound_cidrs: Vec<String>,
    /// A batch token (`type=batch`) rather than a service token.
    pub batch: bool,
    /// The latest instant (unix seconds) the token may live to because of
    /// its parent (0 = no bound): a non-orphan child is revoked with its
    /// parent, so it never gets a lifetime past the parent's max expiry.
    pub parent_max_expire: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_granted_ttl_does_not_shrink_as_the_clock_ticks() {
        let mut e = sample();
        e.creation_time = 1_000;
        e.expire_time = 1_000 + 3600;
        // A second later (the clock ticked while the request was served).
        assert_eq!(e.ttl_left(1_001), 3599);
        assert_eq!(e.granted_ttl(), 3600);
        // Renewed at 2_000 for 30 minutes.
        e.last_renewal = 2_000;
        e.expire_time = 2_000 + 1800;
        assert_eq!(e.granted_ttl(), 1800);
        e.expire_time = 0;
        assert_eq!(e.granted_ttl(), 0);
    }

    #[test]
    fn debug_leaves_out_the_accessor_and_keys() {
        let e = TokenEntry {
            key: "KEYCANARY".into(),
            accessor: "ACCESSORCANARY".into(),
            parent: "PARENTCANARY".into(),
            ..sample()
        };
        let text = format!("{e:?}");
        assert!(!text.contains("CANARY"), "{text}");
        assert!(text.contains("default"));
    }

    fn sample() -> TokenEntry {
        TokenEntry {
            key: "KEYCANARY".into(),
            accessor: "ACCESSORCANARY".into(),
            policies: vec!["default".into()],
            parent: "PARENTCANARY".into(),
            meta: Map::new(),
            display_name: "token".into(),
            num_uses: 0,
            path: "auth/token/create".into(),
            creation_time: 0,
            creation_ttl: 0,
            expire_time: 0,
            max_expire_time: 0,
            last_renewal: 0,
            explicit_max_ttl: 0,
            period: 0,
            renewable: false,
            role: String::new(),
            entity_id: String::new(),
            internal_meta: Map::new(),
            bound_cidrs: Vec::new(),
            uses_exhausted: false,
            batch: false,
        }
    }
}
