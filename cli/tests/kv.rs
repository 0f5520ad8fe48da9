//! End-to-end tests of `vault-rs kv …` against a real dev server: KV
//! version 1 on a mount of its own, and KV version 2 at secret/ (dev mode).

mod common;

use common::{mask_rows, row_value, Server};
use serde_json::json;

use common::parse_json as body;

#[test]
fn kv_v1_put_get_list_delete() {
    let server = Server::dev_with_kv1();
    let stdout = server.ok(&["kv", "put", "kvv1/app", "user=alice", "password=hunter2"]);
    assert_eq!(stdout, "Success! Data written to: kvv1/app\n");
    server.ok(&["kv", "put", "-mount=kvv1", "dir/one", "x=1"]);

    let golden = "====== Data ======\n\
                  Key         Value\n\
                  ---         -----\n\
                  password    hunter2\n\
                  user        alice\n";
    assert_eq!(server.ok(&["kv", "get", "kvv1/app"]), golden);
    assert_eq!(server.ok(&["kv", "get", "-mount=kvv1", "app"]), golden);
    assert_eq!(
        server.ok(&["kv", "get", "-field=user", "kvv1/app"]),
        "alice"
    );
    let json = body(&server.ok(&["kv", "get", "-format=json", "kvv1/app"]));
    assert_eq!(json["data"]["user"], json!("alice"));

    assert_eq!(
        server.ok(&["kv", "list", "kvv1"]),
        "Keys\n----\napp\ndir/\n"
    );
    assert_eq!(
        server.ok(&["kv", "list", "-mount=kvv1"]),
        "Keys\n----\napp\ndir/\n"
    );
    assert_eq!(
        server.ok(&["kv", "list", "-mount=kvv1", "dir"]),
        "Keys\n----\none\n"
    );

    let stdout = server.ok(&["kv", "delete", "kvv1/app"]);
    assert_eq!(
        stdout,
        "Success! Data deleted (if it existed) at: kvv1/app\n"
    );
    let stderr = server.cli().run(&["kv", "get", "kvv1/app"]).fails_with(2);
    assert_eq!(stderr, "No value found at kvv1/app\n");
}

#[test]
fn kv_v1_refuses_v2_only_commands() {
    let server = Server::dev_with_kv1();
    server.ok(&["kv", "put", "kvv1/app", "a=1"]);
    let cases: &[(&[&str], &str)] = &[
        (&["kv", "patch", "kvv1/app", "a=2"], "must be version 2"),
        (
            &["kv", "metadata", "get", "kvv1/app"],
            "Metadata not supported on KV Version 1",
        ),
        (
            &["kv", "undelete", "-versions=1", "kvv1/app"],
            "Undelete not supported on KV Version 1",
        ),
        (
            &["kv", "destroy", "-versions=1", "kvv1/app"],
            "Destroy not supported on KV Version 1",
        ),
        (
            &["kv", "rollback", "-version=1", "kvv1/app"],
            "Rollback not supported on KV Version 1",
        ),
    ];
    for (args, message) in cases {
        let stderr = server.cli().run(args).fails_with(1);
        assert!(stderr.contains(message), "args {args:?}: {stderr}");
    }
    let stderr = server
        .cli()
        .run(&["kv", "put", "-cas=1", "kvv1/app", "a=1"])
        .fails_with(1);
    assert!(stderr.contains("--cas"), "{stderr}");
}

#[test]
fn kv_v2_put_and_get_golden() {
    let server = Server::dev();
    let stdout = server.ok(&[
        "kv",
        "put",
        "secret/myapp",
        "user=alice",
        "password=hunter2",
    ]);
    let metadata = "== Secret Path ==\n\
                    secret/data/myapp\n\
                    \n\
                    ======= Metadata =======\n\
                    Key                Value\n\
                    ---                -----\n\
                    created_time       *\n\
                    custom_metadata    <nil>\n\
                    deletion_time      n/a\n\
                    destroyed          false\n\
                    version            1\n";
    assert_eq!(mask_rows(&stdout, &["created_time"]), metadata);

    let stdout = server.ok(&["kv", "get", "secret/myapp"]);
    let golden = format!(
        "{metadata}\n\
         ====== Data ======\n\
         Key         Value\n\
         ---         -----\n\
         password    hunter2\n\
         user        alice\n"
    );
    assert_eq!(mask_rows(&stdout, &["created_time"]), golden);
    let by_mount = server.ok(&["kv", "get", "-mount=secret", "myapp"]);
    assert_eq!(mask_rows(&by_mount, &["created_time"]), golden);
}

#[test]
fn kv_v2_field_json_and_versions() {
    let server = Server::dev();
    server.ok(&["kv", "put", "secret/app", "user=alice"]);
    server.ok(&["kv", "put", "secret/app", "user=bob"]);
    assert_eq!(
        server.ok(&["kv", "get", "-field=user", "secret/app"]),
        "bob"
    );
    assert_eq!(
        server.ok(&["kv", "get", "-version=1", "-field=user", "secret/app"]),
        "alice"
    );
    let json = body(&server.ok(&["kv", "get", "-format=json", "-mount=secret", "app"]));
    assert_eq!(json["data"]["data"], json!({"user": "bob"}));
    assert_eq!(json["data"]["metadata"]["version"], json!(2));
    let stderr = server
        .cli()
        .run(&["kv", "get", "-field=nope", "secret/app"])
        .fails_with(1);
    assert!(stderr.contains("Field \"nope\" not present"), "{stderr}");
    let put = body(&server.ok(&["kv", "put", "-format=json", "secret/app", "user=carol"]));
    assert_eq!(put["data"]["version"], json!(3));
    assert_eq!(
        server.ok(&["kv", "put", "-field=version", "secret/app", "user=dan"]),
        "4"
    );
    let stderr = server
        .cli()
        .run(&["kv", "get", "secret/missing"])
        .fails_with(2);
    assert_eq!(stderr, "No value found at secret/data/missing\n");
}

#[test]
fn kv_v2_check_and_set() {
    let server = Server::dev();
    server.ok(&["kv", "put", "-cas=0", "secret/cas", "a=1"]);
    let stderr = server
        .cli()
        .run(&["kv", "put", "-cas=0", "secret/cas", "a=2"])
        .fails_with(2);
    assert!(stderr.contains("check-and-set"), "{stderr}");
    server.ok(&["kv", "put", "-cas=1", "secret/cas", "a=2"]);
    assert_eq!(server.ok(&["kv", "get", "-field=a", "secret/cas"]), "2");
}

#[test]
fn kv_v2_patch() {
    let server = Server::dev();
    server.ok(&["kv", "put", "secret/p", "a=1", "b=2"]);
    let stdout = server.ok(&["kv", "patch", "secret/p", "b=3", "c=4"]);
    assert_eq!(
        row_value(&stdout, "version").as_deref(),
        Some("2"),
        "{stdout}"
    );
    let json = body(&server.ok(&["kv", "get", "-format=json", "secret/p"]));
    assert_eq!(json["data"]["data"], json!({"a": "1", "b": "3", "c": "4"}));

    server.ok(&["kv", "patch", "-method=rw", "secret/p", "a=9"]);
    server.ok(&["kv", "patch", "-remove-data=c", "secret/p"]);
    let json = body(&server.ok(&["kv", "get", "-format=json", "secret/p"]));
    assert_eq!(json["data"]["data"], json!({"a": "9", "b": "3"}));
    assert_eq!(json["data"]["metadata"]["version"], json!(4));

    let stderr = server
        .cli()
        .run(&["kv", "patch", "-cas=1", "secret/p", "a=0"])
        .fails_with(2);
    assert!(stderr.contains("check-and-set"), "{stderr}");
    server
        .cli()
        .run(&["kv", "patch", "secret/none", "a=1"])
        .fails_with(2);
}

#[test]
fn kv_v2_delete_undelete_destroy() {
    let server = Server::dev();
    server.ok(&["kv", "put", "secret/d", "v=1"]);
    server.ok(&["kv", "put", "secret/d", "v=2"]);

    let stdout = server.ok(&["kv", "delete", "secret/d"]);
    assert_eq!(
        stdout,
        "Success! Data deleted (if it existed) at: secret/data/d\n"
    );
    // The deleted version still shows its metadata, without data.
    let stdout = server.ok(&["kv", "get", "secret/d"]);
    assert!(stdout.contains("Metadata"), "{stdout}");
    assert!(!stdout.contains("= Data ="), "{stdout}");
    assert_ne!(
        row_value(&stdout, "deletion_time").as_deref(),
        Some("n/a"),
        "{stdout}"
    );
    let stderr = server
        .cli()
        .run(&["kv", "get", "-field=v", "secret/d"])
        .fails_with(1);
    assert!(
        stderr.contains("No data found at secret/data/d"),
        "{stderr}"
    );
    assert_eq!(
        server.ok(&["kv", "get", "-version=1", "-field=v", "secret/d"]),
        "1"
    );

    let stdout = server.ok(&["kv", "undelete", "-versions=2", "secret/d"]);
    assert_eq!(stdout, "Success! Data written to: secret/undelete/d\n");
    assert_eq!(server.ok(&["kv", "get", "-field=v", "secret/d"]), "2");

    server.ok(&["kv", "delete", "-versions=1", "secret/d"]);
    server
        .cli()
        .run(&["kv", "get", "-version=1", "-field=v", "secret/d"])
        .fails_with(1);

    let stdout = server.ok(&["kv", "destroy", "-versions=2", "secret/d"]);
    assert_eq!(stdout, "Success! Data written to: secret/destroy/d\n");
    let stdout = server.ok(&["kv", "get", "-version=2", "secret/d"]);
    assert_eq!(
        row_value(&stdout, "destroyed").as_deref(),
        Some("true"),
        "{stdout}"
    );
    server.ok(&["kv", "undelete", "-versions=2", "secret/d"]);
    server
        .cli()
        .run(&["kv", "get", "-version=2", "-field=v", "secret/d"])
        .fails_with(1);
}

#[test]
fn kv_v2_list() {
    let server = Server::dev();
    server.ok(&["kv", "put", "secret/dir/a", "x=1"]);
    server.ok(&["kv", "put", "secret/dir/b", "x=1"]);
    server.ok(&["kv", "put", "secret/top", "x=1"]);
    assert_eq!(
        server.ok(&["kv", "list", "secret"]),
        "Keys\n----\ndir/\ntop\n"
    );
    assert_eq!(
        server.ok(&["kv", "list", "secret/dir"]),
        "Keys\n----\na\nb\n"
    );
    assert_eq!(
        server.ok(&["kv", "list", "-mount=secret", "dir/"]),
        "Keys\n----\na\nb\n"
    );
    let keys = body(&server.ok(&["kv", "list", "-format=json", "-mount=secret"]));
    assert_eq!(keys, json!(["dir/", "top"]));
    let stderr = server
        .cli()
        .run(&["kv", "list", "secret/nothing"])
        .fails_with(2);
    assert!(
        stderr.contains("No value found at secret/metadata/nothing/"),
        "{stderr}"
    );
}

#[test]
fn kv_v2_metadata_put_get_delete() {
    let server = Server::dev();
    server.ok(&["kv", "put", "secret/m", "x=1"]);
    let stdout = server.ok(&[
        "kv",
        "metadata",
        "put",
        "-max-versions=5",
        "-cas-required=false",
        "-custom-metadata=owner=ops",
        "secret/m",
    ]);
    assert_eq!(stdout, "Success! Data written to: secret/metadata/m\n");

    let stdout = server.ok(&["kv", "metadata", "get", "secret/m"]);
    let masked = mask_rows(&stdout, &["created_time", "updated_time"]);
    assert_eq!(
        masked,
        "= Metadata Path =\n\
         secret/metadata/m\n\
         \n\
         ========== Metadata ==========\n\
         Key                     Value\n\
         ---                     -----\n\
         cas_required            false\n\
         created_time            *\n\
         current_version         1\n\
         custom_metadata         map[owner:ops]\n\
         delete_version_after    0s\n\
         max_versions            5\n\
         oldest_version          0\n\
         updated_time            *\n\
         \n\
         ====== Version 1 ======\n\
         Key              Value\n\
         ---              -----\n\
         created_time     *\n\
         deletion_time    n/a\n\
         destroyed        false\n"
    );
    let json = body(&server.ok(&["kv", "metadata", "get", "-format=json", "secret/m"]));
    assert_eq!(json["data"]["versions"]["1"]["destroyed"], json!(false));
    assert_eq!(
        server.ok(&["kv", "metadata", "get", "-field=max_versions", "secret/m"]),
        "5"
    );

    let stdout = server.ok(&["kv", "metadata", "delete", "secret/m"]);
    assert_eq!(
        stdout,
        "Success! Data deleted (if it existed) at: secret/metadata/m\n"
    );
    server
        .cli()
        .run(&["kv", "metadata", "get", "secret/m"])
        .fails_with(2);
    server.cli().run(&["kv", "get", "secret/m"]).fails_with(2);
}

#[test]
fn kv_v2_rollback() {
    let server = Server::dev();
    server.ok(&["kv", "put", "secret/r", "a=1"]);
    server.ok(&["kv", "put", "secret/r", "a=2"]);
    let stdout = server.ok(&["kv", "rollback", "-version=1", "secret/r"]);
    assert_eq!(
        row_value(&stdout, "version").as_deref(),
        Some("3"),
        "{stdout}"
    );
    assert_eq!(server.ok(&["kv", "get", "-field=a", "secret/r"]), "1");
    let stderr = server
        .cli()
        .run(&["kv", "rollback", "-version=9", "secret/r"])
        .fails_with(1);
    assert!(stderr.contains("does not exist"), "{stderr}");
}
