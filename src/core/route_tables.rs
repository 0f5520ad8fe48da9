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
        telemetry: Arc::new(crate::sdk::NoTelemetry),
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

/// The core's own tables (`sys/`, `auth/token/`) through the pipeline:
/// what is not served, and what is.
mod system_and_token_store {
    use std::sync::Arc;

    use serde_json::{json, Value};

    use crate::barrier::Barrier;
    use crate::core::{Core, CoreConfig, CoreError};
    use crate::physical::InmemBackend;
    use crate::sdk::{Operation, Request, Response};
    use crate::seal::SealConfig;
    use Operation::*;

    fn core() -> (Arc<Core>, String) {
        core_with(CoreConfig::default())
    }

    fn core_with(config: CoreConfig) -> (Arc<Core>, String) {
        let core = Core::new(Barrier::new(Arc::new(InmemBackend::new())), config);
        let init = core.initialize(SealConfig::new(1, 1).unwrap()).unwrap();
        core.submit_unseal_share(init.shares[0].clone()).unwrap();
        (core, init.root_token.expose().to_string())
    }

    fn send(
        core: &Core,
        token: &str,
        op: Operation,
        path: &str,
        body: Value,
    ) -> Result<Response, CoreError> {
        let mut r = Request::new(op, path);
        r.client_token = Some(token.into());
        r.data = body.as_object().cloned().unwrap_or_default();
        core.handle(r)
    }

    fn status(r: Result<Response, CoreError>) -> u16 {
        match r {
            Ok(resp) => resp.status.unwrap_or(200),
            Err(e) => e.client_view().status,
        }
    }

    #[test]
    fn unknown_paths_are_404_and_wrong_operations_405() {
        let (core, root) = core();
        let cases = [
            (Read, "sys/nonsense", 404),
            (Update, "sys/leases/nonsense", 404),
            (Read, "auth/token/nonsense", 404),
            (Read, "auth/token/lookup/x", 404),
            (Patch, "sys/dev/clock", 404),
            (Read, "auth/token/create", 405),
            (Delete, "auth/token/lookup-self", 405),
            (Read, "sys/wrapping/wrap", 405),
            (Read, "sys/renew/x", 405),
            (List, "sys/mounts/secret/", 405),
            (List, "sys/policies/acl/default/", 405),
            (List, "auth/token/roles/web/", 405),
            (Delete, "sys/seal-status", 405),
            (Patch, "sys/mounts", 405),
            (Update, "sys/internal/ui/mounts/secret", 405),
        ];
        for (op, path, want) in cases {
            let got = status(send(&core, &root, op, path, json!({})));
            assert_eq!(got, want, "{op:?} {path}");
        }
    }

    #[test]
    fn a_lease_named_in_the_path_is_renewed() {
        let (core, root) = core();
        send(
            &core,
            &root,
            Update,
            "auth/token/create",
            json!({"ttl": "1h"}),
        )
        .unwrap();
        let listed = send(
            &core,
            &root,
            List,
            "sys/leases/lookup/auth/token/create/",
            json!({}),
        )
        .unwrap();
        let key = listed.data.unwrap()["keys"][0]
            .as_str()
            .unwrap()
            .to_string();
        let lease = format!("auth/token/create/{key}");
        // The route reaches the handler with the lease from the path: a
        // token's lease is refused there, as Vault refuses it (tokens are
        // renewed through auth/token/renew*), not 404 or 405.
        let refused = send(
            &core,
            &root,
            Update,
            &format!("sys/leases/renew/{lease}"),
            json!({"increment": "2h"}),
        )
        .unwrap_err();
        assert!(
            matches!(&refused, CoreError::BadRequest(m) if m.contains("auth/token/renew")),
            "{refused:?}"
        );
        // An unknown lease named in the path is looked up, and not found.
        assert!(send(
            &core,
            &root,
            Update,
            "sys/leases/renew/auth/token/create/nope",
            json!({}),
        )
        .is_err());
    }

    #[test]
    fn unserved_root_paths_still_need_sudo() {
        let (core, root) = core();
        let policy =
            r#"path "sys/*" { capabilities = ["create", "read", "update", "delete", "list"] }"#;
        send(
            &core,
            &root,
            Update,
            "sys/policies/acl/nosudo",
            json!({ "policy": policy }),
        )
        .unwrap();
        let token = send(
            &core,
            &root,
            Update,
            "auth/token/create",
            json!({"policies": ["nosudo"]}),
        )
        .unwrap()
        .auth
        .unwrap()
        .client_token
        .expose()
        .to_string();
        // Vault's root paths: refused before the token learns they are not
        // served; other unknown paths are 404.
        for (op, path, want) in [
            (Read, "sys/raw/core", 403),
            (Read, "sys/auditx", 403),
            (Update, "sys/leases/revoke-force/x", 403),
            (Read, "sys/seal", 403),
            (Read, "sys/nonsense", 404),
            (Read, "sys/mounts", 200),
            (Update, "sys/mounts/kv", 403),
            (List, "sys/leases/lookup/", 403),
        ] {
            let got = status(send(&core, &token, op, path, json!({})));
            assert_eq!(got, want, "{op:?} {path}");
            // the root token passes the same check
            assert_ne!(
                status(send(&core, &root, op, path, json!({"type": "kv"}))),
                403,
                "{op:?} {path}"
            );
        }
    }

    #[test]
    fn metrics_need_no_token_only_when_configured() {
        let anonymous = |core: &Core, op, path: &str| {
            let mut req = Request::new(op, path);
            let pre = core.precheck(&mut req).is_ok();
            (status(core.handle(req)), pre)
        };
        let (open, _) = core_with(CoreConfig {
            unauthenticated_metrics: true,
            ..CoreConfig::default()
        });
        assert_eq!(anonymous(&open, Read, "sys/metrics"), (200, true));
        assert_eq!(anonymous(&open, Update, "sys/metrics"), (405, true));
        assert_eq!(anonymous(&open, Read, "sys/metrics/x"), (403, false));
        assert_eq!(anonymous(&open, Read, "sys/health"), (200, true));
        let (closed, root) = core();
        assert_eq!(anonymous(&closed, Read, "sys/metrics"), (403, false));
        assert_eq!(
            status(send(&closed, &root, Read, "sys/metrics", json!({}))),
            200
        );
    }
}
