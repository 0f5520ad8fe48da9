//! Checks of every backend's declared route table, as the core loads them.
//!
//! Owns: tests only. Must not touch: anything at run time.

use std::sync::Arc;

use crate::barrier::Barrier;
use crate::logical::MountContext;
use crate::physical::InmemBackend;
use crate::router::MountEntry;
use crate::sdk::route::{self, Route};

fn context(kind: &str) -> MountContext {
    MountContext {
        path: format!("{kind}/"),
        kind: kind.to_string(),
        storage: Barrier::new(Arc::new(InmemBackend::new())).view("routes"),
        api_addr: None,
        clock: Arc::new(crate::sdk::SystemClock),
    }
}

/// (mount type, KV version or "", the table of a mount of that type).
fn tables() -> Vec<(&'static str, &'static str, &'static [Route])> {
    let mut out = Vec::new();
    for (kind, version) in [
        ("kv", "1"),
        ("kv", "2"),
        ("generic", ""),
        ("cubbyhole", ""),
        (crate::logical::apikeys::KIND, ""),
        (crate::logical::identity::KIND, ""),
    ] {
        let mut mount = MountEntry::new(&format!("{kind}/"), kind, "");
        if !version.is_empty() {
            mount.options.insert("version".into(), version.into());
        }
        let backend = super::state::backend_for(&context(kind)).expect(kind);
        out.push((kind, version, backend.routes(mount.point())));
    }
    for kind in ["approle", "userpass"] {
        let mount = MountEntry::new(&format!("auth/{kind}/"), kind, "");
        let backend = super::state::auth_backend_for(&context(kind)).expect(kind);
        out.push((kind, "", backend.routes(mount.point())));
    }
    out
}

#[test]
fn no_two_routes_of_a_table_match_the_same_path() {
    for (kind, version, table) in tables() {
        assert!(!table.is_empty(), "{kind} {version}");
        assert_eq!(
            route::overlaps(table),
            Vec::<String>::new(),
            "{kind} {version}"
        );
    }
}

#[test]
fn every_route_serves_something_and_is_reachable() {
    for (kind, version, table) in tables() {
        for r in table {
            assert!(!r.operations.is_empty(), "{kind} {}", r.pattern);
            // an instance of the pattern finds this very route
            let path: String = r
                .pattern
                .split('/')
                .map(|seg| if seg.starts_with(':') { "x" } else { seg })
                .collect::<Vec<_>>()
                .join("/");
            let m = route::find(table, &path, r.operations[0])
                .unwrap_or_else(|e| panic!("{kind} {version} {}: {e}", r.pattern));
            assert_eq!(m.pattern(), r.pattern, "{kind} {version}");
        }
    }
}

#[test]
fn unauthenticated_and_sudo_routes_are_the_declared_ones() {
    for (kind, version, table) in tables() {
        let open: Vec<&str> = table
            .iter()
            .filter(|r| r.unauthenticated)
            .map(|r| r.pattern)
            .collect();
        let want: &[&str] = match kind {
            "approle" => &["login"],
            "userpass" => &["login/:username"],
            "identity" => &[
                "oidc/.well-known/keys",
                "oidc/.well-known/openid-configuration",
            ],
            _ => &[],
        };
        assert_eq!(open, want, "{kind} {version}");
        assert!(table.iter().all(|r| !r.sudo), "{kind} {version}");
    }
}
