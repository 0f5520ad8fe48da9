//! The Rust `vaultrs` client, unmodified, against the real server: KV v2,
//! policies, tokens, AppRole login, mounts and wrapping.

mod common;

use std::collections::HashMap;

use common::TestServer;
use serde_json::json;
use vaultrs::api::token::requests::CreateTokenRequestBuilder;
use vaultrs::client::{VaultClient, VaultClientSettingsBuilder};
use vaultrs::{auth, kv2, sys, token};

fn client(s: &TestServer, token: &str) -> VaultClient {
    // Every setting vaultrs would otherwise take from VAULT_* variables is
    // given, so a developer's environment cannot change the test.
    let settings = VaultClientSettingsBuilder::default()
        .address(&s.addr)
        .token(token)
        .ca_certs(Vec::new())
        .identity(None)
        .verify(true)
        .namespace(None)
        .build()
        .expect("settings");
    VaultClient::new(settings).expect("client")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn kv2_policies_and_tokens() {
    let s = TestServer::dev();
    runtime().block_on(async {
        let root = client(&s, "root");
        assert!(matches!(
            sys::status(&root).await.unwrap(),
            sys::ServerStatus::OK
        ));
        let mut secret = HashMap::new();
        secret.insert("password", "vaultrs-canary");
        kv2::set(&root, "secret", "app/db", &secret).await.unwrap();
        let read: HashMap<String, String> = kv2::read(&root, "secret", "app/db").await.unwrap();
        assert_eq!(read["password"], "vaultrs-canary");
        assert_eq!(kv2::list(&root, "secret", "app").await.unwrap(), vec!["db"]);
        let meta = kv2::read_metadata(&root, "secret", "app/db").await.unwrap();
        assert_eq!(meta.current_version, 1);

        sys::policy::set(
            &root,
            "app",
            "path \"secret/data/app/*\" {\n  capabilities = [\"read\"]\n}\n",
        )
        .await
        .unwrap();
        assert!(sys::policy::list(&root)
            .await
            .unwrap()
            .policies
            .contains(&"app".to_string()));
        let auth = token::new(
            &root,
            Some(CreateTokenRequestBuilder::default().policies(vec!["app".into()])),
        )
        .await
        .unwrap();
        let app = client(&s, &auth.client_token);
        let me = token::lookup_self(&app).await.unwrap();
        assert_eq!(me.policies, vec!["app".to_string(), "default".to_string()]);
        let read: HashMap<String, String> = kv2::read(&app, "secret", "app/db").await.unwrap();
        assert_eq!(read["password"], "vaultrs-canary");
        assert!(
            kv2::set(&app, "secret", "app/db", &secret).await.is_err(),
            "read-only policy"
        );
        token::revoke_self(&app).await.unwrap();
        assert!(token::lookup_self(&app).await.is_err());
    });
}

#[test]
fn approle_login_and_mounts() {
    let s = TestServer::dev();
    runtime().block_on(async {
        let root = client(&s, "root");
        sys::auth::enable(&root, "approle", "approle", None)
            .await
            .unwrap();
        assert!(sys::auth::list(&root)
            .await
            .unwrap()
            .contains_key("approle/"));
        sys::mount::enable(&root, "kv-extra", "kv", None)
            .await
            .unwrap();
        assert!(sys::mount::list(&root)
            .await
            .unwrap()
            .contains_key("kv-extra/"));
        auth::approle::role::set(&root, "approle", "svc", None)
            .await
            .unwrap();
        let role_id = auth::approle::role::read_id(&root, "approle", "svc")
            .await
            .unwrap()
            .role_id;
        let secret = auth::approle::role::secret::generate(&root, "approle", "svc", None)
            .await
            .unwrap();
        let login = auth::approle::login(&root, "approle", &role_id, &secret.secret_id)
            .await
            .unwrap();
        assert!(login.client_token.starts_with("hvs."));
        assert!(login.policies.contains(&"default".to_string()));
        let svc = client(&s, &login.client_token);
        token::lookup_self(&svc).await.unwrap();
        sys::mount::disable(&root, "kv-extra").await.unwrap();
    });
    let (st, b) = s.get("sys/mounts");
    assert_eq!(st, 200);
    assert!(b["data"].get("kv-extra/").is_none(), "{}", json!(b["data"]));
}

#[test]
fn ignores_the_developers_vault_environment() {
    common::assert_passes_in_a_hostile_environment("kv2_policies_and_tokens");
}
