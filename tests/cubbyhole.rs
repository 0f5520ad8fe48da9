//! Cubbyhole: per-token storage that no other token (not even root) can
//! see, destroyed with its token. HTTP tests against the real binary, plus
//! in-process checks of the storage after revocation.

mod common;

use std::sync::Arc;

use common::TestServer;
use serde_json::{json, Map, Value};

use vault_rs::barrier::{Barrier, StorageView};
use vault_rs::core::{Core, CoreConfig, CoreError, Operation, Request, Response};
use vault_rs::crypto::SecretString;
use vault_rs::physical::InmemBackend;
use vault_rs::sdk::ManualClock;
use vault_rs::seal::SealConfig;

#[test]
fn only_the_owning_token_sees_its_cubbyhole() {
    let s = TestServer::dev();
    let a = s.token(json!({"policies": ["default"]}));
    let b = s.token(json!({"policies": ["default"]}));
    let req = |m: &str, p: &str, body: Option<Value>, t: &str| s.request(m, p, body, Some(t));

    assert_eq!(
        req("POST", "cubbyhole/secret", Some(json!({"v": "a-only"})), &a).0,
        204
    );
    assert_eq!(
        req("PUT", "cubbyhole/dir/x", Some(json!({"n": 1})), &a).0,
        204
    );
    let (st, body) = req("GET", "cubbyhole/secret", None, &a);
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["data"], json!({"v": "a-only"}));
    assert_eq!(body["mount_type"], "cubbyhole");
    assert_eq!(
        req("LIST", "cubbyhole/", None, &a).1["data"]["keys"],
        json!(["dir/", "secret"])
    );
    assert_eq!(
        req("LIST", "cubbyhole/dir", None, &a).1["data"]["keys"],
        json!(["x"])
    );

    // another token, and root, see nothing of A's
    for t in [&b, &s.root_token] {
        assert_eq!(
            req("GET", "cubbyhole/secret", None, t),
            (404, json!({"errors": []}))
        );
        assert_eq!(req("LIST", "cubbyhole/", None, t).0, 404);
    }
    // B writing the same path does not touch A's value
    assert_eq!(
        req("POST", "cubbyhole/secret", Some(json!({"v": "b"})), &b).0,
        204
    );
    assert_eq!(req("GET", "cubbyhole/secret", None, &b).1["data"]["v"], "b");
    assert_eq!(
        req("GET", "cubbyhole/secret", None, &a).1["data"]["v"],
        "a-only"
    );
    // B deleting it deletes B's only
    assert_eq!(req("DELETE", "cubbyhole/secret", None, &b).0, 204);
    assert_eq!(req("GET", "cubbyhole/secret", None, &a).0, 200);

    assert_eq!(req("DELETE", "cubbyhole/secret", None, &a).0, 204);
    assert_eq!(req("GET", "cubbyhole/secret", None, &a).0, 404);
    assert_eq!(req("POST", "cubbyhole/empty", Some(json!({})), &a).0, 400);
}

#[test]
fn cubbyhole_is_a_default_mount_and_reserved() {
    let s = TestServer::dev();
    let (st, mounts) = s.get("sys/mounts");
    assert_eq!(st, 200);
    assert_eq!(mounts["data"]["cubbyhole/"]["type"], "cubbyhole");
    assert_eq!(s.post("sys/mounts/cubbyhole", json!({"type": "kv"})).0, 400);
}

#[test]
fn a_revoked_token_loses_access() {
    let s = TestServer::dev();
    let a = s.token(json!({"policies": ["default"]}));
    assert_eq!(
        s.request("POST", "cubbyhole/k", Some(json!({"v": 1})), Some(&a))
            .0,
        204
    );
    assert_eq!(s.post("auth/token/revoke", json!({"token": a})).0, 204);
    assert_eq!(s.request("GET", "cubbyhole/k", None, Some(&a)).0, 403);
}

// In-process: the real core on in-memory storage, so the cubbyhole's
// storage can be inspected after the token goes away.

struct Vault {
    core: Arc<Core>,
    root: String,
}

impl Vault {
    fn new() -> Vault {
        let core = Core::with_clock(
            Barrier::new(Arc::new(InmemBackend::new())),
            CoreConfig::default(),
            Arc::new(ManualClock::starting_now()),
        );
        let init = core
            .initialize(SealConfig::new(1, 1).expect("seal config"))
            .expect("init");
        core.submit_unseal_share(init.shares[0].clone())
            .expect("unseal");
        Vault {
            core,
            root: init.root_token.expose().to_string(),
        }
    }

    fn call(
        &self,
        token: &str,
        op: Operation,
        path: &str,
        body: Value,
    ) -> Result<Response, CoreError> {
        let mut r = Request::new(op, path);
        r.client_token = Some(SecretString::new(token.to_string()));
        r.data = body.as_object().cloned().unwrap_or_else(Map::new);
        self.core.handle(r)
    }

    fn token(&self, body: Value) -> String {
        let resp = self
            .call(&self.root, Operation::Update, "auth/token/create", body)
            .expect("token create");
        resp.auth
            .as_ref()
            .expect("auth")
            .client_token
            .expose()
            .to_string()
    }

    fn cubbyhole_storage(&self) -> StorageView {
        let active = self.core.active().expect("unsealed");
        let router = active.router();
        router
            .get("cubbyhole/")
            .expect("cubbyhole mount")
            .storage
            .clone()
    }
}

#[test]
fn in_process_cubbyholes_are_per_token() {
    let v = Vault::new();
    let a = v.token(json!({"policies": ["default"]}));
    v.call(&a, Operation::Update, "cubbyhole/k", json!({"v": 1}))
        .expect("write");
    assert_eq!(v.cubbyhole_storage().scan("").expect("scan").len(), 1);
    assert!(matches!(
        v.call(&v.root, Operation::Read, "cubbyhole/k", json!({})),
        Err(CoreError::Logical(_))
    ));
}

#[test]

fn revoking_a_token_destroys_its_cubbyhole() {
    let v = Vault::new();
    let a = v.token(json!({"policies": ["default"]}));
    let b = v.token(json!({"policies": ["default"]}));
    v.call(&a, Operation::Update, "cubbyhole/k", json!({"v": 1}))
        .expect("write a");
    v.call(&a, Operation::Update, "cubbyhole/d/k", json!({"v": 2}))
        .expect("write a");
    v.call(&b, Operation::Update, "cubbyhole/k", json!({"v": 3}))
        .expect("write b");
    assert_eq!(v.cubbyhole_storage().scan("").expect("scan").len(), 3);
    v.call(
        &v.root,
        Operation::Update,
        "auth/token/revoke",
        json!({"token": a}),
    )
    .expect("revoke");
    assert_eq!(
        v.cubbyhole_storage().scan("").expect("scan").len(),
        1,
        "only B's entry is left"
    );
    let r = v
        .call(&b, Operation::Read, "cubbyhole/k", json!({}))
        .expect("b reads");
    assert_eq!(r.data.expect("data")["v"], 3);
}

#[test]

fn an_expired_token_loses_its_cubbyhole() {
    let v = Vault::new();
    let a = v.token(json!({"policies": ["default"], "ttl": "1s"}));
    v.call(&a, Operation::Update, "cubbyhole/k", json!({"v": 1}))
        .expect("write");
    assert!(v.core.clock().advance(std::time::Duration::from_secs(2)));
    v.core.run_scheduled().expect("unsealed");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !v.cubbyhole_storage().scan("").expect("scan").is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "cubbyhole still there after expiry"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
