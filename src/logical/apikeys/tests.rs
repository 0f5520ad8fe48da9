//! Engine tests against a real barrier over counting in-memory storage.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::*;
use crate::barrier::Barrier;
use crate::logical::Caller;
use crate::physical::{Backend, InmemBackend, PhysicalError, TxnOp};
use crate::sdk::{Clock, ManualClock, MountPoint, Response};
use crate::seal::{new_unseal_key, SealConfig};

/// In-memory storage that counts every access.
struct Counting {
    inner: InmemBackend,
    reads: AtomicU64,
    writes: AtomicU64,
}

impl Backend for Counting {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PhysicalError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.get(key)
    }
    fn put(&self, key: &str, value: &[u8]) -> Result<(), PhysicalError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.put(key, value)
    }
    fn delete(&self, key: &str) -> Result<(), PhysicalError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(key)
    }
    fn list(&self, prefix: &str) -> Result<Vec<String>, PhysicalError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.list(prefix)
    }
    fn scan(&self, prefix: &str) -> Result<Vec<String>, PhysicalError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.scan(prefix)
    }
    fn transaction(&self, ops: Vec<TxnOp>) -> Result<(), PhysicalError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.transaction(ops)
    }
    fn flush(&self) -> Result<(), PhysicalError> {
        self.inner.flush()
    }
    fn kind(&self) -> &'static str {
        "counting"
    }
}

struct Env {
    phys: Arc<Counting>,
    storage: StorageView,
    options: Map<String, Value>,
    backend: ApiKeysBackend,
    clock: Arc<ManualClock>,
}

impl Env {
    fn new() -> Env {
        let phys = Arc::new(Counting {
            inner: InmemBackend::new(),
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
        });
        let barrier = Barrier::new(phys.clone());
        barrier
            .initialize(&new_unseal_key(), &SealConfig::new(1, 1).unwrap())
            .unwrap();
        let storage = barrier.view(&uuid::Uuid::new_v4().to_string());
        Env {
            backend: ApiKeysBackend::new(Arc::new(Registry::default()), storage.clone()),
            storage,
            phys,
            options: Map::new(),
            clock: Arc::new(ManualClock::starting_now()),
        }
    }

    /// The same storage seen by a fresh process (restart).
    fn restarted(&self) -> Env {
        Env {
            phys: self.phys.clone(),
            storage: self.storage.clone(),
            options: self.options.clone(),
            backend: ApiKeysBackend::new(Arc::new(Registry::default()), self.storage.clone()),
            clock: self.clock.clone(),
        }
    }

    fn call(&self, op: Operation, path: &str, body: Value) -> Result<Response, LogicalError> {
        let data: Map<String, Value> = body.as_object().cloned().unwrap_or_default();
        let caller = Caller {
            accessor: "acc-1".into(),
            ..Caller::default()
        };
        let req = LogicalRequest {
            operation: op,
            path,
            data: &data,
            storage: &self.storage,
            mount: MountPoint::new("apikeys/", KIND, &self.options),
            caller: &caller,
            clock: self.clock.as_ref(),
        };
        self.backend.handle(&req)
    }

    fn ok(&self, op: Operation, path: &str, body: Value) -> Value {
        match self.call(op, path, body) {
            Ok(r) => Value::Object(r.data.unwrap_or_default()),
            Err(e) => panic!("{path}: {e}"),
        }
    }

    fn create(&self, name: &str, body: Value) -> String {
        let d = self.ok(Operation::Update, &format!("keys/{name}"), body);
        d["key"].as_str().unwrap().to_string()
    }

    fn validate(&self, body: Value) -> Value {
        self.ok(Operation::Update, "validate", body)
    }

    fn reason(&self, key: &str) -> String {
        let v = self.validate(json!({ "key": key }));
        if v["valid"] == true {
            "valid".into()
        } else {
            v["reason"].as_str().unwrap().to_string()
        }
    }

    fn state(&self) -> Arc<MountState> {
        self.backend.registry.state(&self.storage).unwrap()
    }

    fn io(&self) -> (u64, u64) {
        (
            self.phys.reads.load(Ordering::SeqCst),
            self.phys.writes.load(Ordering::SeqCst),
        )
    }
}

fn one_char_changed(key: &str) -> String {
    let mut b = key.as_bytes().to_vec();
    let i = b.len() - 10;
    b[i] = if b[i] == b'x' { b'y' } else { b'x' };
    String::from_utf8(b).unwrap()
}

#[test]
fn create_and_validate_with_scopes_and_service() {
    let env = Env::new();
    let key = env.create(
        "billing",
        json!({"service": "billing", "scopes": ["orders:read", "refunds:*"], "metadata": {"team": "pay"}}),
    );
    assert!(key.starts_with("vrs_live_"), "{key}");
    let v = env.validate(json!({"key": key, "scope": "orders:read", "service": "billing"}));
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["name"], "billing");
    assert_eq!(v["version"], 1);
    assert_eq!(v["metadata"]["team"], "pay");
    let v = env.validate(json!({"key": key, "scope": "refunds:create"}));
    assert_eq!(v["valid"], true);
    let v = env.validate(json!({"key": key, "scope": "orders:write"}));
    assert_eq!(v, json!({"valid": false, "reason": "scope"}));
    let v = env.validate(json!({"key": key, "service": "other"}));
    assert_eq!(v["reason"], "service");
    // Metadata never shows a key.
    let meta = env.ok(Operation::Read, "keys/billing", json!({}));
    assert!(!meta.to_string().contains(&key));
    assert_eq!(meta["versions"]["1"]["state"], "current");
    let list = env.ok(Operation::List, "keys/", json!({}));
    assert_eq!(list["keys"], json!(["billing"]));
    // Creating again updates settings; the key stays.
    env.ok(
        Operation::Update,
        "keys/billing",
        json!({"scopes": ["orders:write"]}),
    );
    assert_eq!(env.reason(&key), "valid");
    let v = env.validate(json!({"key": key, "scope": "orders:write"}));
    assert_eq!(v["valid"], true);
}

#[test]
fn malformed_key_touches_no_storage_and_no_state() {
    let env = Env::new();
    let key = env.create("a", json!({"service": "s"}));
    // A fresh process: nothing loaded yet.
    let fresh = env.restarted();
    let before = fresh.io();
    assert_eq!(fresh.reason(&one_char_changed(&key)), "malformed");
    assert_eq!(fresh.reason("not a key at all"), "malformed");
    assert_eq!(fresh.io(), before, "a malformed key must not reach storage");
    assert!(fresh.backend.registry.peek(&fresh.storage).is_none());
}

#[test]
fn validation_is_memory_only_once_loaded() {
    let env = Env::new();
    let key = env.create("a", json!({"service": "s"}));
    env.rotate("a", json!({}));
    let before = env.io();
    for _ in 0..100 {
        assert_eq!(env.reason(&key), "valid");
        assert_eq!(env.reason(&one_char_changed(&key)), "malformed");
        let stranger = super::key::generate("vrs", super::key::Environment::Live);
        assert_eq!(env.reason(stranger.expose()), "unknown");
    }
    assert_eq!(env.io(), before, "no storage access per validation");
}

impl Env {
    fn rotate(&self, name: &str, body: Value) -> Value {
        self.ok(Operation::Update, &format!("keys/{name}/rotate"), body)
    }
}

#[test]
fn rotation_keeps_the_previous_version_for_its_grace_period() {
    let env = Env::new();
    let v1 = env.create("a", json!({"service": "s", "grace_period": "1h"}));
    let r = env.rotate("a", json!({}));
    let v2 = r["key"].as_str().unwrap().to_string();
    assert_eq!(r["version"], 2);
    assert_eq!(r["previous_version"], 1);
    assert_eq!(env.reason(&v1), "valid");
    assert_eq!(env.reason(&v2), "valid");
    let v = env.validate(json!({"key": v1}));
    assert_eq!(
        (v["current"].clone(), v["version"].clone()),
        (json!(false), json!(1))
    );
    // A rotation with no grace retires the previous version at once.
    let r = env.rotate("a", json!({"grace_period": 0}));
    let v3 = r["key"].as_str().unwrap().to_string();
    assert_eq!(env.reason(&v2), "expired");
    assert_eq!(env.reason(&v1), "valid", "v1's own grace still runs");
    assert_eq!(env.reason(&v3), "valid");
    let meta = env.ok(Operation::Read, "keys/a", json!({}));
    assert_eq!(meta["versions"]["2"]["state"], "retired");
    assert_eq!(meta["versions"]["1"]["state"], "grace");
    assert_eq!(meta["current_version"], 3);
    // Values of retired versions are erased from storage.
    let stored = env.state().read_record(&env.storage, "a").unwrap().unwrap();
    assert!(stored.versions[&2].key.is_none());
    assert!(stored.versions[&3].key.is_some());
}

#[test]
fn revocation_is_immediate_and_delete_forgets() {
    let env = Env::new();
    let v1 = env.create("a", json!({"service": "s"}));
    let v2 = env.rotate("a", json!({}))["key"]
        .as_str()
        .unwrap()
        .to_string();
    let r = env.ok(Operation::Update, "keys/a/revoke", json!({"version": 1}));
    assert_eq!(r["revoked_versions"], json!([1]));
    assert_eq!(env.reason(&v1), "revoked");
    assert_eq!(env.reason(&v2), "valid");
    env.ok(Operation::Update, "keys/a/revoke", json!({}));
    assert_eq!(env.reason(&v2), "revoked");
    assert!(env.call(Operation::Read, "creds/a", json!({})).is_err());
    env.call(Operation::Delete, "keys/a", json!({})).unwrap();
    assert_eq!(env.reason(&v2), "unknown");
    assert!(matches!(
        env.call(Operation::List, "keys/", json!({})),
        Err(LogicalError::NotFound)
    ));
}

#[test]
fn creds_return_the_current_key_with_time_to_rotation() {
    let env = Env::new();
    env.create("a", json!({"service": "s", "rotation_period": "1h"}));
    let v2 = env.rotate("a", json!({}))["key"]
        .as_str()
        .unwrap()
        .to_string();
    let resp = env.call(Operation::Read, "creds/a", json!({})).unwrap();
    let d = resp.data.unwrap();
    assert_eq!(d["key"], json!(v2));
    assert_eq!(d["version"], 2);
    let lease = resp.lease.unwrap();
    assert!(
        (3590..=3600).contains(&lease.lease_duration),
        "{}",
        lease.lease_duration
    );
}

#[test]
fn scheduler_rotates_once_and_never_catches_up() {
    let env = Env::new();
    let v1 = env.create(
        "a",
        json!({"service": "s", "rotation_period": 10, "grace_period": 5}),
    );
    let state = env.state();
    let created_next = state.record("a").unwrap().next_rotation;
    // Not due yet.
    assert_eq!(
        rotation::run_due(&state, &env.storage, created_next - 1).len(),
        0
    );
    // Due: exactly one rotation, on cadence.
    assert_eq!(
        rotation::run_due(&state, &env.storage, created_next + 100).len(),
        1
    );
    assert_eq!(
        rotation::run_due(&state, &env.storage, created_next + 200).len(),
        0
    );
    let r = state.record("a").unwrap();
    assert_eq!((r.current, r.next_rotation), (2, created_next + 10_000));
    // After "downtime" of many periods: one rotation, next = now + period.
    let late = created_next + 95_000;
    assert_eq!(rotation::run_due(&state, &env.storage, late).len(), 1);
    assert_eq!(rotation::run_due(&state, &env.storage, late).len(), 0);
    let r = state.record("a").unwrap();
    assert_eq!((r.current, r.next_rotation), (3, late + 10_000));
    // v1 is past its grace at "late": the same pass retired it.
    let stored = state.read_record(&env.storage, "a").unwrap().unwrap();
    assert!(stored.versions[&1].key.is_none() && stored.versions[&1].retired != 0);
    assert_eq!(env.reason(&v1), "expired");
}

#[test]
fn a_scheduled_rotation_decided_before_a_manual_one_is_dropped() {
    let env = Env::new();
    env.create("a", json!({"service": "s", "rotation_period": 1}));
    let state = env.state();
    let seen = state.record("a").unwrap();
    env.rotate("a", json!({}));
    let guard = state.lock_writes();
    let trigger = rotation::Trigger::Scheduled {
        generation: seen.generation,
    };
    let later = seen.next_rotation + 10_000;
    let r = rotation::rotate(&state, &guard, &env.storage, "a", trigger, later).unwrap();
    assert!(r.is_none(), "stale generation must not rotate");
    drop(guard);
    assert_eq!(state.record("a").unwrap().current, 2);
}

#[test]
fn index_is_rebuilt_after_restart() {
    let env = Env::new();
    let v1 = env.create("a", json!({"service": "s"}));
    let v2 = env.rotate("a", json!({}))["key"]
        .as_str()
        .unwrap()
        .to_string();
    let b1 = env.create("b", json!({"service": "t"}));
    env.ok(Operation::Update, "keys/b/revoke", json!({}));
    let again = env.restarted();
    assert_eq!(again.reason(&v1), "valid");
    assert_eq!(again.reason(&v2), "valid");
    assert_eq!(again.reason(&b1), "revoked");
    // The salt survived: keys created after the restart work too.
    let c = again.create("c", json!({"service": "u"}));
    assert_eq!(again.reason(&c), "valid");
}

#[test]
fn imported_keys_validate_and_become_due() {
    let env = Env::new();
    let supplied = "sk_live_51HexampleProviderKey000";
    let d = env.ok(
        Operation::Update,
        "keys/stripe",
        json!({"service": "payments", "key": supplied, "rotation_period": 1}),
    );
    assert_eq!(d["imported"], true);
    assert_eq!(env.reason(supplied), "valid");
    assert_eq!(env.reason("sk_live_51HsomethingElse0000"), "unknown");
    let creds = env
        .call(Operation::Read, "creds/stripe", json!({}))
        .unwrap();
    assert_eq!(creds.data.unwrap()["key"], json!(supplied));
    // Due, but never generated by the scheduler.
    let state = env.state();
    let later = env.clock.unix_ms() + 5_000;
    assert_eq!(rotation::run_due(&state, &env.storage, later).len(), 0);
    assert!(state.record("stripe").unwrap().rotation_due(later));
    assert!(matches!(
        env.call(Operation::Update, "keys/stripe/rotate", json!({})),
        Err(LogicalError::BadRequest(_))
    ));
    let r = env.rotate("stripe", json!({"key": "sk_live_51HnewProviderKey0001"}));
    assert_eq!(r["version"], 2);
    assert_eq!(env.reason("sk_live_51HnewProviderKey0001"), "valid");
    assert_eq!(env.reason(supplied), "valid", "in grace");
    // A duplicate value is refused.
    assert!(env
        .call(
            Operation::Update,
            "keys/other",
            json!({"service": "x", "key": supplied})
        )
        .is_err());
}

#[test]
fn foreign_text_is_malformed_when_nothing_was_imported() {
    let env = Env::new();
    env.create("a", json!({"service": "s"}));
    assert_eq!(env.reason("sk_live_51Hwhatever0000"), "malformed");
}

#[test]
fn rate_limit_per_client() {
    let env = Env::new();
    let key = env.create("a", json!({"service": "s"}));
    env.ok(
        Operation::Update,
        "config",
        json!({"rate_limit": 1, "rate_limit_burst": 2}),
    );
    assert_eq!(env.reason(&key), "valid");
    assert_eq!(env.reason(&key), "valid");
    assert!(matches!(
        env.call(Operation::Update, "validate", json!({"key": key})),
        Err(LogicalError::RateLimited)
    ));
}

#[test]
fn config_and_prefix() {
    let env = Env::new();
    env.ok(
        Operation::Update,
        "config",
        json!({"prefix": "acme", "default_rotation_period": "1h"}),
    );
    let c = env.ok(Operation::Read, "config", json!({}));
    assert_eq!(c["prefix"], "acme");
    assert_eq!(c["default_rotation_period"], 3600);
    let key = env.create("a", json!({"service": "s", "environment": "test"}));
    assert!(key.starts_with("acme_test_"), "{key}");
    assert!(env
        .call(Operation::Update, "config", json!({"prefix": "Bad_Prefix"}))
        .is_err());
    assert!(env
        .call(
            Operation::Update,
            "keys/b",
            json!({"service": "s", "environment": "prod"})
        )
        .is_err());
    assert!(matches!(
        env.call(Operation::Read, "nope", json!({})),
        Err(LogicalError::UnsupportedPath(_))
    ));
}

#[test]
fn forget_all_drops_state_and_it_reloads() {
    let env = Env::new();
    let key = env.create("a", json!({"service": "s"}));
    assert!(env.backend.registry.peek(&env.storage).is_some());
    env.backend.registry.forget_all();
    assert!(env.backend.registry.peek(&env.storage).is_none());
    assert_eq!(env.reason(&key), "valid");
}

#[test]
fn each_mount_gets_its_own_instance_and_registry() {
    let registry = |b: &Arc<dyn crate::logical::LogicalBackend>| {
        b.as_any()
            .and_then(|a| a.downcast_ref::<ApiKeysBackend>())
            .map(|k| k.registry.clone())
            .expect("an apikeys backend")
    };
    let env = Env::new();
    let ctx = crate::logical::MountContext {
        path: "apikeys/".into(),
        kind: KIND.into(),
        storage: env.storage.clone(),
        api_addr: None,
        clock: env.clock.clone(),
        telemetry: Arc::new(crate::sdk::NoTelemetry),
    };
    let (a, b) = (super::backend(&ctx), super::backend(&ctx));
    assert!(!Arc::ptr_eq(&registry(&a), &registry(&b)));
}

#[test]
fn periodic_rotates_and_retires_on_the_clock_and_cleanup_forgets() {
    let env = Env::new();
    let key = env.create(
        "svc",
        json!({"service": "svc", "rotation_period": 60, "grace_period": 10}),
    );
    env.backend.setup().unwrap();
    assert!(env.backend.registry.peek(&env.storage).is_some());
    // Not due yet: nothing happens however often the scheduler runs.
    assert!(env.backend.periodic(env.clock.now()).is_empty());
    env.clock.advance(std::time::Duration::from_secs(60));
    let done = env.backend.periodic(env.clock.now());
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].path, "keys/svc/rotate");
    assert_eq!(done[0].data["trigger"], "scheduled");
    assert!(env.backend.periodic(env.clock.now()).is_empty());
    // The old value is valid for its grace period, then retired.
    assert_eq!(env.reason(&key), "valid");
    env.clock.advance(std::time::Duration::from_secs(10));
    assert!(env.backend.periodic(env.clock.now()).is_empty());
    assert_ne!(env.reason(&key), "valid");
    let stored = env.state().record("svc").unwrap();
    assert_eq!(stored.current, 2);
    env.backend.cleanup();
    assert!(env.backend.registry.peek(&env.storage).is_none());
}

#[test]
fn use_is_counted_in_memory_and_written_in_batches() {
    let env = Env::new();
    let key = env.create("k", json!({"service": "svc"}));
    let state = env.backend.registry.state(&env.storage).unwrap();
    let writes = env.phys.writes.load(Ordering::SeqCst);
    for _ in 0..5 {
        assert_eq!(env.reason(&key), "valid");
    }
    assert_eq!(env.reason("vrs_not_a_key"), "malformed");
    assert_eq!(
        env.phys.writes.load(Ordering::SeqCst),
        writes,
        "no write per validation"
    );
    let read = env.ok(Operation::Read, "keys/k", json!({}));
    assert_eq!(read["versions"]["1"]["use_count"], 5);
    // The first pass starts the period; a pass within it writes nothing.
    let now = env.clock.unix_ms();
    assert_eq!(state.flush_usage(&env.storage, now, false), 0);
    assert_eq!(state.flush_usage(&env.storage, now + 59_999, false), 0);
    assert_eq!(env.phys.writes.load(Ordering::SeqCst), writes);
    // Once the period is over, one write per used key.
    assert_eq!(state.flush_usage(&env.storage, now + 60_000, false), 1);
    assert_eq!(env.phys.writes.load(Ordering::SeqCst), writes + 1);
    assert_eq!(
        state.flush_usage(&env.storage, now + 200_000, false),
        0,
        "nothing pending"
    );
    // Written: a fresh process sees the count.
    let fresh = env.restarted();
    let read = fresh.ok(Operation::Read, "keys/k", json!({}));
    assert_eq!(read["versions"]["1"]["use_count"], 5);
    // Uses of a key deleted before the flush are dropped.
    assert_eq!(env.reason(&key), "valid");
    env.ok(Operation::Delete, "keys/k", json!({}));
    assert_eq!(state.flush_usage(&env.storage, 0, true), 0);
}
