//! Moving a test server's clock instead of waiting: a dev server started
//! with `--dev-manual-clock` keeps its time still until `sys/dev/clock`
//! advances it (and runs the scheduler once: what became due is done when
//! the call returns).

use std::path::PathBuf;

use serde_json::{json, Value};

use super::{client, spawn, TestServer};

impl TestServer {
    /// `server --dev --dev-manual-clock` with root token "root".
    pub fn dev_manual_clock() -> TestServer {
        let (child, addr, lines) = spawn(&[
            "server",
            "--dev",
            "--dev-manual-clock",
            "--dev-listen-address",
            "127.0.0.1:0",
            "--dev-root-token-id",
            "root",
        ]);
        TestServer {
            child: Some(child),
            addr,
            root_token: "root".into(),
            // The dev server prints its one unseal key: a seal and unseal
            // (`unseal_all`) stands in for downtime.
            keys: lines
                .iter()
                .filter_map(|l| l.split("Unseal Key: ").nth(1))
                .map(|k| k.trim().to_string())
                .collect(),
            dir: PathBuf::new(),
            _tmp: None,
            client: client(),
        }
    }

    /// Moves the server's clock forward by `by` ("1500ms" rounds down to
    /// whole seconds: "2s", "1h") and runs its scheduler once; returns the
    /// endpoint's answer (`now`, `expired`, `performed`).
    pub fn advance(&self, by: &str) -> Value {
        let (st, body) = self.put_raw(
            "sys/dev/clock",
            json!({ "advance": by }),
            Some(&self.root_token),
        );
        assert_eq!(st, 200, "advance {by}: {body}");
        body
    }
}
