//! End-to-end tests of the bounds on what a client may cost the server
//! before it is authorised: header and body deadlines, the connection
//! limit, the shutdown deadline (plain and TLS listeners), the token check
//! before a body is read, the `Content-Length` refusal, the shared budget
//! for large bodies, and the JSON shape limits. Slow clients are raw TCP.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use common::TestServer;
use serde_json::{json, Value};

fn config(dir: &Path, listener_extra: &str, top_extra: &str) -> String {
    format!(
        "storage \"sled\" {{\n  path = \"{}\"\n}}\nlistener \"tcp\" {{\n  address = \"127.0.0.1:0\"\n  tls_disable = true\n{listener_extra}\n}}\n{top_extra}\n",
        dir.join("data").display()
    )
}

fn connect(s: &TestServer) -> TcpStream {
    let c = TcpStream::connect(s.host_port()).expect("connect");
    c.set_nodelay(true).expect("nodelay");
    c
}

/// Opens a connection and sends `bytes` (then stalls).
fn send(s: &TestServer, bytes: &[u8]) -> TcpStream {
    let mut c = connect(s);
    c.write_all(bytes).expect("write");
    c
}

/// Reads until the server closes the connection, within `within`.
/// `Err` if it is still open then.
fn read_until_closed(c: &mut TcpStream, within: Duration) -> Result<String, String> {
    let start = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = within.saturating_sub(start.elapsed());
        if left.is_zero() {
            return Err(format!(
                "still open after {within:?}; read: {}",
                String::from_utf8_lossy(&out)
            ));
        }
        c.set_read_timeout(Some(left)).expect("timeout");
        match c.read(&mut buf) {
            Ok(0) => return Ok(String::from_utf8_lossy(&out).into_owned()),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            // A reset after the answer still counts as closed.
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                return Ok(String::from_utf8_lossy(&out).into_owned())
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Err(format!("read failed: {e}")),
        }
    }
}

/// Reads a response's status line and headers, within `within`.
fn read_head(c: &mut TcpStream, within: Duration) -> Result<String, String> {
    let start = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    while !out.windows(4).any(|w| w == b"\r\n\r\n") {
        let left = within.saturating_sub(start.elapsed());
        if left.is_zero() {
            return Err(format!("no answer in {within:?}"));
        }
        c.set_read_timeout(Some(left)).expect("timeout");
        match c.read(&mut buf) {
            Ok(0) => return Err("closed without an answer".into()),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Err(format!("read failed: {e}")),
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Whether the server sends anything (or closes) within `within`.
fn answers_within(c: &mut TcpStream, within: Duration) -> bool {
    c.set_read_timeout(Some(within)).expect("timeout");
    let mut buf = [0u8; 1];
    match c.read(&mut buf) {
        // Bytes (n > 0) or a close (0): either way the server acted.
        Ok(n) => n <= 1,
        Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    }
}

fn status_line(resp: &str) -> &str {
    resp.lines().next().unwrap_or("")
}

#[test]
fn slow_clients_are_disconnected_and_oversized_bodies_refused_at_once() {
    let s = TestServer::from_config(|d| {
        config(
            d,
            "http_read_header_timeout = \"1s\"\nhttp_read_timeout = \"1s\"",
            "max_request_size = 1024",
        )
    });
    let bound = Duration::from_secs(4);
    // Stops in the middle of its headers.
    let mut mid_headers = send(&s, b"GET /v1/sys/health HTTP/1.1\r\nHost: x\r\nX-A: ");
    // Connects and sends nothing.
    let mut idle = connect(&s);
    // Stops in the middle of its body (an unauthenticated path).
    let mut mid_body = send(
        &s,
        b"PUT /v1/sys/unseal HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"key\":",
    );
    // Kept alive after one request, then silent.
    let mut kept = send(&s, b"GET /v1/sys/seal-status HTTP/1.1\r\nHost: x\r\n\r\n");
    read_head(&mut kept, bound).expect("first answer");
    let start = Instant::now();
    read_until_closed(&mut kept, bound).expect("idle keep-alive connection");
    read_until_closed(&mut mid_headers, bound).expect("stalled headers");
    read_until_closed(&mut idle, bound).expect("idle connection");
    let resp = read_until_closed(&mut mid_body, bound).expect("stalled body");
    assert!(status_line(&resp).contains(" 408"), "{resp}");
    assert!(start.elapsed() < bound);

    // A declared length over max_request_size: 413 without waiting for
    // the body, and the connection closes.
    let mut big = send(
        &s,
        b"PUT /v1/sys/unseal HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n",
    );
    let resp = read_head(&mut big, Duration::from_millis(900)).expect("413 at once");
    assert!(status_line(&resp).contains(" 413"), "{resp}");
    assert!(
        resp.to_ascii_lowercase().contains("connection: close"),
        "{resp}"
    );
    // Far over the limit: not even drained, the connection closes.
    let mut huge = send(
        &s,
        b"PUT /v1/sys/unseal HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n",
    );
    let resp = read_until_closed(&mut huge, Duration::from_millis(900)).expect("413 and close");
    assert!(status_line(&resp).contains(" 413"), "{resp}");

    // Ordinary clients are unaffected.
    let (st, body) = s.get_raw("sys/seal-status", None);
    assert_eq!(st, 200, "{body}");
}

#[test]
fn connections_beyond_the_limit_wait_their_turn() {
    let s = TestServer::from_config(|d| {
        config(
            d,
            "max_connections = 2\nhttp_read_header_timeout = \"60s\"",
            "",
        )
    });
    let stalled: Vec<TcpStream> = (0..2)
        .map(|_| send(&s, b"GET /v1/sys/health HTTP/1.1\r\nHost: x\r\n"))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut third = send(
        &s,
        b"GET /v1/sys/seal-status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(
        !answers_within(&mut third, Duration::from_secs(1)),
        "a third connection was served beyond max_connections = 2"
    );
    drop(stalled);
    let resp =
        read_until_closed(&mut third, Duration::from_secs(5)).expect("served once a slot frees");
    assert!(status_line(&resp).contains(" 200"), "{resp}");
}

/// SIGTERM with stalled connections: the process exits, cleanly, within
/// the shutdown deadline (and the vault is sealed on the way out).
fn assert_prompt_clean_exit(mut s: TestServer, stalled: Vec<TcpStream>) {
    std::thread::sleep(Duration::from_millis(300));
    let start = Instant::now();
    let status = s.terminate();
    let took = start.elapsed();
    drop(stalled);
    assert!(status.success(), "exit status {status:?} after {took:?}");
    assert!(took < Duration::from_secs(4), "exit took {took:?}");
}

#[test]
fn shutdown_drops_stalled_connections_after_the_deadline() {
    let s = TestServer::from_config(|d| {
        config(
            d,
            "graceful_shutdown_timeout = \"1s\"\nhttp_read_header_timeout = \"60s\"\nhttp_read_timeout = \"60s\"",
            "",
        )
    });
    let stalled = vec![
        send(&s, b"GET /v1/sys/health HTTP/1.1\r\nHost: x\r\n"),
        send(
            &s,
            b"PUT /v1/sys/unseal HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
        ),
    ];
    assert_prompt_clean_exit(s, stalled);
}

#[test]
fn tls_handshakes_are_bounded_by_the_header_deadline() {
    let s = TestServer::from_config(|d| {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
        std::fs::write(d.join("cert.pem"), cert.cert.pem()).expect("write cert");
        std::fs::write(d.join("key.pem"), cert.signing_key.serialize_pem()).expect("write key");
        format!(
            "storage \"sled\" {{\n  path = \"{}\"\n}}\nlistener \"tcp\" {{\n  address = \"127.0.0.1:0\"\n  tls_cert_file = \"cert.pem\"\n  tls_key_file = \"key.pem\"\n  http_read_header_timeout = \"{}\"\n  graceful_shutdown_timeout = \"1s\"\n}}\n",
            d.join("data").display(),
            "1s"
        )
    });
    assert!(s.addr.starts_with("https://"), "{}", s.addr);
    // A client that never completes the handshake is dropped after the
    // header deadline (1 s here).
    let start = Instant::now();
    let mut idle = connect(&s);
    let mut partial = send(&s, b"\x16\x03\x01\x02\x00\x01");
    read_until_closed(&mut idle, Duration::from_secs(4)).expect("stalled handshake");
    read_until_closed(&mut partial, Duration::from_secs(4)).expect("partial handshake");
    assert!(start.elapsed() >= Duration::from_millis(900));
}

#[test]
fn tls_shutdown_waits_no_longer_than_the_deadline() {
    let s = TestServer::from_config(|d| {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
        std::fs::write(d.join("cert.pem"), cert.cert.pem()).expect("write cert");
        std::fs::write(d.join("key.pem"), cert.signing_key.serialize_pem()).expect("write key");
        format!(
            "storage \"sled\" {{\n  path = \"{}\"\n}}\nlistener \"tcp\" {{\n  address = \"127.0.0.1:0\"\n  tls_cert_file = \"cert.pem\"\n  tls_key_file = \"key.pem\"\n  http_read_header_timeout = \"60s\"\n  graceful_shutdown_timeout = \"1s\"\n}}\n",
            d.join("data").display(),
        )
    });
    let stalled = vec![connect(&s), send(&s, b"\x16\x03\x01\x02\x00\x01")];
    assert_prompt_clean_exit(s, stalled);
}

#[test]
fn large_bodies_share_a_memory_budget() {
    let s = TestServer::from_config(|d| {
        config(
            d,
            "max_request_body_memory = 131072\nhttp_read_timeout = \"20s\"",
            "",
        )
    });
    let head = b"PUT /v1/sys/unseal HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 100000\r\n\r\n";
    // Holds 100000 of the 131072 bytes while it trickles.
    let mut first = send(&s, head);
    first.write_all(b"{\"key\":\"").expect("write");
    std::thread::sleep(Duration::from_millis(300));
    let mut second = send(&s, head);
    let mut body = b"{\"key\":\"".to_vec();
    body.resize(100000 - 2, b'a');
    body.extend_from_slice(b"\"}");
    // The second body waits for room (it may still be sent: the kernel
    // buffers it).
    let writer = {
        let mut w = second.try_clone().expect("clone");
        std::thread::spawn(move || {
            let _ = w.write_all(&body);
        })
    };
    assert!(
        !answers_within(&mut second, Duration::from_secs(1)),
        "a second large body was taken beyond the budget"
    );
    drop(first);
    let resp = read_until_closed(&mut second, Duration::from_secs(5)).expect("served later");
    assert!(status_line(&resp).contains(" 400"), "{resp}");
    let _ = writer.join();
}

fn raw_request(s: &TestServer, head: &str) -> String {
    let mut c = send(s, head.as_bytes());
    read_until_closed(&mut c, Duration::from_secs(2)).expect("answered before the body")
}

#[test]
fn the_token_is_checked_before_the_body_is_read() {
    let mut s = TestServer::sled();
    s.init(1, 1);
    s.unseal_all();
    let big = "Content-Length: 33554432\r\n"; // the default maximum
                                              // No token, a bad token: 403 at once, the 32 MiB body never read.
    for token in ["", "X-Vault-Token: s.not-a-token\r\n"] {
        let resp = raw_request(
            &s,
            &format!("PUT /v1/secret/data/x HTTP/1.1\r\nHost: x\r\n{token}{big}\r\n"),
        );
        assert!(status_line(&resp).contains(" 403"), "{resp}");
        assert!(
            resp.to_ascii_lowercase().contains("connection: close"),
            "{resp}"
        );
    }
    // A body of unknown length (chunked) likewise.
    let resp = raw_request(
        &s,
        "PUT /v1/secret/data/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    assert!(status_line(&resp).contains(" 403"), "{resp}");
    // Paths that need no token still read the body (a login: 400 for the
    // unknown mount's data is fine, not 403).
    let (st, b) = s.put_raw("sys/unseal", json!({"key": s.keys[0]}), None);
    assert_eq!(st, 200, "{b}");
    let (st, b) = s.put_raw("sys/wrapping/lookup", json!({"token": "nope"}), None);
    assert_ne!(st, 403, "{b}");
    // A small refused body is drained: the same connection goes on.
    let mut c = connect(&s);
    let req = "PUT /v1/secret/data/x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
    c.write_all(req.as_bytes()).expect("write");
    c.write_all(b"GET /v1/sys/seal-status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let resp = read_until_closed(&mut c, Duration::from_secs(3)).expect("both answered");
    assert!(status_line(&resp).contains(" 403"), "{resp}");
    assert_eq!(resp.matches("HTTP/1.1 ").count(), 2, "{resp}");
    // Sealed: 503 at once, even with the root token.
    let root = s.root_token.clone();
    assert_eq!(s.post("sys/seal", json!({})).0, 204);
    let resp = raw_request(
        &s,
        &format!("PUT /v1/secret/data/x HTTP/1.1\r\nHost: x\r\nX-Vault-Token: {root}\r\n{big}\r\n"),
    );
    assert!(status_line(&resp).contains(" 503"), "{resp}");
}

fn nested(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

#[test]
fn json_shape_is_bounded_before_dispatch_and_audit() {
    let s = TestServer::dev();
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("audit.log");
    let (st, b) = s.put_raw(
        "sys/audit/file",
        json!({"type": "file", "options": {"file_path": log.to_str().expect("utf8")}}),
        Some("root"),
    );
    assert_eq!(st, 204, "{b}");
    let deep = |d: usize| format!("{{\"data\":{{\"v\":{}}}}}", nested(d)).into_bytes();
    // Within the bound (64 levels in all): accepted.
    let (st, b, _) = s.send_bytes("PUT", "secret/data/shallow", deep(62), Some("root"));
    assert_eq!(st, 200, "{b}");
    // Deeper: 400 with a clear message, never dispatched nor logged.
    let (st, b, _) = s.send_bytes("PUT", "secret/data/deep", deep(100), Some("root"));
    assert_eq!(st, 400, "{b}");
    assert!(
        b["errors"][0]
            .as_str()
            .unwrap_or("")
            .contains("deeper than 64"),
        "{b}"
    );
    let (st, b, _) = s.send_bytes("PUT", "secret/data/deep", deep(200), Some("root"));
    assert_eq!(st, 400, "{b}");
    let long_key = format!("{{\"data\":{{\"{}\":1}}}}", "k".repeat(2000));
    let (st, b, _) = s.send_bytes(
        "PUT",
        "secret/data/deep",
        long_key.into_bytes(),
        Some("root"),
    );
    assert_eq!(st, 400, "{b}");
    assert!(
        b["errors"][0].as_str().unwrap_or("").contains("field name"),
        "{b}"
    );
    assert_eq!(s.get_raw("secret/data/deep", Some("root")).0, 404);
    // Anonymous and deeply nested (a small body, read at once): refused on
    // its shape before the pipeline, so before the audit log.
    let (st, _, _) = s.send_bytes("POST", "secret/data/deep", nested(125).into_bytes(), None);
    assert_eq!(st, 400);
    // Every audit line reads back with a default JSON parser; the refused
    // bodies are not in it.
    let text = std::fs::read_to_string(&log).expect("read log");
    assert!(text.contains("secret/data/shallow"));
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).expect("every audit line parses");
        let path = v["request"]["path"].as_str().unwrap_or("");
        if path == "secret/data/deep" && v["request"]["operation"] == "update" {
            let data = &v["request"]["data"];
            assert!(data.is_null() || data == &json!({}), "{v}");
        }
    }
}

#[test]
fn in_flight_requests_finish_during_the_shutdown_grace() {
    let mut s = TestServer::from_config(|d| config(d, "graceful_shutdown_timeout = \"5s\"", ""));
    let body = br#"{"key":"AAAA"}"#;
    let mut c = send(
        &s,
        format!(
            "PUT /v1/sys/unseal HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{{",
            body.len()
        )
        .as_bytes(),
    );
    std::thread::sleep(Duration::from_millis(300));
    let term = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(s.pid().expect("running").to_string())
        .status()
        .expect("kill");
    assert!(term.success());
    std::thread::sleep(Duration::from_millis(300));
    // The rest of the body arrives after SIGTERM: the request is served.
    c.write_all(&body[1..]).expect("write");
    let resp = read_until_closed(&mut c, Duration::from_secs(4)).expect("answered, then closed");
    assert!(status_line(&resp).starts_with("HTTP/1.1 "), "{resp}");
    assert!(!status_line(&resp).contains(" 408"), "{resp}");
    let status = s.terminate();
    assert!(status.success(), "{status:?}");
}
