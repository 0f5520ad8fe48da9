//! The access log: one line per request, after its response.
//!
//! Owns: the middleware that logs request id, method, path, status and
//! latency, at debug level (a sealed vault answers 503 to everything: not
//! a reason to warn). The path is the URL path as
//! received — Vault's API never carries a secret value in a path — and
//! nothing of the query, headers or body is logged.
//! Must not touch: the request or the response.

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

/// The request id the handler gave a request, attached to its response so
/// the access log can name it.
#[derive(Clone, Debug)]
pub(super) struct RequestId(pub(super) String);

pub(super) async fn access_log(req: Request, next: Next) -> Response {
    // Off by default: then the request path is not even copied.
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return next.run(req).await;
    }
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let request_id = resp
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.as_str())
        .unwrap_or("");
    tracing::debug!(request_id, %method, path, status, latency_ms, "request");
    resp
}
