//! The compiled ACL of a policy set and Vault's priority matching.
//!
//! Compilation mirrors `NewACL` in Vault's `vault/acl.go`: rules with the
//! same path string and kind are merged (union of capabilities; `deny` on
//! either side leaves only `deny`), then split three ways:
//!
//! * exact rules without segment wildcards: a hash map, checked first;
//! * prefix (`foo*`) rules without segment wildcards: a byte trie giving the
//!   longest matching prefix;
//! * rules with segment wildcards (`+`): a list scanned per query.
//!
//! When no exact rule matches, the longest prefix rule and every matching
//! `+` rule compete and the single winner's capabilities apply (see
//! [`priority`]); less specific matches are never unioned in.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use super::{CapabilitySet, PathKind, Policy, ROOT_POLICY};

/// Compiled ACL for a set of policies (a token's policy set).
///
/// Build once with [`Acl::new`], query many times; queries do not allocate.
#[derive(Clone, Debug)]
pub struct Acl {
    /// The set contains the `root` policy: everything is allowed.
    root: bool,
    /// Exact rules without segment wildcards.
    exact: HashMap<String, CapabilitySet>,
    /// Prefix rules without segment wildcards.
    prefixes: PrefixTrie,
    /// Rules with segment wildcards, exact or prefix.
    wildcards: Vec<WildcardRule>,
}

impl Acl {
    /// Compiles the policies of one token. If any policy is named `root` the
    /// ACL is the root ACL (the other policies are irrelevant).
    pub fn new(policies: &[Arc<Policy>]) -> Acl {
        if policies.iter().any(|p| p.name == ROOT_POLICY) {
            return Acl::root();
        }
        let mut merged: HashMap<(&str, PathKind), CapabilitySet> = HashMap::new();
        for rule in policies.iter().flat_map(|p| p.rules.iter()) {
            merged
                .entry((rule.path.as_str(), rule.kind))
                .and_modify(|caps| *caps = caps.merge(rule.capabilities))
                .or_insert(rule.capabilities);
        }
        let mut acl = Acl::empty(false);
        for ((path, kind), caps) in merged {
            acl.insert(path, kind, caps);
        }
        acl.wildcards
            .sort_by(|a, b| (&a.path, a.is_prefix).cmp(&(&b.path, b.is_prefix)));
        acl
    }

    /// The ACL of the `root` policy: every capability on every path.
    pub fn root() -> Acl {
        Acl::empty(true)
    }

    /// Whether this is the root ACL.
    pub fn is_root(&self) -> bool {
        self.root
    }

    /// Capabilities granted on `path` (request path without the `/v1/`
    /// prefix, e.g. `"secret/data/app/x"`; leading slashes are ignored).
    /// Root gets [`CapabilitySet::all()`] (including `Sudo`). A winning rule
    /// with `deny`, or no matching rule, gives the empty set.
    pub fn capabilities(&self, path: &str) -> CapabilitySet {
        if self.root {
            return CapabilitySet::all();
        }
        granted(self.lookup(trim_leading_slashes(path)))
    }

    /// Capabilities for a LIST request on `path`, with Vault's trailing-slash
    /// fallback (`AllowOperation` for `ListOperation` in `vault/acl.go`): an
    /// exact rule on `path` or on `path` without its trailing `/` applies
    /// first; then, for a path ending in `/`, wildcard/prefix rules matching
    /// the path without the slash; then those matching `path` itself.
    /// Identical to [`Acl::capabilities`] for paths without a trailing `/`.
    pub fn list_capabilities(&self, path: &str) -> CapabilitySet {
        if self.root {
            return CapabilitySet::all();
        }
        granted(self.list_lookup(trim_leading_slashes(path)))
    }

    /// For `sys/capabilities*`: Vault's string list for `path`: `["root"]`
    /// for the root ACL, `["deny"]` when nothing is granted, otherwise the
    /// granted capabilities sorted alphabetically. Like Vault, this evaluates
    /// the path as a LIST request would (see [`Acl::list_capabilities`]).
    pub fn capabilities_strings(&self, path: &str) -> Vec<String> {
        if self.root {
            return vec![ROOT_POLICY.to_owned()];
        }
        self.list_capabilities(path).to_strings()
    }

    /// Whether some rule grants something on `mount` (a mount path ending
    /// in `/`) or on any path below it: Vault's `hasMountAccess`, used
    /// before revealing a mount's configuration to a token. A rule whose
    /// winning capability is `deny` grants nothing.
    pub fn has_mount_access(&self, mount: &str) -> bool {
        if self.root {
            return true;
        }
        let mount = trim_leading_slashes(mount);
        let grants = |caps: &CapabilitySet| !caps.is_deny() && !caps.is_empty();
        !self.capabilities(mount).is_empty()
            || self
                .exact
                .iter()
                .any(|(path, caps)| path.starts_with(mount) && grants(caps))
            || self.prefixes.any_below(mount, &grants)
            || self
                .wildcards
                .iter()
                .any(|r| grants(&r.caps) && r.may_match_below(mount))
    }

    /// An ACL without rules.
    fn empty(root: bool) -> Acl {
        Acl {
            root,
            exact: HashMap::new(),
            prefixes: PrefixTrie::new(),
            wildcards: Vec::new(),
        }
    }

    /// Files one merged rule into the right structure.
    fn insert(&mut self, path: &str, kind: PathKind, caps: CapabilitySet) {
        let is_prefix = kind == PathKind::Prefix;
        if has_segment_wildcards(path) {
            self.wildcards
                .push(WildcardRule::new(path.to_owned(), is_prefix, caps));
        } else if is_prefix {
            self.prefixes.insert(path, caps);
        } else {
            self.exact.insert(path.to_owned(), caps);
        }
    }

    /// The winning rule's capabilities (possibly `deny`), if any rule matches.
    fn lookup(&self, path: &str) -> Option<CapabilitySet> {
        self.exact
            .get(path)
            .copied()
            .or_else(|| self.non_exact(path))
    }

    /// [`Acl::lookup`] with Vault's LIST fallback order.
    fn list_lookup(&self, path: &str) -> Option<CapabilitySet> {
        let trimmed = path.strip_suffix('/');
        self.exact
            .get(path)
            .or_else(|| trimmed.and_then(|t| self.exact.get(t)))
            .copied()
            .or_else(|| trimmed.and_then(|t| self.non_exact(t)))
            .or_else(|| self.non_exact(path))
    }

    /// The highest-priority prefix or segment-wildcard rule matching `path`.
    fn non_exact(&self, path: &str) -> Option<CapabilitySet> {
        let mut best = self.prefixes.longest_match(path).and_then(|(len, caps)| {
            Some(Candidate {
                first_wildcard: len,
                is_prefix: true,
                wildcards: 0,
                path: path.get(..len)?,
                caps,
            })
        });
        for rule in self.wildcards.iter().filter(|r| r.matches(path)) {
            let candidate = rule.candidate();
            if best.is_none_or(|b| priority(&candidate, &b) == Ordering::Greater) {
                best = Some(candidate);
            }
        }
        best.map(|c| c.caps)
    }
}

/// Strips every leading `/`, as Vault does before matching.
fn trim_leading_slashes(path: &str) -> &str {
    path.trim_start_matches('/')
}

/// What a lookup result grants: nothing for no match or a `deny` winner.
fn granted(found: Option<CapabilitySet>) -> CapabilitySet {
    match found {
        Some(caps) if !caps.is_deny() => caps,
        _ => CapabilitySet::empty(),
    }
}

/// Vault's test for a path with segment wildcards (`HasSegmentWildcards` in
/// `vault/policy.go`). `path` is the rule path without its trailing `*`
/// (equivalent, since `+*` is rejected at parse time).
fn has_segment_wildcards(path: &str) -> bool {
    path == "+" || path.contains("/+") || path.starts_with("+/")
}

/// A matching rule as the priority comparator sees it.
#[derive(Clone, Copy, Debug)]
struct Candidate<'a> {
    /// Byte offset of the first `+` or `*` in the rule.
    first_wildcard: usize,
    /// Whether the rule ends in `*`.
    is_prefix: bool,
    /// Number of `+` segments.
    wildcards: usize,
    /// The rule's path without the trailing `*`.
    path: &'a str,
    /// The rule's (merged) capabilities.
    caps: CapabilitySet,
}

/// Vault's priority order between two matching non-exact rules
/// (`CheckAllowedFromNonExactPaths` in `vault/acl.go`, documented under
/// "Priority matching" on Vault's policies page). `Greater` means `a` wins:
///
/// 1. the first wildcard (`+` or `*`) occurs later;
/// 2. otherwise, the rule not ending in `*` wins;
/// 3. otherwise, fewer `+` segments win;
/// 4. otherwise, the longer path wins;
/// 5. otherwise, the lexically larger path wins.
fn priority(a: &Candidate<'_>, b: &Candidate<'_>) -> Ordering {
    a.first_wildcard
        .cmp(&b.first_wildcard)
        .then_with(|| b.is_prefix.cmp(&a.is_prefix))
        .then_with(|| b.wildcards.cmp(&a.wildcards))
        .then_with(|| a.path.len().cmp(&b.path.len()))
        .then_with(|| a.path.cmp(b.path))
}

/// One segment of a segment-wildcard rule.
#[derive(Clone, Debug)]
enum Segment {
    /// `+`: any single segment (possibly empty).
    Any,
    /// A literal segment (for the last segment of a prefix rule, a prefix of
    /// the path's segment).
    Literal(String),
}

/// A rule containing `+` segments.
#[derive(Clone, Debug)]
struct WildcardRule {
    /// The rule path without the trailing `*`.
    path: String,
    /// `path` split on `/`.
    segments: Vec<Segment>,
    /// Whether the rule ended in `*`.
    is_prefix: bool,
    /// Byte offset of the first `+` (as Vault computes it, even when that
    /// `+` is part of a longer segment).
    first_wildcard: usize,
    /// Number of `+` segments.
    wildcards: usize,
    /// Merged capabilities.
    caps: CapabilitySet,
}

impl WildcardRule {
    /// Pre-splits a rule path.
    fn new(path: String, is_prefix: bool, caps: CapabilitySet) -> WildcardRule {
        let segments: Vec<Segment> = path
            .split('/')
            .map(|s| match s {
                "+" => Segment::Any,
                _ => Segment::Literal(s.to_owned()),
            })
            .collect();
        let wildcards = segments
            .iter()
            .filter(|s| matches!(s, Segment::Any))
            .count();
        let first_wildcard = path.find('+').unwrap_or(path.len());
        WildcardRule {
            path,
            segments,
            is_prefix,
            first_wildcard,
            wildcards,
            caps,
        }
    }

    /// Segment-by-segment match, as in Vault: an exact rule needs the same
    /// number of segments; a prefix rule needs at least as many, its last
    /// literal segment being a prefix of the path's segment.
    fn matches(&self, path: &str) -> bool {
        let mut parts = path.split('/');
        let last = self.segments.len().saturating_sub(1);
        for (i, segment) in self.segments.iter().enumerate() {
            let Some(part) = parts.next() else {
                return false;
            };
            let ok = match segment {
                Segment::Any => true,
                Segment::Literal(lit) => {
                    lit == part || (self.is_prefix && i == last && part.starts_with(lit.as_str()))
                }
            };
            if !ok {
                return false;
            }
        }
        self.is_prefix || parts.next().is_none()
    }

    /// Whether the rule can match some path that starts with `mount` (a
    /// path ending in `/`): its segments agree with the mount's segments.
    fn may_match_below(&self, mount: &str) -> bool {
        let mount_segments: Vec<&str> = mount.trim_end_matches('/').split('/').collect();
        if self.segments.len() < mount_segments.len() && !self.is_prefix {
            return false;
        }
        let last = self.segments.len().saturating_sub(1);
        mount_segments
            .iter()
            .zip(self.segments.iter())
            .enumerate()
            .all(|(i, (part, seg))| match seg {
                Segment::Any => true,
                Segment::Literal(lit) => {
                    lit == part || (self.is_prefix && i == last && part.starts_with(lit.as_str()))
                }
            })
    }

    /// This rule as a priority candidate.
    fn candidate(&self) -> Candidate<'_> {
        Candidate {
            first_wildcard: self.first_wildcard,
            is_prefix: self.is_prefix,
            wildcards: self.wildcards,
            path: &self.path,
            caps: self.caps,
        }
    }
}

/// A byte trie of prefix rules answering "longest rule that is a prefix of
/// this path" in one pass over the path.
#[derive(Clone, Debug)]
struct PrefixTrie {
    /// Node 0 is the root (the empty prefix).
    nodes: Vec<TrieNode>,
}

/// One trie node.
#[derive(Clone, Debug, Default)]
struct TrieNode {
    /// Children sorted by byte.
    children: Vec<(u8, usize)>,
    /// Capabilities of the rule ending here, if any.
    value: Option<CapabilitySet>,
}

impl PrefixTrie {
    /// A trie with only the root node.
    fn new() -> PrefixTrie {
        PrefixTrie {
            nodes: vec![TrieNode::default()],
        }
    }

    /// Stores `caps` for `prefix` (replacing any previous value).
    fn insert(&mut self, prefix: &str, caps: CapabilitySet) {
        let node = prefix
            .bytes()
            .fold(0, |node, byte| self.child_or_insert(node, byte));
        if let Some(n) = self.nodes.get_mut(node) {
            n.value = Some(caps);
        }
    }

    /// The child of `node` for `byte`, created if missing.
    fn child_or_insert(&mut self, node: usize, byte: u8) -> usize {
        let next = self.nodes.len();
        let Some(n) = self.nodes.get_mut(node) else {
            return node;
        };
        match n.children.binary_search_by_key(&byte, |(b, _)| *b) {
            Ok(i) => n.children.get(i).map_or(node, |(_, child)| *child),
            Err(i) => {
                n.children.insert(i, (byte, next));
                self.nodes.push(TrieNode::default());
                next
            }
        }
    }

    /// The child of `node` for `byte`, if any.
    fn child(&self, node: usize, byte: u8) -> Option<usize> {
        let children = &self.nodes.get(node)?.children;
        let i = children.binary_search_by_key(&byte, |(b, _)| *b).ok()?;
        children.get(i).map(|(_, child)| *child)
    }

    /// Whether a rule whose prefix starts with `path` satisfies `pred`.
    fn any_below(&self, path: &str, pred: &dyn Fn(&CapabilitySet) -> bool) -> bool {
        let mut node = 0;
        for byte in path.bytes() {
            match self.child(node, byte) {
                Some(next) => node = next,
                None => return false,
            }
        }
        let mut stack = vec![node];
        while let Some(n) = stack.pop() {
            let Some(tn) = self.nodes.get(n) else {
                continue;
            };
            if tn.value.as_ref().is_some_and(pred) {
                return true;
            }
            stack.extend(tn.children.iter().map(|(_, c)| *c));
        }
        false
    }

    /// Length and capabilities of the longest stored prefix of `path`.
    fn longest_match(&self, path: &str) -> Option<(usize, CapabilitySet)> {
        let value_at = |node: usize| self.nodes.get(node).and_then(|n| n.value);
        let mut best = value_at(0).map(|caps| (0, caps));
        let mut node = 0;
        for (i, byte) in path.bytes().enumerate() {
            match self.child(node, byte) {
                Some(next) => node = next,
                None => break,
            }
            if let Some(caps) = value_at(node) {
                best = Some((i + 1, caps));
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::super::{parse, Capability, PolicyError, DEFAULT_POLICY};
    use super::*;
    use proptest::prelude::*;

    fn policy(name: &str, text: &str) -> Arc<Policy> {
        match parse(name, text) {
            Ok(p) => Arc::new(p),
            Err(e) => panic!("policy {name} should parse: {e}"),
        }
    }

    fn acl(texts: &[&str]) -> Acl {
        let policies: Vec<Arc<Policy>> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| policy(&format!("p{i}"), t))
            .collect();
        Acl::new(&policies)
    }

    #[test]
    fn mount_access_needs_a_grant_on_or_below_the_mount() {
        let a = acl(&[r#"path "secret/data/app/*" { capabilities = ["read"] }"#]);
        assert!(a.has_mount_access("secret/"));
        assert!(!a.has_mount_access("other/"));
        let a = acl(&[r#"path "sec*" { capabilities = ["list"] }"#]);
        assert!(a.has_mount_access("secret/"));
        let a = acl(&[r#"path "+/data/x" { capabilities = ["read"] }"#]);
        assert!(a.has_mount_access("kv/"));
        let a = acl(&[r#"path "kv/+/x" { capabilities = ["read"] }"#]);
        assert!(a.has_mount_access("kv/"));
        assert!(!a.has_mount_access("secret/"));
        let a = acl(&[
            r#"path "secret/x" { capabilities = ["deny"] }"#,
            r#"path "other/*" { capabilities = ["read"] }"#,
        ]);
        assert!(!a.has_mount_access("secret/"));
        assert!(Acl::root().has_mount_access("anything/"));
        assert!(!acl(&[]).has_mount_access("secret/"));
    }

    fn caps(acl: &Acl, path: &str) -> Vec<String> {
        acl.capabilities(path).to_strings()
    }

    #[test]
    fn no_policies_grant_nothing() {
        let acl = Acl::new(&[]);
        assert!(!acl.is_root());
        assert!(acl.capabilities("secret/x").is_empty());
        assert!(acl.capabilities("").is_empty());
        assert_eq!(acl.capabilities_strings("secret/x"), vec!["deny"]);
    }

    #[test]
    fn root_grants_everything() {
        let root = Acl::root();
        assert!(root.is_root());
        assert_eq!(root.capabilities("any/path"), CapabilitySet::all());
        assert!(root.capabilities("sys/seal").contains(Capability::Sudo));
        assert_eq!(root.capabilities_strings("x"), vec!["root"]);
        assert_eq!(root.list_capabilities("x/"), CapabilitySet::all());
    }

    #[test]
    fn a_policy_named_root_makes_the_acl_root() {
        let acl = Acl::new(&[
            policy("deny-all", r#"path "*" { capabilities = ["deny"] }"#),
            policy(ROOT_POLICY, ""),
        ]);
        assert!(acl.is_root());
        assert_eq!(acl.capabilities_strings("secret/x"), vec!["root"]);
    }

    #[test]
    fn exact_beats_glob() {
        let acl = acl(&[r#"
            path "secret/foo" { capabilities = ["read"] }
            path "secret/*" { capabilities = ["list", "update"] }
            path "secret/foo*" { capabilities = ["delete"] }
        "#]);
        assert_eq!(caps(&acl, "secret/foo"), vec!["read"]);
        assert_eq!(caps(&acl, "secret/foobar"), vec!["delete"]);
        assert_eq!(caps(&acl, "secret/bar"), vec!["list", "update"]);
        assert_eq!(caps(&acl, "secret"), vec!["deny"]);
    }

    #[test]
    fn exact_and_prefix_on_same_string_do_not_merge() {
        let acl = acl(&[
            r#"path "a" { capabilities = ["read"] }"#,
            r#"path "a*" { capabilities = ["list"] }"#,
        ]);
        assert_eq!(caps(&acl, "a"), vec!["read"]);
        assert_eq!(caps(&acl, "ab"), vec!["list"]);
    }

    #[test]
    fn longer_prefix_beats_shorter_without_leaking() {
        let acl = acl(&[r#"
            path "*" { capabilities = ["sudo"] }
            path "secret/*" { capabilities = ["read", "update"] }
            path "secret/app/*" { capabilities = ["list"] }
        "#]);
        assert_eq!(caps(&acl, "secret/app/x"), vec!["list"]);
        assert_eq!(caps(&acl, "secret/app/"), vec!["list"]);
        assert_eq!(caps(&acl, "secret/apple"), vec!["read", "update"]);
        assert_eq!(caps(&acl, "secret/"), vec!["read", "update"]);
        assert_eq!(caps(&acl, "secret"), vec!["sudo"]);
        assert_eq!(caps(&acl, ""), vec!["sudo"]);
    }

    #[test]
    fn deny_on_a_more_specific_path_wins() {
        let acl = acl(&[
            r#"path "secret/*" { capabilities = ["read", "list"] }"#,
            r#"path "secret/admin/*" { capabilities = ["deny"] }
               path "secret/admin/readme" { capabilities = ["read"] }"#,
        ]);
        assert_eq!(caps(&acl, "secret/x"), vec!["list", "read"]);
        assert!(acl.capabilities("secret/admin/keys").is_empty());
        assert_eq!(caps(&acl, "secret/admin/readme"), vec!["read"]);
    }

    #[test]
    fn a_more_specific_rule_without_a_capability_hides_it() {
        let acl = acl(&[r#"
            path "secret/*" { capabilities = ["read", "update", "delete"] }
            path "secret/locked/*" { capabilities = [] }
        "#]);
        assert!(acl.capabilities("secret/locked/x").is_empty());
        assert_eq!(caps(&acl, "secret/open"), vec!["delete", "read", "update"]);
    }

    #[test]
    fn duplicates_merge_across_policies_and_within_one() {
        let acl1 = acl(&[
            r#"path "secret/*" { capabilities = ["read"] }"#,
            r#"path "secret/*" { capabilities = ["list"] }
               path "secret/*" { capabilities = ["update"] }"#,
        ]);
        assert_eq!(caps(&acl1, "secret/x"), vec!["list", "read", "update"]);

        let acl2 = acl(&[
            r#"path "secret/*" { capabilities = ["read"] }"#,
            r#"path "secret/*" { capabilities = ["deny"] }"#,
            r#"path "secret/*" { capabilities = ["list"] }"#,
        ]);
        assert!(acl2.capabilities("secret/x").is_empty());

        let acl3 = acl(&[
            r#"path "a/+/c" { capabilities = ["read"] }"#,
            r#"path "a/+/c" { capabilities = ["list"] }"#,
            r#"path "x" { capabilities = ["read"] }"#,
            r#"path "/x" { capabilities = ["deny"] }"#,
        ]);
        assert_eq!(caps(&acl3, "a/b/c"), vec!["list", "read"]);
        assert!(acl3.capabilities("x").is_empty());
    }

    #[test]
    fn plus_matches_exactly_one_segment() {
        let acl = acl(&[r#"path "secret/+/config" { capabilities = ["read"] }"#]);
        assert_eq!(caps(&acl, "secret/app/config"), vec!["read"]);
        assert_eq!(caps(&acl, "secret//config"), vec!["read"]);
        assert_eq!(caps(&acl, "secret/a/b/config"), vec!["deny"]);
        assert_eq!(caps(&acl, "secret/app/config/x"), vec!["deny"]);
        assert_eq!(caps(&acl, "secret/app"), vec!["deny"]);
    }

    #[test]
    fn plus_with_prefix() {
        let acl = acl(&[r#"
            path "+/data/*" { capabilities = ["read"] }
            path "kv/+/app/*" { capabilities = ["list"] }
            path "kv/+/te*" { capabilities = ["update"] }
        "#]);
        assert_eq!(caps(&acl, "secret/data/x/y"), vec!["read"]);
        assert_eq!(caps(&acl, "secret/data/"), vec!["read"]);
        assert_eq!(caps(&acl, "secret/data"), vec!["deny"]);
        // "+/data/*" has its first wildcard at 0, "kv/+/app/*" at 3.
        assert_eq!(caps(&acl, "kv/data/app/x"), vec!["list"]);
        assert_eq!(caps(&acl, "kv/data/test/1"), vec!["update"]);
        assert_eq!(caps(&acl, "kv/data/team"), vec!["update"]);
        assert_eq!(caps(&acl, "kv/data/other"), vec!["read"]);
    }

    #[test]
    fn later_first_wildcard_wins() {
        let acl = acl(&[r#"
            path "secret/app/+" { capabilities = ["read"] }
            path "secret/+/config" { capabilities = ["list"] }
            path "secret/*" { capabilities = ["update"] }
        "#]);
        assert_eq!(caps(&acl, "secret/app/config"), vec!["read"]);
        assert_eq!(caps(&acl, "secret/web/config"), vec!["list"]);
        assert_eq!(caps(&acl, "secret/web/x"), vec!["update"]);
    }

    #[test]
    fn with_same_first_wildcard_non_glob_wins() {
        // "secret/+/config" (first wildcard at 7, no '*') beats "secret/*"
        // (first wildcard at 7, glob).
        let acl = acl(&[r#"
            path "secret/*" { capabilities = ["update"] }
            path "secret/+/config" { capabilities = ["read"] }
            path "foo/+/ba*" { capabilities = ["list"] }
            path "foo/+/bar" { capabilities = ["delete"] }
        "#]);
        assert_eq!(caps(&acl, "secret/x/config"), vec!["read"]);
        assert_eq!(caps(&acl, "foo/x/bar"), vec!["delete"]);
        assert_eq!(caps(&acl, "foo/x/bark"), vec!["list"]);
    }

    #[test]
    fn fewer_plus_segments_win() {
        let acl = acl(&[r#"
            path "a/+/+/d" { capabilities = ["read"] }
            path "a/+/c/d" { capabilities = ["list"] }
        "#]);
        assert_eq!(caps(&acl, "a/b/c/d"), vec!["list"]);
        assert_eq!(caps(&acl, "a/b/x/d"), vec!["read"]);
    }

    #[test]
    fn longer_wins_when_otherwise_tied() {
        let acl = acl(&[r#"
            path "foo/+/bar/b*" { capabilities = ["read"] }
            path "foo/+/bar/ba*" { capabilities = ["list"] }
        "#]);
        assert_eq!(caps(&acl, "foo/x/bar/baz"), vec!["list"]);
        assert_eq!(caps(&acl, "foo/x/bar/bz"), vec!["read"]);
    }

    #[test]
    fn lexically_larger_wins_as_last_resort() {
        // Both rules: first '+' at offset 2, not globs, one '+' segment,
        // length 6. A literal "+b" segment only matches itself (as in Vault).
        let acl = acl(&[r#"
            path "x/+b/+" { capabilities = ["read"] }
            path "x/+/cd" { capabilities = ["list"] }
        "#]);
        assert_eq!(caps(&acl, "x/+b/cd"), vec!["read"]);
        assert_eq!(caps(&acl, "x/zz/cd"), vec!["list"]);
        assert_eq!(caps(&acl, "x/+b/zz"), vec!["read"]);
        assert_eq!(caps(&acl, "x/zz/zz"), vec!["deny"]);
    }

    #[test]
    fn length_is_compared_before_lexical_order() {
        // Same first wildcard (2), both exact, two '+' each: the longer rule
        // wins even though the other is lexically larger.
        let acl = acl(&[r#"
            path "a/+/b/+" { capabilities = ["read"] }
            path "a/+/+/cc" { capabilities = ["list"] }
        "#]);
        assert_eq!(caps(&acl, "a/x/b/cc"), vec!["list"]);
        assert_eq!(caps(&acl, "a/x/b/c"), vec!["read"]);
    }

    #[test]
    fn plus_inside_a_segment_is_literal() {
        let acl = acl(&[r#"
            path "a+b" { capabilities = ["read"] }
            path "q/a+" { capabilities = ["list"] }
        "#]);
        assert_eq!(caps(&acl, "a+b"), vec!["read"]);
        assert_eq!(caps(&acl, "axb"), vec!["deny"]);
        assert_eq!(caps(&acl, "q/a+"), vec!["list"]);
        assert_eq!(caps(&acl, "q/ab"), vec!["deny"]);
    }

    #[test]
    fn leading_slashes_are_ignored() {
        let acl = acl(&[r#"path "/secret/*" { capabilities = ["read"] }"#]);
        assert_eq!(caps(&acl, "secret/x"), vec!["read"]);
        assert_eq!(caps(&acl, "/secret/x"), vec!["read"]);
        assert_eq!(caps(&acl, "//secret/x"), vec!["read"]);
    }

    #[test]
    fn non_ascii_paths() {
        let acl = acl(&[r#"
            path "sé/*" { capabilities = ["read"] }
            path "s*" { capabilities = ["list"] }
        "#]);
        assert_eq!(caps(&acl, "sé/x"), vec!["read"]);
        assert_eq!(caps(&acl, "sé"), vec!["list"]);
        assert_eq!(caps(&acl, "s\u{e8}/x"), vec!["list"]);
    }

    #[test]
    fn list_fallback_for_trailing_slash() {
        let acl = acl(&[r#"
            path "secret/metadata/app" { capabilities = ["list"] }
            path "kv/+/dir" { capabilities = ["read"] }
        "#]);
        assert_eq!(
            acl.capabilities_strings("secret/metadata/app/"),
            vec!["list"]
        );
        assert_eq!(caps(&acl, "secret/metadata/app/"), vec!["deny"]);
        assert_eq!(
            acl.list_capabilities("secret/metadata/app/").to_strings(),
            vec!["list"]
        );
        assert_eq!(acl.capabilities_strings("kv/x/dir/"), vec!["read"]);
        assert_eq!(acl.capabilities_strings("kv/x/dir"), vec!["read"]);
    }

    #[test]
    fn list_fallback_prefers_the_path_without_slash() {
        // Vault checks wildcard rules against "a/b" before "a/b/", so the
        // less specific "a/b*" wins over "a/b/*" for a LIST on "a/b/".
        let acl = acl(&[r#"
            path "a/b*" { capabilities = ["read"] }
            path "a/b/*" { capabilities = ["list"] }
        "#]);
        assert_eq!(acl.capabilities_strings("a/b/"), vec!["read"]);
        assert_eq!(caps(&acl, "a/b/"), vec!["list"]);
        assert_eq!(acl.capabilities_strings("a/b/c"), vec!["list"]);
    }

    #[test]
    fn default_policy_plus_custom() {
        let acl = Acl::new(&[
            policy(DEFAULT_POLICY, super::super::default_policy_text()),
            policy("app", r#"path "cubbyhole/*" { capabilities = ["deny"] }"#),
        ]);
        assert!(acl.capabilities("cubbyhole/x").is_empty());
        assert_eq!(caps(&acl, "auth/token/lookup-self"), vec!["read"]);
    }

    #[test]
    fn trie_longest_match() {
        let mut trie = PrefixTrie::new();
        assert_eq!(trie.longest_match("abc"), None);
        let r: CapabilitySet = [Capability::Read].into_iter().collect();
        let l: CapabilitySet = [Capability::List].into_iter().collect();
        trie.insert("ab", r);
        trie.insert("abcd", l);
        trie.insert("b", l);
        assert_eq!(trie.longest_match("a"), None);
        assert_eq!(trie.longest_match("ab"), Some((2, r)));
        assert_eq!(trie.longest_match("abc"), Some((2, r)));
        assert_eq!(trie.longest_match("abcde"), Some((4, l)));
        assert_eq!(trie.longest_match("bcd"), Some((1, l)));
        trie.insert("", l);
        assert_eq!(trie.longest_match("x"), Some((0, l)));
    }

    #[test]
    fn policy_error_is_a_std_error() {
        fn takes(_: &dyn std::error::Error) {}
        takes(&PolicyError::Invalid("x".to_owned()));
    }

    // ---- property test against a brute-force reference -------------------

    /// Reference: does `rule` (as written, with optional trailing `*`) match
    /// `path`? Character-level glob: a whole `+` segment matches any run of
    /// non-`/` characters, a trailing `*` matches anything.
    fn ref_matches(rule: &str, path: &str) -> bool {
        #[derive(Clone, Copy, PartialEq)]
        enum Tok {
            Char(char),
            AnySegment,
        }
        fn go(toks: &[Tok], s: &[char], glob: bool) -> bool {
            match toks.split_first() {
                None => glob || s.is_empty(),
                Some((Tok::Char(c), rest)) => {
                    s.first() == Some(c) && go(rest, s.get(1..).unwrap_or(&[]), glob)
                }
                Some((Tok::AnySegment, rest)) => (0..=s.len())
                    .take_while(|&k| k == 0 || s[k - 1] != '/')
                    .any(|k| go(rest, &s[k..], glob)),
            }
        }
        let glob = rule.ends_with('*');
        let body = rule.strip_suffix('*').unwrap_or(rule);
        let mut toks = Vec::new();
        for (i, seg) in body.split('/').enumerate() {
            if i > 0 {
                toks.push(Tok::Char('/'));
            }
            if seg == "+" {
                toks.push(Tok::AnySegment);
            } else {
                toks.extend(seg.chars().map(Tok::Char));
            }
        }
        let chars: Vec<char> = path.chars().collect();
        go(&toks, &chars, glob)
    }

    /// Reference priority key, straight from Vault's documentation: a larger
    /// key wins.
    fn ref_key(rule: &str) -> (usize, bool, std::cmp::Reverse<usize>, usize, String) {
        let first_wildcard = rule.find(['+', '*']).unwrap_or(rule.len());
        let glob = rule.ends_with('*');
        let body = rule.strip_suffix('*').unwrap_or(rule);
        let plus = body.split('/').filter(|s| *s == "+").count();
        (
            first_wildcard,
            !glob,
            std::cmp::Reverse(plus),
            body.len(),
            body.to_owned(),
        )
    }

    /// Reference merge of two rules on the same path string.
    fn ref_merge(a: CapabilitySet, b: CapabilitySet) -> CapabilitySet {
        if a.contains(Capability::Deny) || b.contains(Capability::Deny) {
            return [Capability::Deny].into_iter().collect();
        }
        Capability::ALL
            .into_iter()
            .filter(|c| a.contains(*c) || b.contains(*c))
            .collect()
    }

    /// Reference ACL: merge identical rule strings, keep every matching
    /// rule, pick the maximum by [`ref_key`].
    fn reference(rules: &[(String, CapabilitySet)], path: &str) -> CapabilitySet {
        let path = path.trim_start_matches('/');
        let mut merged: Vec<(String, CapabilitySet)> = Vec::new();
        for (rule, caps) in rules {
            let rule = rule.strip_prefix('/').unwrap_or(rule).to_owned();
            match merged.iter_mut().find(|(r, _)| *r == rule) {
                Some(entry) => entry.1 = ref_merge(entry.1, *caps),
                None => merged.push((rule, *caps)),
            }
        }
        let winner = merged
            .iter()
            .filter(|(rule, _)| ref_matches(rule, path))
            .max_by_key(|(rule, _)| ref_key(rule));
        match winner {
            Some((_, caps)) if !caps.contains(Capability::Deny) => *caps,
            _ => CapabilitySet::empty(),
        }
    }

    fn rule_path() -> impl Strategy<Value = String> {
        let seg = prop::sample::select(vec!["a", "b", "ab", "+", "+"]);
        (prop::collection::vec(seg, 0..5), 0u8..5, any::<bool>()).prop_map(|(segs, tail, slash)| {
            let mut p = String::new();
            if slash {
                p.push('/');
            }
            p.push_str(&segs.join("/"));
            match tail {
                0 | 1 => {}
                2 | 3 => {
                    if p.ends_with('+') {
                        p.push('/');
                    }
                    p.push('*');
                }
                _ => p.push_str("/*"),
            }
            p
        })
    }

    fn capability_set() -> impl Strategy<Value = CapabilitySet> {
        (
            prop::collection::vec(0usize..7, 0..4),
            prop::bool::weighted(0.15),
        )
            .prop_map(|(idx, deny)| {
                let mut set: CapabilitySet = idx
                    .into_iter()
                    .filter_map(|i| Capability::ALL.get(i).copied())
                    .collect();
                if deny {
                    set.insert(Capability::Deny);
                }
                set
            })
    }

    fn policies() -> impl Strategy<Value = Vec<Vec<(String, CapabilitySet)>>> {
        prop::collection::vec(
            prop::collection::vec((rule_path(), capability_set()), 0..7),
            1..4,
        )
    }

    fn query_path() -> impl Strategy<Value = String> {
        let seg = prop::sample::select(vec!["a", "b", "c", "ab", "abc", "", "+"]);
        prop::collection::vec(seg, 0..6).prop_map(|segs| segs.join("/"))
    }

    fn render(rules: &[(String, CapabilitySet)]) -> String {
        rules
            .iter()
            .map(|(path, caps)| {
                let names: Vec<String> = Capability::ALL
                    .into_iter()
                    .filter(|c| caps.contains(*c))
                    .map(|c| format!("{:?}", c.as_str()))
                    .collect();
                format!(
                    "path {path:?} {{\n  capabilities = [{}]\n}}\n",
                    names.join(", ")
                )
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn acl_agrees_with_reference(
            policy_rules in policies(),
            paths in prop::collection::vec(query_path(), 1..24),
        ) {
            let compiled: Vec<Arc<Policy>> = policy_rules
                .iter()
                .enumerate()
                .map(|(i, rules)| policy(&format!("p{i}"), &render(rules)))
                .collect();
            let acl = Acl::new(&compiled);
            let all_rules: Vec<(String, CapabilitySet)> =
                policy_rules.iter().flatten().cloned().collect();
            for path in &paths {
                prop_assert_eq!(
                    acl.capabilities(path),
                    reference(&all_rules, path),
                    "path {:?}, rules {:?}", path, all_rules
                );
                // Without a trailing slash the LIST view is identical.
                if !path.ends_with('/') {
                    prop_assert_eq!(acl.list_capabilities(path), acl.capabilities(path));
                }
            }
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,200}") {
            let _ = parse("fuzz", &text);
        }

        #[test]
        fn parse_never_panics_on_policy_like_text(
            text in "(path|capabilities|policy|[\"{}\\[\\]=,#*+/ \n]|read|deny|[a-z]){0,60}",
        ) {
            let _ = parse("fuzz", &text);
        }
    }
}
