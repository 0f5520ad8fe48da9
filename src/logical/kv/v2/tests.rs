//! Endpoint-level tests of KV v2 against an in-memory barrier.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::{exists, handle, upgrade_v1_to_v2, KvState};
use crate::barrier::{Barrier, StorageView};
use crate::logical::{Caller, LogicalError, LogicalRequest};
use crate::physical::InmemBackend;
use crate::sdk::{Clock, ManualClock, MountPoint, Operation, Response};
use crate::seal::{new_unseal_key, SealConfig};

struct Kv {
    view: StorageView,
    /// The mount's options (`version = 2`).
    options: Map<String, Value>,
    state: KvState,
    clock: ManualClock,
}

impl Kv {
    fn new() -> Kv {
        let barrier = Barrier::new(Arc::new(InmemBackend::new()));
        barrier
            .initialize(&new_unseal_key(), &SealConfig::new(1, 1).unwrap())
            .unwrap();
        let id = uuid::Uuid::new_v4().to_string();
        let mut options = Map::new();
        options.insert("version".into(), json!("2"));
        Kv {
            view: barrier.view(&id),
            options,
            state: KvState::default(),
            clock: ManualClock::starting_now(),
        }
    }

    fn call(&self, op: Operation, path: &str, body: Value) -> Result<Response, LogicalError> {
        let data: Map<String, Value> = body.as_object().cloned().unwrap_or_default();
        let caller = Caller::default();
        let req = LogicalRequest {
            operation: op,
            path,
            data: &data,
            storage: &self.view,
            mount: MountPoint::new("kv/", "kv", &self.options),
            caller: &caller,
            clock: &self.clock,
        };
        handle(&self.state, &req)
    }

    fn ok(&self, op: Operation, path: &str, body: Value) -> Value {
        let r = self.call(op, path, body).unwrap();
        r.data.map(Value::Object).unwrap_or(Value::Null)
    }

    fn put(&self, key: &str, data: Value) -> Value {
        self.ok(
            Operation::Update,
            &format!("data/{key}"),
            json!({ "data": data }),
        )
    }

    fn exists(&self, path: &str) -> Option<bool> {
        let data = Map::new();
        let caller = Caller::default();
        let req = LogicalRequest {
            operation: Operation::Update,
            path,
            data: &data,
            storage: &self.view,
            mount: MountPoint::new("kv/", "kv", &self.options),
            caller: &caller,
            clock: &self.clock,
        };
        exists(&req).unwrap()
    }
}

fn not_found_body(r: Result<Response, LogicalError>) -> Value {
    match r {
        Ok(resp) if resp.is_not_found() => Value::Object(resp.data.unwrap()),
        other => panic!("expected a 404 with body, got {other:?}"),
    }
}

#[test]
fn write_read_versions() {
    let kv = Kv::new();
    assert_eq!(kv.exists("data/a"), Some(false));
    let w = kv.put("a", json!({"v": 1}));
    assert_eq!(w["version"], 1);
    assert_eq!(w["deletion_time"], "");
    assert_eq!(w["destroyed"], false);
    assert_eq!(w["custom_metadata"], Value::Null);
    kv.put("a", json!({"v": 2}));
    assert_eq!(kv.exists("data/a"), Some(true));
    assert_eq!(kv.exists("metadata/a"), Some(true));
    assert_eq!(kv.exists("config"), None);
    let r = kv.ok(Operation::Read, "data/a", json!({}));
    assert_eq!(r["data"], json!({"v": 2}));
    assert_eq!(r["metadata"]["version"], 2);
    let r = kv.ok(Operation::Read, "data/a", json!({"version": "1"}));
    assert_eq!(r["data"], json!({"v": 1}));
    assert!(matches!(
        kv.call(Operation::Read, "data/a", json!({"version": "7"})),
        Err(LogicalError::NotFound)
    ));
    assert!(matches!(
        kv.call(Operation::Read, "data/nope", json!({})),
        Err(LogicalError::NotFound)
    ));
    assert!(matches!(
        kv.call(Operation::Read, "data/a", json!({"version": "x"})),
        Err(LogicalError::BadRequest(_))
    ));
    assert!(matches!(
        kv.call(Operation::Update, "data/a", json!({"data": "x"})),
        Err(LogicalError::BadRequest(_))
    ));
    assert!(matches!(
        kv.call(Operation::Read, "nonsense/a", json!({})),
        Err(LogicalError::UnsupportedPath(_))
    ));
}

#[test]
fn check_and_set() {
    let kv = Kv::new();
    let w = |cas: u64| {
        kv.call(
            Operation::Update,
            "data/c",
            json!({"data": {"x": 1}, "options": {"cas": cas}}),
        )
    };
    assert!(w(0).is_ok());
    assert!(matches!(w(0), Err(LogicalError::CasMismatch)));
    assert!(w(1).is_ok());
    kv.ok(
        Operation::Update,
        "metadata/c",
        json!({"cas_required": true}),
    );
    assert!(kv
        .call(Operation::Update, "data/c", json!({"data": {"x": 1}}))
        .is_err());
    assert!(w(2).is_ok());
}

#[test]
fn delete_undelete_destroy_through_endpoints() {
    let kv = Kv::new();
    kv.put("d", json!({"v": 1}));
    kv.put("d", json!({"v": 2}));
    kv.ok(Operation::Delete, "data/d", json!({}));
    let body = not_found_body(kv.call(Operation::Read, "data/d", json!({})));
    assert_eq!(body["data"], Value::Null);
    assert_eq!(body["metadata"]["version"], 2);
    assert_ne!(body["metadata"]["deletion_time"], "");
    kv.ok(Operation::Update, "undelete/d", json!({"versions": [2]}));
    assert_eq!(kv.ok(Operation::Read, "data/d", json!({}))["data"]["v"], 2);
    kv.ok(Operation::Update, "delete/d", json!({"versions": "1"}));
    not_found_body(kv.call(Operation::Read, "data/d", json!({"version": "1"})));
    kv.ok(Operation::Update, "destroy/d", json!({"versions": [1]}));
    let body = not_found_body(kv.call(Operation::Read, "data/d", json!({"version": "1"})));
    assert_eq!(body["metadata"]["destroyed"], true);
    kv.ok(Operation::Update, "undelete/d", json!({"versions": [1]}));
    not_found_body(kv.call(Operation::Read, "data/d", json!({"version": "1"})));
    assert!(matches!(
        kv.call(Operation::Update, "destroy/d", json!({})),
        Err(LogicalError::BadRequest(_))
    ));
    assert!(matches!(
        kv.call(Operation::Read, "destroy/d", json!({})),
        Err(LogicalError::UnsupportedOperation)
    ));
    // the destroyed version's data is gone from storage
    assert_eq!(
        kv.view.get(&super::store::version_path("d", 1)).unwrap(),
        None
    );
    // patching a deleted latest version is a 404 with the flat metadata
    kv.ok(Operation::Delete, "data/d", json!({}));
    let body = not_found_body(kv.call(Operation::Patch, "data/d", json!({"data": {"x": 1}})));
    assert_eq!(body["version"], 2);
}

#[test]
fn patch_merges_into_a_new_version() {
    let kv = Kv::new();
    kv.put("p", json!({"a": 1, "b": {"c": 2, "d": 3}, "e": 5}));
    let r = kv.ok(
        Operation::Patch,
        "data/p",
        json!({"data": {"a": null, "b": {"c": 20}, "f": 6}}),
    );
    assert_eq!(r["version"], 2);
    let r = kv.ok(Operation::Read, "data/p", json!({}));
    assert_eq!(r["data"], json!({"b": {"c": 20, "d": 3}, "e": 5, "f": 6}));
    assert!(matches!(
        kv.call(Operation::Patch, "data/missing", json!({"data": {"a": 1}})),
        Err(LogicalError::NotFound)
    ));
}

#[test]
fn pruning_removes_data_and_advances_oldest() {
    let kv = Kv::new();
    kv.put("m", json!({"v": 1}));
    kv.ok(Operation::Update, "metadata/m", json!({"max_versions": 2}));
    for i in 2..=5 {
        kv.put("m", json!({ "v": i }));
    }
    let meta = kv.ok(Operation::Read, "metadata/m", json!({}));
    assert_eq!(meta["oldest_version"], 4);
    assert_eq!(meta["current_version"], 5);
    assert_eq!(meta["max_versions"], 2);
    let versions: Vec<&String> = meta["versions"].as_object().unwrap().keys().collect();
    assert_eq!(versions, vec!["4", "5"]);
    let stored = kv.view.scan(&super::store::versions_folder("m")).unwrap();
    assert_eq!(stored.len(), 2);
}

#[test]
fn metadata_list_custom_and_delete() {
    let kv = Kv::new();
    for k in ["f/a", "f/b/c", "g"] {
        kv.put(k, json!({"k": k}));
    }
    assert_eq!(
        kv.ok(Operation::List, "metadata/", json!({}))["keys"],
        json!(["f/", "g"])
    );
    assert_eq!(
        kv.ok(Operation::List, "metadata", json!({}))["keys"],
        json!(["f/", "g"])
    );
    assert_eq!(
        kv.ok(Operation::List, "metadata/f", json!({}))["keys"],
        json!(["a", "b/"])
    );
    assert!(matches!(
        kv.call(Operation::List, "metadata/zz/", json!({})),
        Err(LogicalError::NotFound)
    ));
    kv.ok(
        Operation::Update,
        "metadata/g",
        json!({"custom_metadata": {"owner": "me", "n": 1}}),
    );
    let meta = kv.ok(Operation::Read, "metadata/g", json!({}));
    assert_eq!(meta["custom_metadata"], json!({"owner": "me", "n": "1"}));
    assert_eq!(meta["delete_version_after"], "0s");
    kv.ok(
        Operation::Patch,
        "metadata/g",
        json!({"custom_metadata": {"n": null, "t": "x"}, "max_versions": 4}),
    );
    let meta = kv.ok(Operation::Read, "metadata/g", json!({}));
    assert_eq!(meta["custom_metadata"], json!({"owner": "me", "t": "x"}));
    assert_eq!(meta["max_versions"], 4);
    let r = kv.ok(Operation::Read, "data/g", json!({}));
    assert_eq!(r["metadata"]["custom_metadata"]["owner"], "me");
    kv.ok(Operation::Delete, "metadata/f/a", json!({}));
    assert_eq!(
        kv.ok(Operation::List, "metadata/f", json!({}))["keys"],
        json!(["b/"])
    );
    assert!(kv
        .view
        .scan(&super::store::versions_folder("f/a"))
        .unwrap()
        .is_empty());
    assert_eq!(kv.put("f/a", json!({"again": true}))["version"], 1);
    assert!(matches!(
        kv.call(
            Operation::Patch,
            "metadata/none",
            json!({"max_versions": 1})
        ),
        Err(LogicalError::NotFound)
    ));
}

#[test]
fn config_applies_to_keys() {
    let kv = Kv::new();
    let c = kv.ok(Operation::Read, "config", json!({}));
    assert_eq!(
        c,
        json!({"max_versions": 0, "cas_required": false, "delete_version_after": "0s"})
    );
    kv.ok(
        Operation::Update,
        "config",
        json!({"max_versions": 3, "cas_required": true, "delete_version_after": "1h"}),
    );
    let c = kv.ok(Operation::Read, "config", json!({}));
    assert_eq!(c["delete_version_after"], "1h0m0s");
    assert!(kv
        .call(Operation::Update, "data/x", json!({"data": {}}))
        .is_err());
    let w = kv.ok(
        Operation::Update,
        "data/x",
        json!({"data": {}, "options": {"cas": 0}}),
    );
    assert_ne!(w["deletion_time"], "");
    let r = kv
        .call(
            Operation::Update,
            "metadata/x",
            json!({"cas_required": false}),
        )
        .unwrap();
    assert_eq!(r.warnings.len(), 1);
    kv.ok(
        Operation::Update,
        "config",
        json!({"delete_version_after": "-1s"}),
    );
    assert_eq!(
        kv.ok(Operation::Read, "config", json!({}))["delete_version_after"],
        "-1s"
    );
    let w = kv.ok(
        Operation::Update,
        "data/x",
        json!({"data": {}, "options": {"cas": 1}}),
    );
    assert_eq!(w["deletion_time"], "");
}

#[test]
fn subkeys_endpoint() {
    let kv = Kv::new();
    kv.put("s", json!({"a": 1, "b": {"c": 2}}));
    let r = kv.ok(Operation::Read, "subkeys/s", json!({"depth": "1"}));
    assert_eq!(r["subkeys"], json!({"a": null, "b": null}));
    let r = kv.ok(Operation::Read, "subkeys/s", json!({}));
    assert_eq!(r["subkeys"], json!({"a": null, "b": {"c": null}}));
    assert_eq!(r["metadata"]["version"], 1);
}

#[test]
fn upgrade_converts_v1_entries_atomically_and_idempotently() {
    let kv = Kv::new();
    // v1 layout: JSON objects at the user's paths, including ones that look
    // like the v2 layout.
    for (p, v) in [
        ("a", json!({"v": "a"})),
        ("dir/b", json!({"v": "b"})),
        ("v2/meta/a", json!({"v": "tricky"})),
        ("v2/config", json!({"max_versions": 1})),
    ] {
        kv.view.put_json(p, &v).unwrap();
    }
    upgrade_v1_to_v2(&kv.state.upgrade, &kv.view, kv.clock.now()).unwrap();
    let once = kv.view.scan("").unwrap();
    upgrade_v1_to_v2(&kv.state.upgrade, &kv.view, kv.clock.now()).unwrap();
    assert_eq!(
        kv.view.scan("").unwrap(),
        once,
        "a second upgrade changes nothing"
    );
    for (k, want) in [("a", "a"), ("dir/b", "b"), ("v2/meta/a", "tricky")] {
        let r = kv.ok(Operation::Read, &format!("data/{k}"), json!({}));
        assert_eq!(r["data"]["v"], want, "{k}");
        assert_eq!(r["metadata"]["version"], 1);
    }
    let r = kv.ok(Operation::Read, "data/v2/config", json!({}));
    assert_eq!(r["data"], json!({"max_versions": 1}));
    // the v1 config-looking entry did not become the mount's config
    assert_eq!(
        kv.ok(Operation::Read, "config", json!({}))["max_versions"],
        0
    );
    assert_eq!(kv.put("a", json!({"v": 2}))["version"], 2);
}

#[test]
fn upgrade_of_an_empty_view_marks_it() {
    let kv = Kv::new();
    upgrade_v1_to_v2(&kv.state.upgrade, &kv.view, kv.clock.now()).unwrap();
    assert_eq!(
        kv.view.scan("").unwrap(),
        vec![super::store::MARKER_PATH.to_string()]
    );
    assert!(super::v1_guard(&kv.state.upgrade, &kv.view).is_err());
}

#[test]
fn native_v2_mounts_are_marked_so_an_upgrade_is_a_no_op() {
    let kv = Kv::new();
    kv.put("a", json!({"v": 1}));
    let before = kv.view.scan("").unwrap();
    upgrade_v1_to_v2(&kv.state.upgrade, &kv.view, kv.clock.now()).unwrap();
    assert_eq!(kv.view.scan("").unwrap(), before);
    assert_eq!(kv.ok(Operation::Read, "data/a", json!({}))["data"]["v"], 1);
}

#[test]
fn concurrent_cas_writers_never_share_a_version() {
    let kv = Arc::new(Kv::new());
    let acked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let kv = kv.clone();
            let acked = acked.clone();
            std::thread::spawn(move || {
                for _ in 0..20 {
                    let current = kv
                        .call(Operation::Read, "metadata/hot", json!({}))
                        .ok()
                        .and_then(|r| r.data)
                        .and_then(|d| d.get("current_version").and_then(Value::as_u64))
                        .unwrap_or(0);
                    let body = json!({"data": {"t": t}, "options": {"cas": current}});
                    if let Ok(r) = kv.call(Operation::Update, "data/hot", body) {
                        let v = r.data.unwrap()["version"].as_u64().unwrap();
                        acked.lock().unwrap().push(v);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut acked = acked.lock().unwrap().clone();
    let n = acked.len();
    acked.sort_unstable();
    acked.dedup();
    assert_eq!(acked.len(), n, "a version was acknowledged twice");
    let meta = kv.ok(Operation::Read, "metadata/hot", json!({}));
    assert_eq!(meta["current_version"].as_u64().unwrap() as usize, n);
}

#[test]
fn upgrade_state_belongs_to_the_mount_instance() {
    let kv = Kv::new();
    upgrade_v1_to_v2(&kv.state.upgrade, &kv.view, kv.clock.now()).unwrap();
    assert!(super::v1_guard(&kv.state.upgrade, &kv.view).is_err());
    // A new instance (the mount loaded again after a seal) starts clean:
    // nothing of the old one's guard or caches survives in the process.
    let fresh = KvState::default();
    assert!(super::v1_guard(&fresh.upgrade, &kv.view).is_ok());
    // ...and its marker cache is empty, so it checks storage again.
    kv.view.delete(super::store::MARKER_PATH).unwrap();
    super::store::ensure_marker(&fresh, &kv.view).unwrap();
    assert!(kv.view.get(super::store::MARKER_PATH).unwrap().is_some());
}

#[test]
fn delete_version_after_counts_on_the_mount_clock() {
    let kv = Kv::new();
    kv.ok(
        Operation::Update,
        "metadata/dva",
        json!({"delete_version_after": "10s"}),
    );
    let w = kv.put("dva", json!({"v": 1}));
    let due = time::OffsetDateTime::parse(
        w["deletion_time"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let expected = kv.clock.now() + time::Duration::seconds(10);
    assert!((expected - due).abs() < time::Duration::milliseconds(1));
    kv.clock.advance(std::time::Duration::from_secs(9));
    assert_eq!(
        kv.ok(Operation::Read, "data/dva", json!({}))["data"]["v"],
        1
    );
    kv.clock.advance(std::time::Duration::from_secs(2));
    let body = not_found_body(kv.call(Operation::Read, "data/dva", json!({})));
    assert_eq!(body["data"], Value::Null);
    assert_eq!(body["metadata"]["version"], 1);
}
