//! The single axum handler behind every `/v1/` path, and the bounds on
//! what a request may cost before it is authorised: the token and the
//! sealed state are checked before the body is read, a declared
//! `Content-Length` over the limit is refused at once, large bodies share
//! a memory budget, and a body must arrive within a time limit.
//!
//! The core is blocking (storage, syncs, audit acknowledgements). A read
//! that waits on nothing but storage reads ([`Core::is_quick_read`]) is
//! served on the runtime thread that parsed it: no hand-off to another
//! thread and back. Any other request (a write, or anything an audit
//! device must acknowledge) runs on the blocking pool, so a request waiting
//! on a sync never holds up the reactor. At most
//! [`HttpLimits::max_requests_in_flight`] requests are in the core at
//! once; beyond that a request is answered 503 at once instead of queueing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Map, Value};
use tokio::sync::Semaphore;

use super::error::status_of;
use super::json_limits;
use crate::config::SMALL_BODY;
use crate::core::{Core, CoreError, Operation, Request, Response};
use crate::crypto::SecretString;
use crate::sdk::parse_duration;

/// What a request may cost at the HTTP layer.
#[derive(Clone, Debug)]
pub struct HttpLimits {
    /// Largest request body accepted (`max_request_size`).
    pub max_request_size: usize,
    /// Time allowed to receive a body (`http_read_timeout`).
    pub body_read_timeout: Duration,
    /// Bytes of bodies larger than [`SMALL_BODY`] held at once
    /// (`max_request_body_memory`).
    pub max_request_body_memory: usize,
    /// Requests in the core at once (`max_requests_in_flight`); more are
    /// refused with 503.
    pub max_requests_in_flight: usize,
}

/// The body budget is counted in units of this many bytes.
const BUDGET_UNIT: usize = 1024;

#[derive(Clone)]
struct AppState {
    core: Arc<Core>,
    limits: Arc<HttpLimits>,
    /// Units of [`BUDGET_UNIT`] bytes of large bodies being held.
    body_budget: Arc<Semaphore>,
    budget_units: u32,
    /// One permit per request in the core.
    in_flight: Arc<Semaphore>,
}

/// The HTTP application: every path goes to one handler.
pub fn router(core: Arc<Core>, limits: HttpLimits) -> Router {
    let budget_units = u32::try_from(limits.max_request_body_memory.div_ceil(BUDGET_UNIT))
        .unwrap_or(u32::MAX)
        .clamp(1, Semaphore::MAX_PERMITS as u32);
    let in_flight = limits
        .max_requests_in_flight
        .clamp(1, Semaphore::MAX_PERMITS);
    Router::new()
        .fallback(handle)
        .with_state(AppState {
            core,
            limits: Arc::new(limits),
            body_budget: Arc::new(Semaphore::new(budget_units as usize)),
            budget_units,
            in_flight: Arc::new(Semaphore::new(in_flight)),
        })
        .layer(axum::middleware::from_fn(super::access_log::access_log))
}

fn json_response(status: StatusCode, body: &Value) -> HttpResponse {
    json_bytes(
        status,
        serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec()),
    )
}

fn json_bytes(status: StatusCode, bytes: Vec<u8>) -> HttpResponse {
    let mut resp = HttpResponse::new(Body::from(bytes));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The `errors` list of a refusal: empty for a refusal without a message
/// (Vault answers some with `{"errors": []}`).
fn errors_of(msg: String) -> Vec<String> {
    if msg.is_empty() {
        Vec::new()
    } else {
        vec![msg]
    }
}

fn error_response(status: StatusCode, errors: Vec<String>) -> HttpResponse {
    json_response(status, &json!({ "errors": errors }))
}

/// A response after which the connection is closed: the rest of the
/// request body was not read, so the connection cannot carry another.
fn closing(mut resp: HttpResponse) -> HttpResponse {
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

fn too_large() -> HttpResponse {
    closing(error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        vec!["request body too large".into()],
    ))
}

/// 503 for a request beyond `max_requests_in_flight`: nothing was done.
fn busy() -> HttpResponse {
    let mut resp = error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        vec!["too many requests in progress; try again".into()],
    );
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    resp
}

/// Why the core did not answer.
enum NotRun {
    /// `max_requests_in_flight` requests are in the core already.
    Busy,
    /// The work panicked.
    Failed,
}

/// Runs blocking core work for one request on the blocking pool, within
/// the in-flight limit.
async fn run_core<T, F>(in_flight: &Arc<Semaphore>, work: F) -> Result<T, NotRun>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let Ok(permit) = in_flight.clone().try_acquire_owned() else {
        return Err(NotRun::Busy);
    };
    let out = tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| NotRun::Failed);
    drop(permit);
    out
}

fn internal_error() -> HttpResponse {
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        vec!["internal error".into()],
    )
}

/// The body length the client declared (`Content-Length`, or an HTTP/2
/// stream that ended with its headers): `Some(0)` for no body, `None`
/// when unknown until read (chunked, or HTTP/2 without a length).
fn declared_length(body: &Body) -> Option<usize> {
    use axum::body::HttpBody as _;
    if body.is_end_stream() {
        return Some(0);
    }
    // Beyond usize is beyond any limit.
    body.size_hint()
        .exact()
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
}

enum BodyError {
    TooLarge,
    TimedOut,
    Broken,
}

/// Reads at most `limit` bytes within `timeout`, into one buffer sized
/// from the declared length (no growth copies).
async fn read_body(
    body: &mut Body,
    declared: Option<usize>,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, BodyError> {
    let read = async move {
        let mut buf = Vec::with_capacity(declared.unwrap_or(0).min(limit));
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| BodyError::Broken)?;
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > limit {
                    return Err(BodyError::TooLarge);
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(Bytes::from(buf))
    };
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or(Err(BodyError::TimedOut))
}

/// 413 for a body over `max_request_size`, answered at once. The rest of
/// the body is then read and dropped in the background (at most another
/// `max_request_size` bytes, within the body deadline), so that a client
/// which sends its whole body before reading gets the answer rather than
/// a reset connection; memory use stays flat.
fn refuse_too_large(body: Body, declared: Option<usize>, limits: &HttpLimits) -> HttpResponse {
    let cap = limits.max_request_size.saturating_mul(2);
    if declared.is_none_or(|n| n <= cap) {
        let timeout = limits.body_read_timeout;
        tokio::spawn(async move {
            let drain = async move {
                let mut body = body;
                let mut seen = 0usize;
                while let Some(Ok(frame)) = body.frame().await {
                    if let Ok(data) = frame.into_data() {
                        seen = seen.saturating_add(data.len());
                        if seen > cap {
                            break;
                        }
                    }
                }
            };
            let _ = tokio::time::timeout(timeout, drain).await;
        });
    }
    too_large()
}

/// Answers `resp` to a request whose body was not wanted. A small body is
/// read and dropped (the client then reads the answer and may go on using
/// the connection); a large or unknown one is left unread and the
/// connection closed.
async fn refuse(
    resp: HttpResponse,
    body: Body,
    declared: Option<usize>,
    timeout: Duration,
) -> HttpResponse {
    let small = declared.is_some_and(|n| n <= SMALL_BODY);
    if small && discard_body(body, timeout).await {
        resp
    } else {
        closing(resp)
    }
}

/// Reads a body to its end and drops it.
async fn discard_body(body: Body, timeout: Duration) -> bool {
    let drain = async move {
        let mut body = body;
        while let Some(frame) = body.frame().await {
            if frame.is_err() {
                return false;
            }
        }
        true
    };
    tokio::time::timeout(timeout, drain).await.unwrap_or(false)
}

async fn handle(
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> HttpResponse {
    let Some(path) = uri.path().strip_prefix("/v1/") else {
        return error_response(StatusCode::NOT_FOUND, vec![]);
    };
    // Decoded once; an encoded '/' is refused. The core canonicalises the
    // result before the ACL (crate::core::path).
    let path = match crate::core::path::decode(path) {
        Ok(p) => p,
        Err(e) => return error_response(StatusCode::BAD_REQUEST, vec![e.to_string()]),
    };
    // An HA standby sends clients to the active node (as Vault does).
    if let Some(leader) = state.core.standby_redirect(&path) {
        return standby_redirect(leader, &uri);
    }
    let limits = &state.limits;
    // Refused at once, before a byte of the body is read.
    let declared = declared_length(&body);
    if declared.is_some_and(|n| n > limits.max_request_size) {
        return refuse_too_large(body, declared, limits);
    }
    // The OAuth2 token endpoint: a form, no Vault token (see oauth2).
    if method == Method::POST && path == crate::core::oauth2::TOKEN_ENDPOINT {
        let mut body = body;
        return match read_body(&mut body, declared, SMALL_BODY, limits.body_read_timeout).await {
            Ok(bytes) => {
                super::oauth2::serve(state.core.clone(), &headers, &bytes, Some(remote.ip())).await
            }
            Err(BodyError::TooLarge) => refuse_too_large(body, None, limits),
            Err(_) => closing(error_response(
                StatusCode::BAD_REQUEST,
                vec!["request body could not be read".into()],
            )),
        };
    }
    let query = parse_query(uri.query().unwrap_or(""));
    let mut req = match request_head(&method, &path, &query, &headers, remote) {
        Ok(r) => r,
        Err((status, msg)) => {
            let resp = error_response(status, errors_of(msg));
            return refuse(resp, body, declared, limits.body_read_timeout).await;
        }
    };
    // The token and the sealed state, before a large (or unannounced) body
    // is read. A request with a small body or none goes straight to the
    // pipeline, which checks the same: no second token lookup on the hot
    // path, and a small body costs little.
    if declared.is_none_or(|n| n > SMALL_BODY) {
        let core = state.core.clone();
        let checked = run_core(&state.in_flight, move || {
            let result = core.precheck(&mut req);
            (req, result)
        })
        .await;
        let (head, checked) = match checked {
            Ok(c) => c,
            Err(NotRun::Busy) => {
                return refuse(busy(), body, declared, limits.body_read_timeout).await
            }
            Err(NotRun::Failed) => return closing(internal_error()),
        };
        req = head;
        if let Err(e) = checked {
            let resp = render_error(e);
            return refuse(resp, body, declared, limits.body_read_timeout).await;
        }
    }
    // Large bodies wait for room in the shared budget.
    let expected = declared.unwrap_or(limits.max_request_size);
    let room = if expected > SMALL_BODY {
        let units = u32::try_from(expected.div_ceil(BUDGET_UNIT))
            .unwrap_or(u32::MAX)
            .min(state.budget_units);
        let wait = state.body_budget.clone().acquire_many_owned(units);
        match tokio::time::timeout(limits.body_read_timeout, wait).await {
            Ok(Ok(permit)) => Some(permit),
            _ => {
                return closing(error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    vec!["too many large requests at once; try again".into()],
                ))
            }
        }
    } else {
        None
    };
    let mut body = body;
    let bytes = match read_body(
        &mut body,
        declared,
        limits.max_request_size,
        limits.body_read_timeout,
    )
    .await
    {
        Ok(b) => b,
        Err(BodyError::TooLarge) => return refuse_too_large(body, None, limits),
        Err(BodyError::TimedOut) => {
            return closing(error_response(
                StatusCode::REQUEST_TIMEOUT,
                vec!["request body not received in time".into()],
            ))
        }
        Err(BodyError::Broken) => {
            return closing(error_response(
                StatusCode::BAD_REQUEST,
                vec!["request body could not be read".into()],
            ))
        }
    };
    let form = is_form(&headers);
    if let Err((status, msg)) = request_body(&mut req, &bytes, form, query) {
        return error_response(status, errors_of(msg));
    }
    // The raw body is not needed past parsing; the parsed request keeps
    // its share of the budget until it has been served (even if the
    // client goes away meanwhile).
    drop(bytes);
    drop(body);
    let request_id = req.id.clone();
    let core = state.core.clone();
    let result = if room.is_none() && core.is_quick_read(&req) {
        // Nothing to wait on but storage reads: served right here, no
        // hand-off of this thread's other tasks (still counted in flight).
        match state.in_flight.try_acquire() {
            Ok(_permit) => {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| core.handle(req)))
                    .map_err(|_| NotRun::Failed)
            }
            Err(_) => Err(NotRun::Busy),
        }
    } else {
        run_core(&state.in_flight, move || {
            let _room = room;
            core.handle(req)
        })
        .await
    };
    let mut out = match result {
        Ok(Ok(resp)) => render(resp, &request_id),
        Ok(Err(e)) => render_error(e),
        Err(NotRun::Busy) => busy(),
        Err(NotRun::Failed) => internal_error(),
    };
    out.extensions_mut()
        .insert(super::access_log::RequestId(request_id));
    out
}

fn operation_of(method: &Method, query: &Map<String, Value>) -> Result<Operation, BadRequest> {
    // `?list=` is read as Go's ParseBool, as Vault does; anything else is
    // a 400 (with no message, as Vault's).
    let list_flag = match query.get("list").and_then(Value::as_str) {
        None | Some("") => false,
        Some(v) if method == Method::GET => {
            crate::sdk::parse_bool(v).ok_or((StatusCode::BAD_REQUEST, String::new()))?
        }
        Some(_) => false,
    };
    Ok(match method.as_str() {
        "GET" if list_flag => Operation::List,
        "GET" | "HEAD" => Operation::Read,
        "LIST" => Operation::List,
        "POST" | "PUT" => Operation::Update,
        "DELETE" => Operation::Delete,
        "PATCH" => Operation::Patch,
        _ => {
            return Err((
                StatusCode::METHOD_NOT_ALLOWED,
                format!("unsupported method {method}"),
            ))
        }
    })
}

type BadRequest = (StatusCode, String);

/// Longest response-wrapping TTL accepted.
const MAX_WRAP_TTL: u64 = 30 * 24 * 3600;

/// The request from what precedes the body: operation, path, token,
/// wrapping; `data` stays empty.
fn request_head(
    method: &Method,
    path: &str,
    query: &Map<String, Value>,
    headers: &HeaderMap,
    remote: SocketAddr,
) -> Result<Request, BadRequest> {
    let op = operation_of(method, query)?;
    // Vault checks LIST against the folder path: "kv/app" lists "kv/app/".
    let path = if op == Operation::List && !path.ends_with('/') && !path.is_empty() {
        format!("{path}/")
    } else {
        path.to_string()
    };
    let mut req = Request::new(op, &path);
    req.remote_addr = Some(remote.ip());
    req.client_token = token_from(headers);
    req.wrap_ttl = wrap_ttl_from(headers)?;
    if op == Operation::Patch {
        let ct = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !ct.starts_with("application/merge-patch+json") {
            return Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "PATCH requires Content-Type application/merge-patch+json".into(),
            ));
        }
    }
    Ok(req)
}

/// The paths whose write body is binary, not JSON: snapshot restores.
fn takes_binary_body(path: &str) -> bool {
    matches!(path, "sys/storage/snapshot" | "sys/storage/snapshot-force")
}

/// Whether the body is form-encoded (`application/x-www-form-urlencoded`),
/// which Vault reads as the request's fields.
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|ct| {
            ct.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Whether a body's first significant byte opens a JSON object or array.
fn looks_like_json(body: &[u8]) -> bool {
    body.iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .is_some_and(|b| matches!(b, b'{' | b'['))
}

/// A form-encoded body as fields: each a string; a field given more than
/// once is its values joined with commas (as Vault).
fn parse_form(body: &[u8]) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in form_urlencoded::parse(body) {
        match m.get_mut(k.as_ref()) {
            Some(Value::String(prev)) => {
                prev.push(',');
                prev.push_str(&v);
            }
            _ => {
                m.insert(k.into_owned(), Value::String(v.into_owned()));
            }
        }
    }
    m
}

/// Fills `req.data` from the body (or, for reads and deletes without one,
/// the query parameters); a binary body goes to `req.body_bytes`. A read
/// ignores a body that is not JSON, as Vault ignores a GET's body.
fn request_body(
    req: &mut Request,
    body: &Bytes,
    form: bool,
    query: Map<String, Value>,
) -> Result<(), BadRequest> {
    let op = req.operation;
    if op.is_write() && op != Operation::Delete && takes_binary_body(&req.path) {
        req.body_bytes = Some(body.to_vec());
        return Ok(());
    }
    // As Vault: a form content type with a body that starts like JSON is
    // JSON (`curl -d '{…}'` sends that content type by default).
    let form = form && !looks_like_json(body);
    let parsed = if form && op.is_write() {
        Some(parse_form(body)).filter(|m| !m.is_empty())
    } else if op.is_write() {
        parse_body(body)?
    } else {
        parse_body(body).ok().flatten()
    };
    req.data = match parsed {
        Some(d) => d,
        None if !op.is_write() || op == Operation::Delete => query,
        None => Map::new(),
    };
    Ok(())
}

fn parse_body(body: &Bytes) -> Result<Option<Map<String, Value>>, BadRequest> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(None);
    }
    json_limits::check(body).map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
    parse_json(body)
}

/// serde_json's verdict; any error it gives (its own recursion limit
/// included) is the client's: 400.
fn parse_json(body: &[u8]) -> Result<Option<Map<String, Value>>, BadRequest> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(Some(m)),
        Ok(Value::Null) => Ok(None),
        Ok(_) => Err((
            StatusCode::BAD_REQUEST,
            "request body must be a JSON object".into(),
        )),
        Err(e) => Err((
            StatusCode::BAD_REQUEST,
            format!("failed to parse JSON input: {}", e.classify_message()),
        )),
    }
}

trait ClassifyMessage {
    fn classify_message(&self) -> String;
}

impl ClassifyMessage for serde_json::Error {
    /// Position only: never echo the input (it may hold secrets).
    fn classify_message(&self) -> String {
        format!(
            "invalid JSON at line {} column {}",
            self.line(),
            self.column()
        )
    }
}

fn token_from(headers: &HeaderMap) -> Option<SecretString> {
    if let Some(v) = headers.get("x-vault-token").and_then(|v| v.to_str().ok()) {
        if !v.is_empty() {
            return Some(SecretString::new(v.to_string()));
        }
    }
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let t = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))?;
    Some(SecretString::new(t.trim().to_string()))
}

fn wrap_ttl_from(headers: &HeaderMap) -> Result<Option<u64>, BadRequest> {
    let Some(v) = headers.get("x-vault-wrap-ttl") else {
        return Ok(None);
    };
    let text = v.to_str().unwrap_or("");
    // Checked before the request runs: a refusal after it ran would lose
    // what it created (a token, a secret id, a key).
    match parse_duration(text) {
        Some(0) | None => Err((StatusCode::BAD_REQUEST, "invalid X-Vault-Wrap-TTL".into())),
        Some(s) if s > MAX_WRAP_TTL => Err((
            StatusCode::BAD_REQUEST,
            "X-Vault-Wrap-TTL is longer than the 30-day maximum".into(),
        )),
        Some(s) => Ok(Some(s)),
    }
}

fn parse_query(q: &str) -> Map<String, Value> {
    let mut m = Map::new();
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (Some(k), Some(v)) = (
            percent_decode(&k.replace('+', " ")),
            percent_decode(&v.replace('+', " ")),
        ) else {
            continue;
        };
        m.insert(k, Value::String(v));
    }
    m
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let v = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
            out.push(v);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Vault's envelope, serialized straight from the response (no
/// intermediate `Value` tree). Fields in the order `serde_json`'s maps
/// give them, so the bytes match [`envelope`]'s.
#[derive(serde::Serialize)]
struct Envelope<'a> {
    auth: Option<Value>,
    data: &'a Option<Map<String, Value>>,
    lease_duration: u64,
    lease_id: &'a str,
    mount_type: &'a str,
    renewable: bool,
    request_id: &'a str,
    warnings: Option<&'a [String]>,
    wrap_info: &'a Option<Value>,
}

impl<'a> Envelope<'a> {
    fn of(resp: &'a Response, request_id: &'a str) -> Envelope<'a> {
        let (lease_id, lease_duration, renewable) = match &resp.lease {
            Some(l) => (l.lease_id.as_str(), l.lease_duration, l.renewable),
            None => ("", 0, false),
        };
        Envelope {
            auth: resp
                .auth
                .as_ref()
                .map(|a| serde_json::to_value(a).unwrap_or(Value::Null)),
            data: &resp.data,
            lease_duration,
            lease_id,
            mount_type: resp.mount_type.as_deref().unwrap_or_default(),
            renewable,
            request_id,
            warnings: (!resp.warnings.is_empty()).then_some(&resp.warnings[..]),
            wrap_info: &resp.wrap_info,
        }
    }
}

/// The envelope as a `Value`, with a `top_level` response's data fields
/// also at the top.
fn envelope(resp: Response, request_id: &str) -> Value {
    let (lease_id, lease_duration, renewable) = match &resp.lease {
        Some(l) => (l.lease_id.clone(), l.lease_duration, l.renewable),
        None => (String::new(), 0, false),
    };
    let auth = resp
        .auth
        .as_ref()
        .map(|a| serde_json::to_value(a).unwrap_or(Value::Null));
    let top: Map<String, Value> = match (&resp.data, resp.top_level) {
        (Some(d), true) => d.clone(),
        _ => Map::new(),
    };
    let mut body = json!({
        "request_id": request_id,
        "lease_id": lease_id,
        "renewable": renewable,
        "lease_duration": lease_duration,
        "data": resp.data,
        "wrap_info": resp.wrap_info,
        "warnings": if resp.warnings.is_empty() { Value::Null } else { json!(resp.warnings) },
        "auth": auth,
        "mount_type": resp.mount_type.clone().unwrap_or_default(),
    });
    if let Value::Object(m) = &mut body {
        for (k, v) in top {
            m.entry(k).or_insert(v);
        }
    }
    body
}

fn render(resp: Response, request_id: &str) -> HttpResponse {
    let status = resp
        .status
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    if let Some(raw) = &resp.raw {
        return json_response(status, raw);
    }
    if let Some((content_type, bytes)) = resp.binary {
        let mut out = HttpResponse::new(Body::from(bytes));
        *out.status_mut() = status;
        if let Ok(v) = HeaderValue::from_str(&content_type) {
            out.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        return out;
    }
    if let Some((content_type, text)) = resp.text {
        let mut out = HttpResponse::new(Body::from(text));
        *out.status_mut() = status;
        if let Ok(v) = HeaderValue::from_str(&content_type) {
            out.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        return out;
    }
    let empty = resp.data.is_none()
        && resp.auth.is_none()
        && resp.wrap_info.is_none()
        && resp.warnings.is_empty();
    if empty && resp.status.is_none() {
        return StatusCode::NO_CONTENT.into_response();
    }
    if resp.top_level && resp.data.is_some() {
        return json_response(status, &envelope(resp, request_id));
    }
    let bytes =
        serde_json::to_vec(&Envelope::of(&resp, request_id)).unwrap_or_else(|_| b"{}".to_vec());
    json_bytes(status, bytes)
}

/// 307 to the same path and query on the active node's `api_addr`; 503
/// while no node is active.
fn standby_redirect(leader: Result<String, ()>, uri: &axum::http::Uri) -> HttpResponse {
    let Ok(base) = leader else {
        return error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            vec!["this node is a standby and no active node is known yet; retry".into()],
        );
    };
    let rest = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let location = format!("{}{rest}", base.trim_end_matches('/'));
    match axum::http::HeaderValue::from_str(&location) {
        Ok(v) => {
            let mut resp = error_response(StatusCode::TEMPORARY_REDIRECT, vec![]);
            resp.headers_mut().insert(axum::http::header::LOCATION, v);
            resp
        }
        Err(_) => internal_error(),
    }
}

fn render_error(err: CoreError) -> HttpResponse {
    let (status, errors) = status_of(&err);
    error_response(status, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_percent_decoding() {
        let q = parse_query("list=true&a=b%20c&x");
        assert_eq!(q["list"], "true");
        assert_eq!(q["a"], "b c");
        assert_eq!(q["x"], "");
        assert_eq!(percent_decode("a%2Fb").as_deref(), Some("a/b"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
    }

    #[test]
    fn form_bodies_and_list_flags() {
        let m = parse_form(b"policies=default&policies=dev&ttl=1h&name=a+b%21");
        assert_eq!(m["policies"], "default,dev");
        assert_eq!(m["ttl"], "1h");
        assert_eq!(m["name"], "a b!");
        let mut h = HeaderMap::new();
        assert!(!is_form(&h));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        );
        assert!(is_form(&h));
        // curl -d '{...}' sends a form content type with a JSON body.
        let mut req = Request::new(Operation::Update, "sys/init");
        request_body(
            &mut req,
            &Bytes::from_static(b" \n{\"secret_shares\":1}"),
            true,
            Map::new(),
        )
        .unwrap();
        assert_eq!(req.data["secret_shares"], 1);
        let mut req = Request::new(Operation::Update, "auth/token/create");
        request_body(&mut req, &Bytes::from_static(b"ttl=1h"), true, Map::new()).unwrap();
        assert_eq!(req.data["ttl"], "1h");
        assert!(!looks_like_json(b""));
        for (q, want) in [("t", Operation::List), ("False", Operation::Read)] {
            let query = parse_query(&format!("list={q}"));
            assert_eq!(operation_of(&Method::GET, &query).unwrap(), want);
        }
        let bad = operation_of(&Method::GET, &parse_query("list=yes")).unwrap_err();
        assert_eq!(bad.0, StatusCode::BAD_REQUEST);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn core_work_is_refused_beyond_the_in_flight_limit() {
        let in_flight = Arc::new(Semaphore::new(1));
        let out = run_core(&in_flight, || 7).await;
        assert!(matches!(out, Ok(7)));
        assert_eq!(in_flight.available_permits(), 1, "the permit is returned");
        // The limit reached: refused at once, the work never runs.
        let held = in_flight.clone().try_acquire_owned().unwrap();
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = ran.clone();
        let out = run_core(&in_flight, move || {
            flag.store(true, std::sync::atomic::Ordering::SeqCst)
        })
        .await;
        assert!(matches!(out, Err(NotRun::Busy)));
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
        drop(held);
        // A panic is a failure, and the permit comes back.
        let out = run_core(&in_flight, || -> u8 { panic!("boom") }).await;
        assert!(matches!(out, Err(NotRun::Failed)));
        assert_eq!(in_flight.available_permits(), 1);
    }

    #[tokio::test]
    async fn busy_is_a_503_in_vaults_error_shape() {
        let resp = busy();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "1");
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["errors"][0], "too many requests in progress; try again");
    }

    #[test]
    fn the_envelope_is_serialized_as_the_value_tree_was() {
        use crate::core::Response;
        let mut data = Map::new();
        data.insert("z".into(), json!({"b": 1, "a": [true, null]}));
        data.insert("a".into(), json!("x"));
        let mut with_all = Response::data(data.clone());
        with_all.warnings = vec!["careful".into()];
        with_all.mount_type = Some("kv".into());
        with_all.wrap_info = Some(json!({"token": "t", "ttl": 60}));
        with_all.lease = Some(crate::core::LeaseInfo {
            lease_id: "secret/x/1".into(),
            lease_duration: 3600,
            renewable: true,
        });
        for resp in [Response::data(data), with_all, Response::default()] {
            let direct = serde_json::to_vec(&Envelope::of(&resp, "rid")).unwrap();
            let tree = serde_json::to_vec(&envelope(resp, "rid")).unwrap();
            assert_eq!(
                String::from_utf8(direct).unwrap(),
                String::from_utf8(tree).unwrap()
            );
        }
    }

    #[test]
    fn json_errors_never_echo_input() {
        let err = parse_body(&Bytes::from_static(b"{\"password\": hunter2}")).unwrap_err();
        assert_eq!(err.0, StatusCode::BAD_REQUEST);
        assert!(!err.1.contains("hunter2"));
        assert!(parse_body(&Bytes::from_static(b"[1]")).is_err());
        assert!(parse_body(&Bytes::from_static(b"  ")).unwrap().is_none());
    }

    #[test]
    fn nesting_limits_are_client_errors() {
        // serde_json's own recursion limit (128) is a 400 as well...
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let err = parse_json(deep.as_bytes()).unwrap_err();
        assert_eq!(err.0, StatusCode::BAD_REQUEST);
        // ...but a body is refused well before it, with its own message.
        let within = format!("{{\"a\":{}{}}}", "[".repeat(100), "]".repeat(100));
        assert!(parse_json(within.as_bytes()).is_ok());
        let err = parse_body(&Bytes::from(within)).unwrap_err();
        assert_eq!(err.0, StatusCode::BAD_REQUEST);
        assert!(err.1.contains("deeper than 64"), "{}", err.1);
    }
}
