//! KV version 2 over HTTP against the real `vault-rs` binary: every
//! endpoint, Vault's status codes and JSON shapes, pruning, deletion
//! timers, the v1 → v2 upgrade and concurrent check-and-set writers.

mod common;

use std::sync::{Arc, Mutex};

use common::TestServer;
use serde_json::{json, Value};

/// A PATCH with `application/merge-patch+json`, as Vault requires.
fn patch(s: &TestServer, path: &str, body: Value, content_type: &str) -> (u16, Value) {
    let resp = reqwest::blocking::Client::new()
        .patch(s.url(path))
        .header("X-Vault-Token", &s.root_token)
        .header("Content-Type", content_type)
        .body(body.to_string())
        .send()
        .expect("send patch");
    let status = resp.status().as_u16();
    let text = resp.text().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn write(s: &TestServer, key: &str, data: Value) -> Value {
    let (st, body) = s.post(&format!("secret/data/{key}"), json!({ "data": data }));
    assert_eq!(st, 200, "{body}");
    body
}

fn is_vault_time(t: &Value) -> bool {
    let t = t.as_str().unwrap_or("");
    t.len() >= 20 && t.contains('T') && t.ends_with('Z')
}

#[test]
fn write_and_read_versions_with_vaults_shapes() {
    let s = TestServer::dev();
    let body = write(&s, "app/db", json!({"user": "alice", "pw": "one"}));
    assert_eq!(body["mount_type"], "kv");
    let d = &body["data"];
    assert_eq!(d["version"], 1);
    assert!(is_vault_time(&d["created_time"]), "{d}");
    assert_eq!(d["deletion_time"], "");
    assert_eq!(d["destroyed"], false);
    assert_eq!(d["custom_metadata"], Value::Null);
    assert_eq!(
        write(&s, "app/db", json!({"user": "alice", "pw": "two"}))["data"]["version"],
        2
    );

    let (st, latest) = s.get("secret/data/app/db");
    assert_eq!(st, 200, "{latest}");
    assert_eq!(
        latest["data"]["data"],
        json!({"user": "alice", "pw": "two"})
    );
    let meta = &latest["data"]["metadata"];
    assert_eq!(meta["version"], 2);
    assert_eq!(meta["deletion_time"], "");
    assert_eq!(meta["destroyed"], false);
    assert!(meta.get("custom_metadata").is_some());
    for field in [
        "request_id",
        "lease_id",
        "renewable",
        "lease_duration",
        "wrap_info",
        "warnings",
        "auth",
    ] {
        assert!(latest.get(field).is_some(), "envelope lacks {field}");
    }

    let (_, first) = s.get("secret/data/app/db?version=1");
    assert_eq!(first["data"]["data"]["pw"], "one");
    let (_, zero) = s.get("secret/data/app/db?version=0");
    assert_eq!(zero["data"]["metadata"]["version"], 2);
    assert_eq!(
        s.get("secret/data/app/db?version=99"),
        (404, json!({"errors": []}))
    );
    assert_eq!(
        s.get("secret/data/app/missing"),
        (404, json!({"errors": []}))
    );
    assert_eq!(s.get("secret/data/app/db?version=abc").0, 400);
    // data must be an object
    assert_eq!(s.post("secret/data/x", json!({"data": "nope"})).0, 400);
    assert_eq!(s.post("secret/data/x", json!({"other": 1})).0, 400);
    // no such endpoint on a v2 mount
    assert_eq!(s.get("secret/app/db").0, 404);
}

#[test]
fn check_and_set_and_cas_required() {
    let s = TestServer::dev();
    let put = |cas: u64, v: i64| {
        s.post(
            "secret/data/cas/x",
            json!({"data": {"v": v}, "options": {"cas": cas}}),
        )
    };
    assert_eq!(put(0, 1).0, 200);
    let (st, body) = put(0, 2);
    assert_eq!(st, 400);
    assert_eq!(
        body["errors"][0],
        "check-and-set parameter did not match the current version"
    );
    assert_eq!(put(5, 2).0, 400);
    let (st, body) = put(1, 2);
    assert_eq!((st, body["data"]["version"].clone()), (200, json!(2)));

    // per key
    assert_eq!(
        s.post("secret/metadata/cas/x", json!({"cas_required": true}))
            .0,
        204
    );
    let (st, body) = s.post("secret/data/cas/x", json!({"data": {"v": 3}}));
    assert_eq!(st, 400, "{body}");
    assert!(body["errors"][0]
        .as_str()
        .unwrap()
        .contains("check-and-set parameter required"));
    assert_eq!(put(2, 3).0, 200);

    // mount-wide
    assert_eq!(
        s.post("secret/config", json!({"cas_required": true})).0,
        204
    );
    assert_eq!(
        s.post("secret/data/cas/y", json!({"data": {"v": 1}})).0,
        400
    );
    assert_eq!(
        s.post(
            "secret/data/cas/y",
            json!({"data": {"v": 1}, "options": {"cas": 0}})
        )
        .0,
        200
    );
    let (st, conf) = s.get("secret/config");
    assert_eq!(st, 200);
    assert_eq!(
        conf["data"],
        json!({"cas_required": true, "delete_version_after": "0s", "max_versions": 0})
    );
}

#[test]
fn deleted_and_destroyed_versions_are_404_with_a_body() {
    let s = TestServer::dev();
    write(&s, "del/x", json!({"v": 1}));
    write(&s, "del/x", json!({"v": 2}));
    write(&s, "del/x", json!({"v": 3}));
    assert_eq!(s.delete("secret/data/del/x"), (204, Value::Null));

    let (st, body) = s.get("secret/data/del/x");
    assert_eq!(st, 404);
    assert_eq!(body["data"]["data"], Value::Null);
    assert_eq!(body["data"]["metadata"]["version"], 3);
    assert!(
        is_vault_time(&body["data"]["metadata"]["deletion_time"]),
        "{body}"
    );
    assert_eq!(body["data"]["metadata"]["destroyed"], false);
    assert_eq!(body["mount_type"], "kv");
    assert!(body.get("errors").is_none());

    // delete/undelete specific versions
    assert_eq!(
        s.post("secret/delete/del/x", json!({"versions": [1]})).0,
        204
    );
    assert_eq!(s.get("secret/data/del/x?version=1").0, 404);
    assert_eq!(s.get("secret/data/del/x?version=2").0, 200);
    assert_eq!(
        s.post("secret/undelete/del/x", json!({"versions": [1, 3]}))
            .0,
        204
    );
    assert_eq!(s.get("secret/data/del/x?version=1").0, 200);
    let (_, back) = s.get("secret/data/del/x");
    assert_eq!(back["data"]["data"]["v"], 3);
    assert_eq!(back["data"]["metadata"]["deletion_time"], "");

    // destroy
    assert_eq!(
        s.post("secret/destroy/del/x", json!({"versions": [2]})).0,
        204
    );
    let (st, body) = s.get("secret/data/del/x?version=2");
    assert_eq!(st, 404);
    assert_eq!(body["data"]["data"], Value::Null);
    assert_eq!(body["data"]["metadata"]["destroyed"], true);
    // Such a 404 is answered as it is, never response-wrapped.
    let resp = reqwest::blocking::Client::new()
        .get(s.url("secret/data/del/x?version=2"))
        .header("X-Vault-Token", &s.root_token)
        .header("X-Vault-Wrap-TTL", "60")
        .send()
        .expect("send");
    assert_eq!(resp.status().as_u16(), 404);
    let wrapped: Value = resp.json().expect("json");
    assert_eq!(wrapped["wrap_info"], Value::Null, "{wrapped}");
    assert_eq!(wrapped["data"]["metadata"]["destroyed"], true, "{wrapped}");
    assert_eq!(
        s.post("secret/undelete/del/x", json!({"versions": [2]})).0,
        204
    );
    assert_eq!(s.get("secret/data/del/x?version=2").0, 404);
    let (_, meta) = s.get("secret/metadata/del/x");
    assert_eq!(meta["data"]["versions"]["2"]["destroyed"], true);
    assert_eq!(meta["data"]["versions"]["1"]["destroyed"], false);

    // versions are required
    assert_eq!(s.post("secret/destroy/del/x", json!({})).0, 400);
    assert_eq!(
        s.post("secret/delete/del/x", json!({"versions": []})).0,
        400
    );
    // on a missing key these are no-ops
    assert_eq!(
        s.post("secret/delete/del/none", json!({"versions": [1]})).0,
        204
    );
    assert_eq!(s.delete("secret/data/del/none").0, 204);
}

#[test]
fn patch_is_a_json_merge_patch() {
    let s = TestServer::dev();
    write(&s, "mp/x", json!({"a": 1, "b": {"c": 2, "d": 3}, "e": 5}));
    let ct = "application/merge-patch+json";
    let (st, body) = patch(
        &s,
        "secret/data/mp/x",
        json!({"data": {"a": null, "b": {"c": 20}, "f": 6}}),
        ct,
    );
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["data"]["version"], 2);
    let (_, got) = s.get("secret/data/mp/x");
    assert_eq!(
        got["data"]["data"],
        json!({"b": {"c": 20, "d": 3}, "e": 5, "f": 6})
    );

    assert_eq!(
        patch(&s, "secret/data/mp/missing", json!({"data": {"a": 1}}), ct).0,
        404
    );
    assert_eq!(
        patch(
            &s,
            "secret/data/mp/x",
            json!({"data": {"a": 1}}),
            "application/json"
        )
        .0,
        415
    );
    assert_eq!(
        patch(
            &s,
            "secret/data/mp/x",
            json!({"data": {"a": 1}, "options": {"cas": 1}}),
            ct
        )
        .0,
        400
    );
    assert_eq!(
        patch(
            &s,
            "secret/data/mp/x",
            json!({"data": {"a": 1}, "options": {"cas": 2}}),
            ct
        )
        .0,
        200
    );
    // a deleted latest version cannot be patched
    s.delete("secret/data/mp/x");
    assert_eq!(
        patch(&s, "secret/data/mp/x", json!({"data": {"a": 2}}), ct).0,
        404
    );

    // metadata PATCH merges settings and custom metadata
    assert_eq!(
        s.post(
            "secret/metadata/mp/x",
            json!({"custom_metadata": {"a": "1", "b": "2"}})
        )
        .0,
        204
    );
    let (st, body) = patch(
        &s,
        "secret/metadata/mp/x",
        json!({"custom_metadata": {"a": null, "c": "3"}, "max_versions": 7}),
        ct,
    );
    assert_eq!(st, 204, "{body}");
    let (_, meta) = s.get("secret/metadata/mp/x");
    assert_eq!(meta["data"]["custom_metadata"], json!({"b": "2", "c": "3"}));
    assert_eq!(meta["data"]["max_versions"], 7);
    assert_eq!(
        patch(
            &s,
            "secret/metadata/mp/none",
            json!({"max_versions": 1}),
            ct
        )
        .0,
        404
    );
}

#[test]
fn max_versions_prunes_oldest() {
    let s = TestServer::dev();
    write(&s, "prune/x", json!({"v": 1}));
    assert_eq!(
        s.post("secret/metadata/prune/x", json!({"max_versions": 2}))
            .0,
        204
    );
    for i in 2..=5 {
        write(&s, "prune/x", json!({ "v": i }));
    }
    let (_, meta) = s.get("secret/metadata/prune/x");
    let m = &meta["data"];
    assert_eq!(
        (
            m["max_versions"].clone(),
            m["current_version"].clone(),
            m["oldest_version"].clone()
        ),
        (json!(2), json!(5), json!(4))
    );
    let mut versions: Vec<&String> = m["versions"].as_object().unwrap().keys().collect();
    versions.sort();
    assert_eq!(versions, vec!["4", "5"]);
    for old in 1..=3 {
        assert_eq!(
            s.get(&format!("secret/data/prune/x?version={old}")),
            (404, json!({"errors": []}))
        );
    }
    assert_eq!(
        s.get("secret/data/prune/x?version=4").1["data"]["data"]["v"],
        4
    );

    // mount-wide max_versions
    assert_eq!(s.post("secret/config", json!({"max_versions": 3})).0, 204);
    for i in 1..=5 {
        write(&s, "prune/y", json!({ "v": i }));
    }
    let (_, meta) = s.get("secret/metadata/prune/y");
    assert_eq!(meta["data"]["versions"].as_object().unwrap().len(), 3);
    assert_eq!(meta["data"]["oldest_version"], 3);
}

#[test]
fn list_nested_folders() {
    let s = TestServer::dev();
    for path in ["lst/a", "lst/b/c", "lst/b/d", "lst/b/e/f", "other"] {
        write(&s, path, json!({"p": path}));
    }
    assert_eq!(
        s.list("secret/metadata/lst").1["data"]["keys"],
        json!(["a", "b/"])
    );
    assert_eq!(
        s.list("secret/metadata/lst/b/").1["data"]["keys"],
        json!(["c", "d", "e/"])
    );
    assert_eq!(
        s.get("secret/metadata/lst/b/e?list=true").1["data"]["keys"],
        json!(["f"])
    );
    let (st, top) = s.list("secret/metadata/");
    assert_eq!(st, 200);
    assert_eq!(top["data"]["keys"], json!(["lst/", "other"]));
    assert_eq!(
        s.list("secret/metadata/nothing/here"),
        (404, json!({"errors": []}))
    );
    // soft-deleted keys still list; deleting the metadata removes them
    s.delete("secret/data/lst/a");
    assert_eq!(
        s.list("secret/metadata/lst").1["data"]["keys"],
        json!(["a", "b/"])
    );
    assert_eq!(s.delete("secret/metadata/lst/a").0, 204);
    assert_eq!(
        s.list("secret/metadata/lst").1["data"]["keys"],
        json!(["b/"])
    );
    assert_eq!(s.get("secret/metadata/lst/a"), (404, json!({"errors": []})));
    assert_eq!(s.get("secret/data/lst/a?version=1").0, 404);
    assert_eq!(
        write(&s, "lst/a", json!({"again": 1}))["data"]["version"],
        1
    );
}

#[test]
fn metadata_and_custom_metadata() {
    let s = TestServer::dev();
    write(&s, "meta/x", json!({"v": 1}));
    write(&s, "meta/x", json!({"v": 2}));
    let (st, meta) = s.get("secret/metadata/meta/x");
    assert_eq!(st, 200);
    let m = &meta["data"];
    assert_eq!(m["current_version"], 2);
    assert_eq!(m["oldest_version"], 0);
    assert_eq!(m["max_versions"], 0);
    assert_eq!(m["cas_required"], false);
    assert_eq!(m["delete_version_after"], "0s");
    assert_eq!(m["custom_metadata"], Value::Null);
    assert!(is_vault_time(&m["created_time"]) && is_vault_time(&m["updated_time"]));
    for v in m["versions"].as_object().unwrap().values() {
        assert_eq!(v.as_object().unwrap().len(), 3, "{v}");
        assert!(is_vault_time(&v["created_time"]));
    }

    let cm = json!({"owner": "team-a", "tier": "gold"});
    assert_eq!(
        s.post("secret/metadata/meta/x", json!({"custom_metadata": cm}))
            .0,
        204
    );
    assert_eq!(
        s.get("secret/metadata/meta/x").1["data"]["custom_metadata"],
        cm
    );
    assert_eq!(
        s.get("secret/data/meta/x").1["data"]["metadata"]["custom_metadata"],
        cm
    );
    assert_eq!(
        write(&s, "meta/x", json!({"v": 3}))["data"]["custom_metadata"],
        cm
    );

    // metadata before any version
    assert_eq!(
        s.post(
            "secret/metadata/meta/new",
            json!({"custom_metadata": {"k": "v"}, "max_versions": 3})
        )
        .0,
        204
    );
    let (_, m) = s.get("secret/metadata/meta/new");
    assert_eq!(m["data"]["current_version"], 0);
    assert_eq!(m["data"]["versions"], json!({}));
    assert_eq!(s.get("secret/data/meta/new").0, 404);

    // invalid custom metadata
    let (st, body) = s.post(
        "secret/metadata/meta/x",
        json!({"custom_metadata": {"k": ""}}),
    );
    assert_eq!(st, 400, "{body}");
    assert!(body["errors"][0]
        .as_str()
        .unwrap()
        .contains("custom_metadata validation failed"));
    assert_eq!(
        s.post(
            "secret/metadata/meta/x",
            json!({"custom_metadata": {"k": {"x": 1}}})
        )
        .0,
        400
    );
    assert_eq!(
        s.post("secret/metadata/meta/x", json!({"max_versions": "many"}))
            .0,
        400
    );
}

#[test]
fn subkeys_with_depth() {
    let s = TestServer::dev();
    write(
        &s,
        "sub/x",
        json!({"a": 1, "b": {"c": 2, "d": {"e": 3}}, "f": [1, 2]}),
    );
    let (st, body) = s.get("secret/subkeys/sub/x");
    assert_eq!(st, 200, "{body}");
    assert_eq!(
        body["data"]["subkeys"],
        json!({"a": null, "b": {"c": null, "d": {"e": null}}, "f": null})
    );
    assert_eq!(body["data"]["metadata"]["version"], 1);
    assert_eq!(
        s.get("secret/subkeys/sub/x?depth=1").1["data"]["subkeys"],
        json!({"a": null, "b": null, "f": null})
    );
    assert_eq!(
        s.get("secret/subkeys/sub/x?depth=2").1["data"]["subkeys"],
        json!({"a": null, "b": {"c": null, "d": null}, "f": null})
    );
    write(&s, "sub/x", json!({"only": true}));
    assert_eq!(
        s.get("secret/subkeys/sub/x?version=2").1["data"]["subkeys"],
        json!({"only": null})
    );
    assert_eq!(
        s.get("secret/subkeys/sub/x?version=1").1["data"]["subkeys"]["b"]["c"],
        Value::Null
    );
    assert_eq!(s.get("secret/subkeys/sub/missing").0, 404);
    s.delete("secret/data/sub/x");
    let (st, body) = s.get("secret/subkeys/sub/x");
    assert_eq!(st, 404);
    assert_eq!(body["data"]["subkeys"], Value::Null);
}

#[test]
fn delete_version_after_expires_versions() {
    let s = TestServer::dev_manual_clock();
    assert_eq!(
        s.post(
            "secret/metadata/dva/x",
            json!({"delete_version_after": "1s"})
        )
        .0,
        204
    );
    assert_eq!(
        s.get("secret/metadata/dva/x").1["data"]["delete_version_after"],
        "1s"
    );
    let w = write(&s, "dva/x", json!({"v": 1}));
    assert!(is_vault_time(&w["data"]["deletion_time"]), "{w}");
    assert_eq!(s.get("secret/data/dva/x").0, 200);
    s.advance("2s");
    let (st, body) = s.get("secret/data/dva/x");
    assert_eq!(st, 404);
    assert_eq!(body["data"]["data"], Value::Null);
    assert_eq!(body["data"]["metadata"]["version"], 1);

    // mount-wide, and the smaller of mount and key wins
    assert_eq!(
        s.post("secret/config", json!({"delete_version_after": "1h"}))
            .0,
        204
    );
    assert_eq!(
        s.get("secret/config").1["data"]["delete_version_after"],
        "1h0m0s"
    );
    assert!(is_vault_time(
        &write(&s, "dva/y", json!({"v": 1}))["data"]["deletion_time"]
    ));
    // a negative mount setting disables it for every key
    assert_eq!(
        s.post("secret/config", json!({"delete_version_after": "-1s"}))
            .0,
        204
    );
    assert_eq!(
        write(&s, "dva/x", json!({"v": 2}))["data"]["deletion_time"],
        ""
    );
}

#[test]
fn create_versus_update_follows_key_existence() {
    let s = TestServer::dev();
    s.policy(
        "creator",
        r#"path "secret/data/*" { capabilities = ["create", "read"] }"#,
    );
    let t = s.token(json!({"policies": ["creator"]}));
    let post = |key: &str| {
        s.request(
            "POST",
            &format!("secret/data/{key}"),
            Some(json!({"data": {"v": 1}})),
            Some(&t),
        )
    };
    assert_eq!(post("acl/new").0, 200);
    assert_eq!(post("acl/new").0, 403, "a second write is an update");
}

#[test]
fn upgrade_from_v1_keeps_data_across_restart() {
    let mut s = TestServer::unsealed(1, 1);
    assert_eq!(
        s.post(
            "sys/mounts/kv",
            json!({"type": "kv", "options": {"version": "1"}})
        )
        .0,
        204
    );
    assert_eq!(s.post("kv/app/db", json!({"user": "alice"})).0, 204);
    assert_eq!(s.post("kv/app/nested/deep", json!({"n": 1})).0, 204);
    assert_eq!(s.post("kv/top", json!({"t": true})).0, 204);
    // Vault answers the upgrade with a notice.
    let (st, b) = s.post("sys/mounts/kv/tune", json!({"options": {"version": "2"}}));
    assert_eq!(st, 200, "{b}");
    assert!(
        b["warnings"][0]
            .as_str()
            .is_some_and(|w| w.starts_with("Upgrading mount from version 1 to version 2")),
        "{b}"
    );

    let (st, body) = s.get("kv/data/app/db");
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["data"]["data"], json!({"user": "alice"}));
    assert_eq!(body["data"]["metadata"]["version"], 1);
    assert_eq!(
        s.list("kv/metadata/").1["data"]["keys"],
        json!(["app/", "top"])
    );
    assert_eq!(
        s.list("kv/metadata/app").1["data"]["keys"],
        json!(["db", "nested/"])
    );
    let (_, v2) = s.post("kv/data/app/db", json!({"data": {"user": "bob"}}));
    assert_eq!(v2["data"]["version"], 2);
    // a second tune is a no-op
    assert_eq!(
        s.post("sys/mounts/kv/tune", json!({"options": {"version": "2"}}))
            .0,
        204
    );
    assert_eq!(
        s.get("kv/data/app/db?version=1").1["data"]["data"]["user"],
        "alice"
    );

    s.restart();
    s.unseal_all();
    assert_eq!(s.get("kv/data/app/db").1["data"]["data"]["user"], "bob");
    assert_eq!(s.get("kv/data/app/nested/deep").1["data"]["data"]["n"], 1);
    assert_eq!(s.get("kv/data/top").1["data"]["data"]["t"], true);
    let (_, m) = s.get("sys/internal/ui/mounts/kv");
    assert_eq!(m["data"]["options"]["version"], "2");
}

#[test]
fn concurrent_cas_writers_never_share_a_version() {
    let s = Arc::new(TestServer::dev());
    let acked = Arc::new(Mutex::new(Vec::<u64>::new()));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let s = s.clone();
            let acked = acked.clone();
            std::thread::spawn(move || {
                for i in 0..15 {
                    let (st, meta) = s.get("secret/metadata/hot");
                    let current = if st == 200 {
                        meta["data"]["current_version"].as_u64().unwrap()
                    } else {
                        0
                    };
                    let body = json!({"data": {"t": t, "i": i}, "options": {"cas": current}});
                    let (st, resp) = s.post("secret/data/hot", body);
                    match st {
                        200 => acked
                            .lock()
                            .unwrap()
                            .push(resp["data"]["version"].as_u64().unwrap()),
                        400 => assert!(
                            resp["errors"][0]
                                .as_str()
                                .unwrap()
                                .contains("check-and-set"),
                            "{resp}"
                        ),
                        other => panic!("unexpected status {other}: {resp}"),
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer thread");
    }
    let mut acked = acked.lock().unwrap().clone();
    let n = acked.len();
    assert!(n > 0);
    acked.sort_unstable();
    acked.dedup();
    assert_eq!(acked.len(), n, "a version number was acknowledged twice");
    let (_, meta) = s.get("secret/metadata/hot");
    assert_eq!(
        meta["data"]["current_version"].as_u64().unwrap() as usize,
        n
    );
}
