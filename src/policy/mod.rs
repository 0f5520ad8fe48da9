//! ACL policies: parsing and evaluation.
//!
//! This module owns the policy language (Vault-compatible HCL, and the JSON
//! form of it), the built-in `root` and `default` policies, policy-name
//! validation, and the compiled [`Acl`] that answers "which capabilities does
//! this token's policy set grant on path P".
//!
//! It must not touch storage, HTTP, tokens or the router: callers load policy
//! text from wherever they keep it, call [`parse`], and build an [`Acl`] per
//! token policy set (build once, query many times). Nothing here does I/O,
//! locks, or panics on any input.
//!
//! Layout: `parse.rs` turns HCL/JSON text into [`Policy`] values, `acl.rs`
//! compiles policies into an [`Acl`] and implements Vault's priority
//! matching, `error.rs` holds [`PolicyError`].

mod acl;
mod error;
mod parse;
pub mod store;

pub use acl::Acl;
pub use error::PolicyError;
pub use store::check_canonical_name;

/// Name of the built-in policy that grants everything; it has no rules and
/// cannot be changed.
pub const ROOT_POLICY: &str = "root";
/// Name of the built-in policy attached to tokens by default; it can be
/// changed but not deleted.
pub const DEFAULT_POLICY: &str = "default";

/// Longest accepted policy name, in bytes.
const MAX_NAME_LEN: usize = 128;

/// One capability a policy rule can grant (or `Deny`, which revokes all).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Capability {
    /// `create`: write to a path that does not exist yet.
    Create,
    /// `read`: read a path.
    Read,
    /// `update`: write to a path that exists.
    Update,
    /// `patch`: partially update a path.
    Patch,
    /// `delete`: delete a path.
    Delete,
    /// `list`: list keys under a path.
    List,
    /// `sudo`: access root-protected paths.
    Sudo,
    /// `deny`: grant nothing, overriding every other capability of the rule.
    Deny,
}

impl Capability {
    /// Every capability, in declaration order.
    pub const ALL: [Capability; 8] = [
        Capability::Create,
        Capability::Read,
        Capability::Update,
        Capability::Patch,
        Capability::Delete,
        Capability::List,
        Capability::Sudo,
        Capability::Deny,
    ];

    /// Vault's name for the capability (`"create"`, `"read"`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            Capability::Create => "create",
            Capability::Read => "read",
            Capability::Update => "update",
            Capability::Patch => "patch",
            Capability::Delete => "delete",
            Capability::List => "list",
            Capability::Sudo => "sudo",
            Capability::Deny => "deny",
        }
    }

    /// Parses Vault's name for a capability (exact, lowercase).
    pub fn parse(s: &str) -> Option<Capability> {
        Capability::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The bit of this capability in a [`CapabilitySet`].
    const fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of capabilities (a small bitset). Copy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CapabilitySet(u16);

impl CapabilitySet {
    /// Capabilities in Vault's output order (alphabetical).
    const SORTED: [Capability; 7] = [
        Capability::Create,
        Capability::Delete,
        Capability::List,
        Capability::Patch,
        Capability::Read,
        Capability::Sudo,
        Capability::Update,
    ];

    /// The empty set.
    pub fn empty() -> Self {
        CapabilitySet(0)
    }

    /// Every capability except `Deny` (what the root policy grants).
    pub fn all() -> Self {
        CapabilitySet(Self::SORTED.iter().fold(0, |acc, c| acc | c.bit()))
    }

    /// The set holding only `Deny`.
    pub fn deny() -> Self {
        CapabilitySet(Capability::Deny.bit())
    }

    /// Whether `c` is in the set.
    pub fn contains(&self, c: Capability) -> bool {
        self.0 & c.bit() != 0
    }

    /// Adds `c` to the set.
    pub fn insert(&mut self, c: Capability) {
        self.0 |= c.bit();
    }

    /// Whether the set holds nothing at all (not even `Deny`).
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// Whether the set contains `Deny`.
    pub fn is_deny(&self) -> bool {
        self.contains(Capability::Deny)
    }

    /// Merges two rules on the same path, as Vault does: `deny` on either
    /// side wins outright, otherwise the union.
    pub fn merge(self, other: CapabilitySet) -> CapabilitySet {
        if self.is_deny() || other.is_deny() {
            CapabilitySet::deny()
        } else {
            CapabilitySet(self.0 | other.0)
        }
    }

    /// Vault's names in Vault's order: the granted capabilities sorted
    /// alphabetically (`create, delete, list, patch, read, sudo, update`), or
    /// `["deny"]` when the set contains `Deny` or grants nothing. (The root
    /// ACL's `["root"]` comes from [`Acl::capabilities_strings`].)
    pub fn to_strings(&self) -> Vec<String> {
        let granted: Vec<String> = if self.is_deny() {
            Vec::new()
        } else {
            Self::SORTED
                .iter()
                .filter(|c| self.contains(**c))
                .map(|c| c.as_str().to_owned())
                .collect()
        };
        if granted.is_empty() {
            vec![Capability::Deny.as_str().to_owned()]
        } else {
            granted
        }
    }
}

impl FromIterator<Capability> for CapabilitySet {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        let mut set = CapabilitySet::empty();
        for c in iter {
            set.insert(c);
        }
        set
    }
}

/// Whether a rule matches one path exactly or every path starting with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PathKind {
    /// The rule's path had no trailing `*`.
    Exact,
    /// The rule's path ended in `*` (stripped from [`PathRule::path`]).
    Prefix,
}

/// One `path "…" { … }` block of a policy.
#[derive(Clone, Debug)]
pub struct PathRule {
    /// The path without a leading `/` and without the trailing `*`; `+`
    /// segment wildcards are kept in place.
    pub path: String,
    /// Exact or prefix (trailing `*`).
    pub kind: PathKind,
    /// What the rule grants. If `deny` was listed this is exactly
    /// [`CapabilitySet::deny()`].
    pub capabilities: CapabilitySet,
}

/// A parsed policy.
///
/// Parameter constraints (`allowed_parameters`, `denied_parameters`,
/// `required_parameters`), wrapping-TTL bounds, `mfa_methods` and
/// `control_group` are accepted for compatibility but not enforced.
#[derive(Clone, Debug)]
pub struct Policy {
    /// The policy's name (as given to [`parse`]).
    pub name: String,
    /// The text the policy was parsed from, unchanged.
    pub raw: String,
    /// The path blocks in source order (duplicates are merged by [`Acl`]).
    pub rules: Vec<PathRule>,
}

/// Parses a policy written in HCL or JSON.
///
/// The text is treated as JSON when its first non-whitespace character is
/// `{` and it parses as JSON; otherwise it is parsed as HCL. `name` is stored
/// as given (pass it through [`normalize_name`] first). A policy without any
/// path block is valid and grants nothing, as in Vault.
pub fn parse(name: &str, text: &str) -> Result<Policy, PolicyError> {
    let rules = parse::parse_rules(text)?;
    Ok(Policy {
        name: name.to_owned(),
        raw: text.to_owned(),
        rules,
    })
}

/// Validates and normalizes a policy name.
///
/// Like Vault, surrounding whitespace is trimmed and the name is lowercased.
/// The result must be 1..=128 characters from `a-z`, `0-9`, `-`, `_`, `.`,
/// `/`.
pub fn normalize_name(name: &str) -> Result<String, PolicyError> {
    let lowered = name.trim().to_lowercase();
    if lowered.is_empty() {
        return Err(PolicyError::InvalidName("name is empty".to_owned()));
    }
    if lowered.len() > MAX_NAME_LEN {
        return Err(PolicyError::InvalidName(format!(
            "name is longer than {MAX_NAME_LEN} characters"
        )));
    }
    match lowered.chars().find(|c| !is_name_char(*c)) {
        Some(bad) => Err(PolicyError::InvalidName(format!(
            "{lowered:?} contains {bad:?}; allowed are a-z, 0-9, '-', '_', '.', '/'"
        ))),
        None => Ok(lowered),
    }
}

/// Whether `c` may appear in a (lowercased) policy name.
fn is_name_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.' | '/')
}

/// The HCL text of the built-in `default` policy.
///
/// Mirrors Vault's default policy for the endpoints vault-rs implements
/// (Vault's templated `identity/entity/...` and OIDC provider paths are
/// left out).
pub fn default_policy_text() -> &'static str {
    DEFAULT_POLICY_TEXT
}

/// See [`default_policy_text`].
const DEFAULT_POLICY_TEXT: &str = r#"
# Allow tokens to look up their own properties
path "auth/token/lookup-self" {
    capabilities = ["read"]
}

# Allow tokens to renew themselves
path "auth/token/renew-self" {
    capabilities = ["update"]
}

# Allow tokens to revoke themselves
path "auth/token/revoke-self" {
    capabilities = ["update"]
}

# Allow a token to look up its own capabilities on a path
path "sys/capabilities-self" {
    capabilities = ["update"]
}

# Allow a token to look up its resultant ACL from all policies. This is useful
# for UIs. It is an internal path because the format may change at any time.
path "sys/internal/ui/resultant-acl" {
    capabilities = ["read"]
}

# Allow a token to renew a lease via lease_id in the request body; old path for
# old clients, new path for newer
path "sys/renew" {
    capabilities = ["update"]
}
path "sys/leases/renew" {
    capabilities = ["update"]
}

# Allow looking up lease properties. This requires knowing the lease ID ahead
# of time and does not divulge any sensitive information.
path "sys/leases/lookup" {
    capabilities = ["update"]
}

# Allow a token to manage its own cubbyhole
path "cubbyhole/*" {
    capabilities = ["create", "read", "update", "delete", "list"]
}

# Allow a token to wrap arbitrary values in a response-wrapping token
path "sys/wrapping/wrap" {
    capabilities = ["update"]
}

# Allow a token to look up the creation time and TTL of a given
# response-wrapping token
path "sys/wrapping/lookup" {
    capabilities = ["update"]
}

# Allow a token to unwrap a response-wrapping token. This is a convenience to
# avoid client token swapping since this is also part of the response wrapping
# policy.
path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}

# Allow general purpose tools
path "sys/tools/hash" {
    capabilities = ["update"]
}
path "sys/tools/hash/*" {
    capabilities = ["update"]
}

# Allow checking the status of a Control Group request if the user has the
# accessor
path "sys/control-group/request" {
    capabilities = ["update"]
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_names_round_trip() {
        for c in Capability::ALL {
            assert_eq!(Capability::parse(c.as_str()), Some(c));
        }
        assert_eq!(Capability::parse("READ"), None);
        assert_eq!(Capability::parse("write"), None);
        assert_eq!(Capability::parse(""), None);
    }

    #[test]
    fn capability_set_basics() {
        let mut s = CapabilitySet::empty();
        assert!(s.is_empty());
        s.insert(Capability::Read);
        s.insert(Capability::Read);
        assert!(s.contains(Capability::Read));
        assert!(!s.contains(Capability::List));
        assert!(!s.is_empty());
        let all = CapabilitySet::all();
        assert!(!all.contains(Capability::Deny));
        assert!(all.contains(Capability::Sudo));
        assert!(all.contains(Capability::Patch));
        assert_eq!(CapabilitySet::default(), CapabilitySet::empty());
    }

    #[test]
    fn capability_set_merge() {
        let r: CapabilitySet = [Capability::Read].into_iter().collect();
        let l: CapabilitySet = [Capability::List].into_iter().collect();
        let rl: CapabilitySet = [Capability::Read, Capability::List].into_iter().collect();
        assert_eq!(r.merge(l), rl);
        assert_eq!(r.merge(CapabilitySet::deny()), CapabilitySet::deny());
        assert_eq!(CapabilitySet::deny().merge(r), CapabilitySet::deny());
        let with_deny: CapabilitySet = [Capability::Read, Capability::Deny].into_iter().collect();
        assert_eq!(with_deny.merge(l), CapabilitySet::deny());
    }

    #[test]
    fn to_strings_is_sorted_or_deny() {
        assert_eq!(CapabilitySet::empty().to_strings(), vec!["deny"]);
        assert_eq!(CapabilitySet::deny().to_strings(), vec!["deny"]);
        let s: CapabilitySet = [Capability::Update, Capability::Read, Capability::Create]
            .into_iter()
            .collect();
        assert_eq!(s.to_strings(), vec!["create", "read", "update"]);
        assert_eq!(
            CapabilitySet::all().to_strings(),
            vec!["create", "delete", "list", "patch", "read", "sudo", "update"]
        );
        let mixed: CapabilitySet = [Capability::Read, Capability::Deny].into_iter().collect();
        assert_eq!(mixed.to_strings(), vec!["deny"]);
    }

    #[test]
    fn normalize_name_lowercases_and_trims() {
        assert_eq!(normalize_name("My-Policy").as_deref(), Ok("my-policy"));
        assert_eq!(
            normalize_name("  ops/team_1.x ").as_deref(),
            Ok("ops/team_1.x")
        );
        assert_eq!(normalize_name("ROOT").as_deref(), Ok("root"));
        let max = "a".repeat(128);
        assert_eq!(normalize_name(&max).as_deref(), Ok(max.as_str()));
    }

    #[test]
    fn normalize_name_rejects_bad_names() {
        for bad in [
            "", "   ", "a b", "a*", "a+b", "é", "a\0", "a\nb", "a:b", "a\\b",
        ] {
            let err = normalize_name(bad);
            assert!(
                matches!(err, Err(PolicyError::InvalidName(_))),
                "{bad:?} -> {err:?}"
            );
        }
        assert!(normalize_name(&"a".repeat(129)).is_err());
    }

    #[test]
    fn default_policy_parses_and_grants_self_service() {
        let p = parse(DEFAULT_POLICY, default_policy_text()).expect("default policy parses");
        assert_eq!(p.name, "default");
        assert_eq!(p.rules.len(), 15);
        let acl = Acl::new(&[std::sync::Arc::new(p)]);
        let caps = |path: &str| acl.capabilities(path).to_strings();
        assert_eq!(caps("auth/token/lookup-self"), vec!["read"]);
        assert_eq!(caps("auth/token/renew-self"), vec!["update"]);
        assert_eq!(caps("auth/token/revoke-self"), vec!["update"]);
        assert_eq!(caps("sys/capabilities-self"), vec!["update"]);
        assert_eq!(caps("sys/internal/ui/resultant-acl"), vec!["read"]);
        assert_eq!(caps("sys/renew"), vec!["update"]);
        assert_eq!(caps("sys/leases/renew"), vec!["update"]);
        assert_eq!(caps("sys/leases/lookup"), vec!["update"]);
        assert_eq!(
            caps("cubbyhole/my/secret"),
            vec!["create", "delete", "list", "read", "update"]
        );
        for p in [
            "sys/wrapping/wrap",
            "sys/wrapping/lookup",
            "sys/wrapping/unwrap",
        ] {
            assert_eq!(caps(p), vec!["update"], "{p}");
        }
        assert_eq!(caps("sys/tools/hash"), vec!["update"]);
        assert_eq!(caps("sys/tools/hash/sha2-256"), vec!["update"]);
        assert_eq!(caps("sys/control-group/request"), vec!["update"]);
        assert_eq!(caps("secret/data/x"), vec!["deny"]);
        assert_eq!(caps("auth/token/create"), vec!["deny"]);
        assert_eq!(caps("sys/policies/acl/default"), vec!["deny"]);
    }

    #[test]
    fn parse_keeps_name_and_raw() {
        let text = "path \"a\" { capabilities = [\"read\"] }\n";
        let p = parse("x", text).expect("parses");
        assert_eq!(p.name, "x");
        assert_eq!(p.raw, text);
    }
}
