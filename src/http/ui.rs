//! The web UI: static assets (plain ES modules and CSS from the `ui/`
//! folder), embedded at compile time and served at `/ui/` when the
//! configuration says `ui = true`; `/` redirects there.
//!
//! Owns: the asset table, the UI's routes and the security headers of
//! every UI response (a strict Content-Security-Policy with no inline
//! script or style and no framing, `Referrer-Policy: no-referrer`,
//! `X-Content-Type-Options: nosniff`). Must not touch: the API; the UI is
//! a client of `/v1/` like any other, its requests authenticated and
//! audited as any other.

use axum::body::Body;
use axum::extract::Path;
use axum::http::{header, HeaderName, HeaderValue, Response, StatusCode};
use axum::response::Redirect;
use axum::routing::get;
use axum::Router;

/// The Content-Security-Policy of every UI response.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

/// One embedded file.
struct Asset {
    /// Relative to `/ui/`.
    path: &'static str,
    mime: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $mime:expr) => {
        Asset {
            path: $path,
            mime: $mime,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/ui/", $path)),
        }
    };
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// Every file of `ui/` (a test checks the folder and the table agree).
const ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("app.css", CSS),
    asset!("favicon.svg", SVG),
    asset!("js/main.js", JS),
    asset!("js/api.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/pages/status.js", JS),
    asset!("js/pages/login.js", JS),
    asset!("js/pages/secrets.js", JS),
    asset!("js/pages/apikeys.js", JS),
    asset!("js/pages/policies.js", JS),
    asset!("js/pages/tokens.js", JS),
    asset!("js/pages/audit.js", JS),
];

fn find(path: &str) -> Option<&'static Asset> {
    let path = if path.is_empty() { "index.html" } else { path };
    ASSETS.iter().find(|a| a.path == path)
}

/// The headers every UI response carries.
fn secure(mut resp: Response<Body>) -> Response<Body> {
    let h = resp.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(h, header::CONTENT_SECURITY_POLICY, CSP);
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(
        h,
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(h, header::CACHE_CONTROL, "no-cache");
    resp
}

fn serve(path: &str) -> Response<Body> {
    let resp = match find(path) {
        Some(a) => {
            let mut r = Response::new(Body::from(a.body));
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(a.mime));
            r
        }
        None => {
            let mut r = Response::new(Body::from("not found\n"));
            *r.status_mut() = StatusCode::NOT_FOUND;
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            r
        }
    };
    secure(resp)
}

async fn index() -> Response<Body> {
    serve("")
}

async fn file(Path(path): Path<String>) -> Response<Body> {
    serve(&path)
}

async fn to_ui() -> Redirect {
    Redirect::temporary("/ui/")
}

/// `api` with the UI's routes added when `enabled`: `/` and `/ui`
/// redirect to `/ui/`, which serves `index.html`; `/ui/<file>` the assets.
pub fn with_ui(api: Router, enabled: bool) -> Router {
    if !enabled {
        return api;
    }
    Router::new()
        .route("/", get(to_ui))
        .route("/ui", get(to_ui))
        .route("/ui/", get(index))
        .route("/ui/{*path}", get(file))
        .merge(api)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files_under(dir: &std::path::Path, base: &std::path::Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                files_under(&p, base, out);
            } else {
                out.push(
                    p.strip_prefix(base)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }

    #[test]
    fn the_table_is_the_folder() {
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
        let mut on_disk = Vec::new();
        files_under(&base, &base, &mut on_disk);
        on_disk.sort();
        let mut table: Vec<String> = ASSETS.iter().map(|a| a.path.to_string()).collect();
        table.sort();
        assert_eq!(on_disk, table);
    }

    #[test]
    fn assets_are_small_and_have_no_inline_code() {
        let total: usize = ASSETS.iter().map(|a| a.body.len()).sum();
        assert!(total < 300 * 1024, "{total} bytes");
        for a in ASSETS.iter().filter(|a| a.mime == HTML) {
            let text = std::str::from_utf8(a.body).unwrap().to_ascii_lowercase();
            assert!(!text.contains("<style"), "{}", a.path);
            assert!(!text.contains(" style="), "{}", a.path);
            let handler = text.match_indices(" on").any(|(i, _)| {
                let rest = &text[i + 3..];
                let name = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
                name > 0 && rest[name..].trim_start().starts_with('=')
            });
            assert!(!handler, "{}: an inline handler", a.path);
            for tag in text.split("<script").skip(1) {
                let head = &tag[..tag.find('>').unwrap()];
                assert!(head.contains("src="), "{}: an inline script", a.path);
            }
        }
        // no script builds markup from strings, and nothing is fetched
        // from another origin
        for a in ASSETS.iter().filter(|a| a.mime == JS) {
            let text = std::str::from_utf8(a.body).unwrap();
            for bad in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "eval(",
                "http://",
                "https://",
            ] {
                assert!(!text.contains(bad), "{} uses {bad}", a.path);
            }
        }
    }

    #[test]
    fn responses_carry_the_security_headers() {
        for path in ["", "app.css", "js/main.js", "nope.js", "../Cargo.toml"] {
            let r = serve(path);
            let h = r.headers();
            assert_eq!(h[header::CONTENT_SECURITY_POLICY], CSP, "{path}");
            assert!(CSP.contains("default-src 'self'"));
            assert!(CSP.contains("frame-ancestors 'none'"));
            assert!(!CSP.contains("unsafe"));
            assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
            assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        }
        assert_eq!(serve("").headers()[header::CONTENT_TYPE], HTML);
        assert_eq!(serve("js/main.js").headers()[header::CONTENT_TYPE], JS);
        assert_eq!(serve("nope.js").status(), StatusCode::NOT_FOUND);
        assert_eq!(serve("../Cargo.toml").status(), StatusCode::NOT_FOUND);
    }
}
