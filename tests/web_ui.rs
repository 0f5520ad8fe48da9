//! The web UI as the real binary serves it: at `/ui/` with its security
//! headers when `ui = true` (on in `--dev`), `/` redirecting there; not
//! at all when a configuration file does not turn it on.

mod common;

use common::TestServer;

fn no_redirects() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

#[test]
fn dev_servers_serve_the_ui_with_a_strict_policy() {
    let s = TestServer::dev();
    let c = no_redirects();
    for path in ["/", "/ui"] {
        let r = c.get(format!("{}{path}", s.addr)).send().unwrap();
        assert!(r.status().is_redirection(), "{path}: {}", r.status());
        assert_eq!(r.headers()["location"], "/ui/", "{path}");
    }
    let r = c.get(format!("{}/ui/", s.addr)).send().unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = r.text().unwrap();
    assert!(page.contains("js/main.js"), "{page}");
    let r = c.get(format!("{}/ui/js/main.js", s.addr)).send().unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    let r = c.get(format!("{}/ui/nothing.js", s.addr)).send().unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.headers().contains_key("content-security-policy"));
    // the API is untouched
    let (st, _) = s.get("sys/health");
    assert_eq!(st, 200);
}

#[test]
fn a_configured_server_serves_no_ui_unless_asked() {
    let s = TestServer::sled();
    let c = no_redirects();
    let r = c.get(format!("{}/ui/", s.addr)).send().unwrap();
    assert_eq!(r.status(), 404);
    assert!(!r.headers().contains_key("content-security-policy"));
    let on = TestServer::sled_with_config("ui = true\n");
    let r = c.get(format!("{}/ui/", on.addr)).send().unwrap();
    assert_eq!(r.status(), 200);
}
