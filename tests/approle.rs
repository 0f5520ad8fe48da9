//! End-to-end tests of the AppRole auth method: roles, role ids, secret
//! ids (generate, list, lookup, destroy, by accessor), login, use limits,
//! expiry, tidy and CIDR bindings, against the real binary.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::TestServer;
use serde_json::{json, Value};

/// A dev server with approle at auth/approle/ and KV v1 at kv/.
fn server() -> TestServer {
    set_up(TestServer::dev())
}

/// `s` with approle at `auth/approle/` and a v1 kv at `kv/`.
fn set_up(s: TestServer) -> TestServer {
    let (st, b) = s.post("sys/auth/approle", json!({"type": "approle"}));
    assert_eq!(st, 204, "{b}");
    let (st, b) = s.post(
        "sys/mounts/kv",
        json!({"type": "kv", "options": {"version": "1"}}),
    );
    assert_eq!(st, 204, "{b}");
    s.policy("app", r#"path "kv/app/*" { capabilities = ["read"] }"#);
    s
}

fn create_role(s: &TestServer, name: &str, body: Value) {
    let (st, b) = s.post(&format!("auth/approle/role/{name}"), body);
    assert_eq!(st, 204, "{b}");
}

fn role_id(s: &TestServer, name: &str) -> String {
    let (st, b) = s.get(&format!("auth/approle/role/{name}/role-id"));
    assert_eq!(st, 200, "{b}");
    b["data"]["role_id"].as_str().expect("role_id").to_string()
}

/// A new secret id: (secret_id, accessor, full data).
fn secret_id(s: &TestServer, name: &str, body: Value) -> (String, String, Value) {
    let (st, b) = s.post(&format!("auth/approle/role/{name}/secret-id"), body);
    assert_eq!(st, 200, "{b}");
    let d = b["data"].clone();
    (
        d["secret_id"].as_str().expect("secret_id").to_string(),
        d["secret_id_accessor"]
            .as_str()
            .expect("accessor")
            .to_string(),
        d,
    )
}

fn login(s: &TestServer, rid: &str, sid: &str) -> (u16, Value) {
    s.request(
        "POST",
        "auth/approle/login",
        Some(json!({"role_id": rid, "secret_id": sid})),
        None,
    )
}

/// An HTTP client whose connections come from `local` (a loopback alias).
fn client_from(local: &str) -> reqwest::blocking::Client {
    let ip: IpAddr = local.parse().expect("ip");
    reqwest::blocking::Client::builder()
        .local_address(ip)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

fn send_from(
    s: &TestServer,
    local: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut rb = client_from(local).request(m, s.url(path));
    if let Some(t) = token {
        rb = rb.header("X-Vault-Token", t);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let resp = rb.send().expect("send");
    let st = resp.status().as_u16();
    let text = resp.text().unwrap_or_default();
    (st, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[test]
fn full_flow_login_token_has_role_policies_and_ttl() {
    let s = server();
    s.post("kv/app/db", json!({"password": "p1"}));
    s.post("kv/other/x", json!({"v": "1"}));
    create_role(
        &s,
        "web",
        json!({"token_policies": "app", "token_ttl": "10m", "token_max_ttl": "20m"}),
    );
    let (st, role) = s.get("auth/approle/role/web");
    assert_eq!(st, 200, "{role}");
    let d = &role["data"];
    assert_eq!(d["token_policies"], json!(["app"]));
    assert_eq!(d["token_ttl"], 600);
    assert_eq!(d["token_max_ttl"], 1200);
    assert_eq!(d["bind_secret_id"], true);
    assert_eq!(d["secret_id_num_uses"], 0);
    assert!(d.get("role_id").is_none());
    let (st, list) = s.list("auth/approle/role");
    assert_eq!((st, &list["data"]["keys"]), (200, &json!(["web"])));

    let rid = role_id(&s, "web");
    assert_eq!(rid.len(), 36, "role_id is a uuid");
    let (sid, accessor, data) = secret_id(&s, "web", json!({}));
    assert_eq!(sid.len(), 36);
    assert_ne!(sid, accessor);
    assert_eq!(data["secret_id_ttl"], 0);
    assert_eq!(data["secret_id_num_uses"], 0);

    let (st, b) = login(&s, &rid, &sid);
    assert_eq!(st, 200, "{b}");
    let auth = &b["auth"];
    assert_eq!(auth["policies"], json!(["app", "default"]));
    assert_eq!(auth["lease_duration"], 600);
    assert_eq!(auth["renewable"], true);
    assert_eq!(auth["metadata"]["role_name"], "web");
    assert_eq!(b["data"], Value::Null);
    let token = auth["client_token"].as_str().expect("token").to_string();

    let (st, me) = s.request("GET", "auth/token/lookup-self", None, Some(&token));
    assert_eq!(st, 200, "{me}");
    assert_eq!(me["data"]["display_name"], "approle");
    assert_eq!(me["data"]["meta"]["role_name"], "web");
    assert_eq!(me["data"]["explicit_max_ttl"], 1200);
    let ttl = me["data"]["ttl"].as_u64().expect("ttl");
    assert!((590..=600).contains(&ttl), "{ttl}");
    assert_eq!(s.request("GET", "kv/app/db", None, Some(&token)).0, 200);
    assert_eq!(s.request("GET", "kv/other/x", None, Some(&token)).0, 403);

    // Unlimited uses: the same secret id logs in again.
    assert_eq!(login(&s, &rid, &sid).0, 200);
}

#[test]
fn failed_logins_do_not_say_which_part_was_wrong() {
    let s = server();
    create_role(&s, "web", json!({}));
    let rid = role_id(&s, "web");
    let (sid, _, _) = secret_id(&s, "web", json!({}));
    let msg = |b: &Value| b["errors"][0].as_str().unwrap_or("").to_string();
    let (st, wrong_secret) = login(&s, &rid, "00000000-0000-0000-0000-000000000000");
    assert_eq!(st, 400);
    let (st, wrong_role) = login(&s, "00000000-0000-0000-0000-000000000000", &sid);
    assert_eq!(st, 400);
    assert_eq!(msg(&wrong_secret), "invalid role or secret ID");
    assert_eq!(msg(&wrong_role), msg(&wrong_secret));
    let (st, b) = s.request(
        "POST",
        "auth/approle/login",
        Some(json!({"secret_id": sid})),
        None,
    );
    assert_eq!((st, msg(&b).as_str()), (400, "missing role_id"));
    let (st, b) = s.request(
        "POST",
        "auth/approle/login",
        Some(json!({"role_id": rid})),
        None,
    );
    assert_eq!((st, msg(&b).as_str()), (400, "missing secret_id"));
    // The secret id of one role does not open another.
    create_role(&s, "other", json!({}));
    assert_eq!(login(&s, &role_id(&s, "other"), &sid).0, 400);
}

#[test]
fn secret_id_with_one_use_works_exactly_once() {
    let s = server();
    create_role(&s, "once", json!({"secret_id_num_uses": 1}));
    let rid = role_id(&s, "once");
    let (sid, _, data) = secret_id(&s, "once", json!({}));
    assert_eq!(data["secret_id_num_uses"], 1);
    assert_eq!(login(&s, &rid, &sid).0, 200);
    let (st, b) = login(&s, &rid, &sid);
    assert_eq!(st, 400, "{b}");
    // Consumed secret ids are deleted, accessor included.
    assert_eq!(s.list("auth/approle/role/once/secret-id").0, 404);

    // A request may set num_uses within the role's limit.
    let (sid3, acc3, _) = secret_id(&s, "once", json!({"num_uses": 1}));
    assert_eq!(login(&s, &rid, &sid3).0, 200);
    let (st, _) = s.post(
        "auth/approle/role/once/secret-id-accessor/lookup",
        json!({"secret_id_accessor": acc3}),
    );
    assert_eq!(st, 404);
    // A secret id may not have more uses than the role allows.
    let (st, b) = s.post("auth/approle/role/once/secret-id", json!({"num_uses": 5}));
    assert_eq!(st, 400, "{b}");
}

#[test]
fn concurrent_logins_consume_a_single_use_once() {
    let s = server();
    // Seven losers per round would lock the role id out (user_lockout):
    // this test is about the use count alone.
    let off = json!({"user_lockout_config": {"lockout_disable": true}});
    assert_eq!(s.post("sys/auth/approle/tune", off).0, 204);
    create_role(&s, "race", json!({"secret_id_num_uses": 1}));
    let rid = role_id(&s, "race");
    for _ in 0..3 {
        let (sid, _, _) = secret_id(&s, "race", json!({}));
        let wins: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| login(&s, &rid, &sid).0 == 200))
                .collect();
            handles
                .into_iter()
                .map(|h| usize::from(h.join().unwrap_or(false)))
                .sum()
        });
        assert_eq!(wins, 1);
    }
}

#[test]
fn multi_use_secret_id_counts_down() {
    let s = server();
    create_role(&s, "three", json!({"secret_id_num_uses": 3}));
    let rid = role_id(&s, "three");
    let (sid, acc, _) = secret_id(&s, "three", json!({}));
    for left in [2, 1] {
        assert_eq!(login(&s, &rid, &sid).0, 200);
        let (st, b) = s.post(
            "auth/approle/role/three/secret-id-accessor/lookup",
            json!({"secret_id_accessor": acc}),
        );
        assert_eq!(st, 200, "{b}");
        assert_eq!(b["data"]["secret_id_num_uses"], left);
    }
    assert_eq!(login(&s, &rid, &sid).0, 200);
    assert_eq!(login(&s, &rid, &sid).0, 400);
}

#[test]
fn expired_secret_ids_are_refused_and_tidied() {
    let s = set_up(TestServer::dev_manual_clock());
    create_role(&s, "short", json!({"secret_id_ttl": "2s"}));
    let rid = role_id(&s, "short");
    let (sid, acc, data) = secret_id(&s, "short", json!({}));
    assert_eq!(data["secret_id_ttl"], 2);
    let (st, b) = s.post(
        "auth/approle/role/short/secret-id-accessor/lookup",
        json!({"secret_id_accessor": acc}),
    );
    assert_eq!(st, 200);
    assert_ne!(b["data"]["expiration_time"], "0001-01-01T00:00:00Z");
    // A request may shorten the TTL but not lengthen it.
    assert_eq!(
        s.post("auth/approle/role/short/secret-id", json!({"ttl": "1h"}))
            .0,
        400
    );
    let (_, _, one) = secret_id(&s, "short", json!({"ttl": 1}));
    assert_eq!(one["secret_id_ttl"], 1);
    s.advance("3s");
    let (st, b) = login(&s, &rid, &sid);
    assert_eq!(st, 400, "{b}");
    assert_eq!(b["errors"][0], "invalid role or secret ID");
    // The one expired secret id left is removed by tidy.
    let (st, _) = s.list("auth/approle/role/short/secret-id");
    assert_eq!(st, 200);
    let (st, b) = s.post("auth/approle/tidy/secret-id", json!({}));
    assert_eq!(st, 202, "{b}");
    assert!(b["warnings"][0]
        .as_str()
        .unwrap_or("")
        .contains("removed 1"));
    assert_eq!(s.list("auth/approle/role/short/secret-id").0, 404);
}

#[test]
fn secret_id_bound_cidrs_check_the_client_address() {
    let s = server();
    create_role(
        &s,
        "local",
        json!({"secret_id_bound_cidrs": ["127.0.0.1/32"]}),
    );
    let rid = role_id(&s, "local");
    let (sid, _, _) = secret_id(&s, "local", json!({}));
    let body = json!({"role_id": rid, "secret_id": sid});
    let (st, b) = send_from(
        &s,
        "127.0.0.2",
        "POST",
        "auth/approle/login",
        Some(body.clone()),
        None,
    );
    assert_eq!(st, 400, "{b}");
    let (st, b) = send_from(
        &s,
        "127.0.0.1",
        "POST",
        "auth/approle/login",
        Some(body),
        None,
    );
    assert_eq!(st, 200, "{b}");

    // Per secret id: cidr_list must lie within the role's blocks.
    let (st, _) = s.post(
        "auth/approle/role/local/secret-id",
        json!({"cidr_list": "10.0.0.0/8"}),
    );
    assert_eq!(st, 400);
    create_role(&s, "open", json!({}));
    let rid = role_id(&s, "open");
    let (sid, _, _) = secret_id(&s, "open", json!({"cidr_list": ["127.0.0.2/32"]}));
    let body = json!({"role_id": rid, "secret_id": sid});
    assert_eq!(
        send_from(
            &s,
            "127.0.0.1",
            "POST",
            "auth/approle/login",
            Some(body.clone()),
            None
        )
        .0,
        400
    );
    assert_eq!(
        send_from(
            &s,
            "127.0.0.2",
            "POST",
            "auth/approle/login",
            Some(body),
            None
        )
        .0,
        200
    );
    // Without a secret id, a role must have some other constraint.
    let (st, _) = s.post("auth/approle/role/bare", json!({"bind_secret_id": false}));
    assert_eq!(st, 400);
    create_role(
        &s,
        "nosecret",
        json!({"bind_secret_id": false, "secret_id_bound_cidrs": "127.0.0.1/32"}),
    );
    let rid = role_id(&s, "nosecret");
    let body = json!({"role_id": rid});
    assert_eq!(
        send_from(
            &s,
            "127.0.0.1",
            "POST",
            "auth/approle/login",
            Some(body.clone()),
            None
        )
        .0,
        200
    );
    assert_eq!(
        send_from(
            &s,
            "127.0.0.2",
            "POST",
            "auth/approle/login",
            Some(body),
            None
        )
        .0,
        400
    );
}

#[test]
fn token_bound_cidrs_bind_the_issued_token() {
    let s = server();
    s.post("kv/app/db", json!({"password": "p1"}));
    create_role(
        &s,
        "bound",
        json!({"token_bound_cidrs": ["127.0.0.1/32"], "token_policies": ["app"]}),
    );
    let rid = role_id(&s, "bound");
    let (sid, _, _) = secret_id(&s, "bound", json!({}));
    let (st, b) = login(&s, &rid, &sid);
    assert_eq!(st, 200, "{b}");
    let token = b["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_string();
    assert_eq!(
        send_from(&s, "127.0.0.1", "GET", "kv/app/db", None, Some(&token)).0,
        200
    );
    assert_eq!(
        send_from(&s, "127.0.0.2", "GET", "kv/app/db", None, Some(&token)).0,
        403
    );
    // A secret id's own token_bound_cidrs override (within the role's).
    let (st, _) = s.post(
        "auth/approle/role/bound/secret-id",
        json!({"token_bound_cidrs": ["10.0.0.0/8"]}),
    );
    assert_eq!(st, 400);
}

#[test]
fn lookup_and_destroy_by_secret_id_and_by_accessor() {
    let s = server();
    create_role(&s, "web", json!({}));
    let rid = role_id(&s, "web");
    let (sid1, acc1, _) = secret_id(&s, "web", json!({"metadata": "{\"tag\": \"prod\"}"}));
    let (sid2, acc2, _) = secret_id(&s, "web", json!({}));
    let (st, list) = s.list("auth/approle/role/web/secret-id");
    assert_eq!(st, 200);
    let mut expected = vec![acc1.clone(), acc2.clone()];
    expected.sort();
    assert_eq!(list["data"]["keys"], json!(expected));
    // GET ?list=true works like LIST.
    assert_eq!(s.get("auth/approle/role/web/secret-id?list=true").0, 200);

    let (st, b) = s.post(
        "auth/approle/role/web/secret-id/lookup",
        json!({"secret_id": sid1}),
    );
    assert_eq!(st, 200, "{b}");
    let d = &b["data"];
    assert_eq!(d["secret_id_accessor"], acc1.as_str());
    assert_eq!(d["metadata"], json!({"tag": "prod"}));
    assert_eq!(d["expiration_time"], "0001-01-01T00:00:00Z");
    for key in [
        "creation_time",
        "last_updated_time",
        "cidr_list",
        "token_bound_cidrs",
        "secret_id_ttl",
    ] {
        assert!(d.get(key).is_some(), "{key} in {d}");
    }
    assert!(
        !b.to_string().contains(&sid1),
        "lookup never returns the secret id"
    );
    let (st, b) = s.post(
        "auth/approle/role/web/secret-id-accessor/lookup",
        json!({"secret_id_accessor": acc1}),
    );
    assert_eq!(st, 200);
    assert!(!b.to_string().contains(&sid1));

    // The login carries the secret id's metadata.
    let (st, b) = login(&s, &rid, &sid1);
    assert_eq!(st, 200);
    assert_eq!(
        b["auth"]["metadata"],
        json!({"role_name": "web", "tag": "prod"})
    );

    // Destroy by secret id.
    let (st, _) = s.post(
        "auth/approle/role/web/secret-id/destroy",
        json!({"secret_id": sid1}),
    );
    assert_eq!(st, 204);
    assert_eq!(login(&s, &rid, &sid1).0, 400);
    let (st, b) = s.post(
        "auth/approle/role/web/secret-id/lookup",
        json!({"secret_id": sid1}),
    );
    assert_eq!(st, 204, "{b}");
    // Destroy by accessor.
    let (st, _) = s.post(
        "auth/approle/role/web/secret-id-accessor/destroy",
        json!({"secret_id_accessor": acc2}),
    );
    assert_eq!(st, 204);
    assert_eq!(login(&s, &rid, &sid2).0, 400);
    let (st, _) = s.post(
        "auth/approle/role/web/secret-id-accessor/lookup",
        json!({"secret_id_accessor": acc2}),
    );
    assert_eq!(st, 404);
    assert_eq!(s.list("auth/approle/role/web/secret-id").0, 404);
    // An accessor of another role is not found through this one.
    create_role(&s, "other", json!({}));
    let (_, acc_other, _) = secret_id(&s, "other", json!({}));
    let (st, _) = s.post(
        "auth/approle/role/web/secret-id-accessor/lookup",
        json!({"secret_id_accessor": acc_other}),
    );
    assert_eq!(st, 404);
}

#[test]
fn custom_role_id_and_role_deletion() {
    let s = server();
    create_role(&s, "web", json!({}));
    create_role(&s, "db", json!({}));
    let old = role_id(&s, "web");
    let (st, b) = s.post(
        "auth/approle/role/web/role-id",
        json!({"role_id": "web-role-id"}),
    );
    assert_eq!(st, 204, "{b}");
    assert_eq!(role_id(&s, "web"), "web-role-id");
    let (st, b) = s.post(
        "auth/approle/role/db/role-id",
        json!({"role_id": "web-role-id"}),
    );
    assert_eq!(st, 400, "{b}");
    let (sid, _, _) = secret_id(&s, "web", json!({}));
    assert_eq!(login(&s, &old, &sid).0, 400);
    assert_eq!(login(&s, "web-role-id", &sid).0, 200);
    // A custom secret id.
    let (st, b) = s.post(
        "auth/approle/role/web/custom-secret-id",
        json!({"secret_id": "my-custom-secret"}),
    );
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["data"]["secret_id"], "my-custom-secret");
    assert_eq!(login(&s, "web-role-id", "my-custom-secret").0, 200);

    // Deleting the role removes its secret ids and role id.
    assert_eq!(s.delete("auth/approle/role/web").0, 204);
    assert_eq!(s.get("auth/approle/role/web").0, 404);
    assert_eq!(login(&s, "web-role-id", &sid).0, 400);
    create_role(&s, "web", json!({"role_id": "web-role-id"}));
    assert_eq!(login(&s, "web-role-id", &sid).0, 400);
    assert_eq!(s.list("auth/approle/role/web/secret-id").0, 404);
    // Operations on a role that does not exist: a secret-id is Vault's 404
    // naming the role.
    let (st, b) = s.post("auth/approle/role/nope/secret-id", json!({}));
    assert_eq!(st, 404, "{b}");
    assert_eq!(b["errors"], json!(["role \"nope\" does not exist"]));
    assert_eq!(s.get("auth/approle/role/nope/role-id").0, 404);
}

#[test]
fn role_field_endpoints_and_legacy_names() {
    let s = server();
    // Names are matched by policies case-sensitively, so only the stored
    // (lower-case) form is accepted.
    let (st, _) = s.post("auth/approle/role/Web", json!({}));
    assert_eq!(st, 400);
    create_role(&s, "web", json!({"policies": "App,db", "period": "1h"}));
    let (st, b) = s.get("auth/approle/role/web");
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["data"]["token_policies"], json!(["app", "db"]));
    assert_eq!(b["data"]["token_period"], 3600);
    let (st, b) = s.get("auth/approle/role/web/policies");
    assert_eq!(st, 200);
    assert_eq!(b["data"]["token_policies"], json!(["app", "db"]));
    assert_eq!(
        s.post(
            "auth/approle/role/web/token-ttl",
            json!({"token_ttl": "5m"})
        )
        .0,
        204
    );
    assert_eq!(
        s.get("auth/approle/role/web/token-ttl").1["data"]["token_ttl"],
        300
    );
    assert_eq!(s.delete("auth/approle/role/web/token-ttl").0, 204);
    assert_eq!(s.get("auth/approle/role/web").1["data"]["token_ttl"], 0);
    assert_eq!(
        s.post("auth/approle/role/nope/token-ttl", json!({"token_ttl": 5}))
            .0,
        404
    );
    let (st, b) = s.post(
        "auth/approle/role/web",
        json!({"token_ttl": "2h", "token_max_ttl": "1h"}),
    );
    assert_eq!(st, 400, "{b}");
    let (st, b) = s.post("auth/approle/role/web", json!({"token_ttl": "soon"}));
    assert_eq!(st, 400);
    assert!(b["errors"][0].as_str().unwrap_or("").contains("token_ttl"));
}

#[test]
fn acl_governs_role_management_but_not_login() {
    let s = server();
    create_role(&s, "web", json!({}));
    s.policy(
        "issuer",
        r#"path "auth/approle/role/web/secret-id" { capabilities = ["update"] }"#,
    );
    let issuer = s.token(json!({"policies": ["issuer"]}));
    let (st, b) = s.request(
        "POST",
        "auth/approle/role/web/secret-id",
        Some(json!({})),
        Some(&issuer),
    );
    assert_eq!(st, 200, "{b}");
    let sid = b["data"]["secret_id"]
        .as_str()
        .expect("secret_id")
        .to_string();
    assert_eq!(
        s.request("GET", "auth/approle/role/web/role-id", None, Some(&issuer))
            .0,
        403
    );
    assert_eq!(
        s.request(
            "POST",
            "auth/approle/role/db",
            Some(json!({})),
            Some(&issuer)
        )
        .0,
        403
    );
    // Login needs no token, and ignores one that is sent.
    let rid = role_id(&s, "web");
    let (st, _) = s.request(
        "POST",
        "auth/approle/login",
        Some(json!({"role_id": rid, "secret_id": sid})),
        Some("not-a-token"),
    );
    assert_eq!(st, 200);
}
