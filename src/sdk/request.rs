//! The request and response that flow through the core, independent of HTTP,
//! and the login outcome an auth method hands back.

use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::crypto::SecretString;

/// What a request asks for (Vault's logical operations).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    Read,
    List,
    Create,
    Update,
    Patch,
    Delete,
}

impl Operation {
    /// Vault's name of the operation (used in audit entries).
    pub fn as_str(&self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::List => "list",
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Patch => "patch",
            Operation::Delete => "delete",
        }
    }

    /// Whether the operation writes (create, update, patch, delete).
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Operation::Create | Operation::Update | Operation::Patch | Operation::Delete
        )
    }
}

/// A request after HTTP parsing. Its `Debug` output names the data fields
/// but never shows their values.
pub struct Request {
    pub id: String,
    pub operation: Operation,
    /// Path below `/v1/`, without a leading slash.
    pub path: String,
    /// The JSON body (or the query parameters of a body-less request).
    pub data: Map<String, Value>,
    pub client_token: Option<SecretString>,
    pub remote_addr: Option<IpAddr>,
    /// `X-Vault-Wrap-TTL`, in seconds.
    pub wrap_ttl: Option<u64>,
    /// Set by the pipeline when `path` was rewritten from a legacy alias
    /// (`sys/policy/:name`): the path as the client sent it. Only the shape
    /// of the response depends on it; the ACL and the handler use `path`.
    pub alias: Option<String>,
    /// A binary body, for the few paths that take one instead of JSON
    /// (a snapshot restore); `data` is empty then.
    pub body_bytes: Option<Vec<u8>>,
}

impl Request {
    /// A request with an empty body. `path` is taken as given: the
    /// pipeline canonicalises it (or refuses it) before anything uses it.
    pub fn new(operation: Operation, path: &str) -> Request {
        Request {
            id: uuid::Uuid::new_v4().to_string(),
            operation,
            path: path.to_string(),
            data: Map::new(),
            client_token: None,
            remote_addr: None,
            wrap_ttl: None,
            alias: None,
            body_bytes: None,
        }
    }
}

/// The `auth` block of a login or token creation. The token stays a
/// zeroizing secret until it is serialized; `Debug` hides it.
#[derive(Clone, Default, serde::Serialize)]
pub struct AuthResponse {
    #[serde(serialize_with = "crate::crypto::serialize_exposed")]
    pub client_token: SecretString,
    pub accessor: String,
    pub policies: Vec<String>,
    pub token_policies: Vec<String>,
    pub identity_policies: Option<Vec<String>>,
    pub metadata: Option<Map<String, Value>>,
    pub lease_duration: u64,
    pub renewable: bool,
    pub entity_id: String,
    pub token_type: String,
    pub orphan: bool,
    pub mfa_requirement: Option<Value>,
    pub num_uses: u64,
}

/// A lease attached to a response.
#[derive(Clone, Debug, Default)]
pub struct LeaseInfo {
    pub lease_id: String,
    pub lease_duration: u64,
    pub renewable: bool,
}

/// A response from a backend. `raw` bodies bypass the envelope (sys/init,
/// sys/seal-status, sys/health); `status` overrides 200/204. Its `Debug`
/// output shows the shape, never data values or tokens.
#[derive(Default)]
pub struct Response {
    pub data: Option<Map<String, Value>>,
    pub auth: Option<AuthResponse>,
    pub lease: Option<LeaseInfo>,
    pub warnings: Vec<String>,
    pub wrap_info: Option<Value>,
    pub raw: Option<Value>,
    pub status: Option<u16>,
    /// Filled by the core: the type of the mount that served the request.
    pub mount_type: Option<String>,
    /// Set by an auth method's login: the token the core must issue.
    pub login: Option<LoginAuth>,
    /// Also copy `data`'s fields to the top level of the body (Vault does
    /// this for some `sys/` routes, and clients read them there).
    pub top_level: bool,
    /// A non-JSON body: (content type, text). Used by `sys/metrics`.
    pub text: Option<(String, String)>,
    /// A binary body: (content type, bytes). Used by snapshots.
    pub binary: Option<(String, Vec<u8>)>,
}

impl Response {
    /// No data: HTTP 204.
    pub fn empty() -> Response {
        Response::default()
    }

    /// `data` in the envelope.
    pub fn data(data: Map<String, Value>) -> Response {
        Response {
            data: Some(data),
            ..Response::default()
        }
    }

    /// A JSON object for `data`; anything else is wrapped as `{"value": v}`.
    pub fn json(value: Value) -> Response {
        match value {
            Value::Object(m) => Response::data(m),
            other => {
                let mut m = Map::new();
                m.insert("value".into(), other);
                Response::data(m)
            }
        }
    }

    /// Vault's 404 that still carries a body (KV v2: a deleted or destroyed
    /// version, with its metadata). A response, not an error: the core does
    /// not wrap it, HTTP renders it as a 404 with the usual envelope, and
    /// the audit log records it with the error "not found" (see
    /// [`Response::is_not_found`]).
    pub fn not_found_with_data(data: Value) -> Response {
        let mut r = Response::json(data);
        r.status = Some(404);
        r
    }

    /// Whether this is a [`Response::not_found_with_data`]: a 404 in the
    /// envelope (raw and text bodies set their own status and are never
    /// one).
    pub fn is_not_found(&self) -> bool {
        self.status == Some(404)
            && self.raw.is_none()
            && self.text.is_none()
            && self.binary.is_none()
    }

    /// A raw JSON body (no envelope) with `status`.
    pub fn raw(status: u16, body: Value) -> Response {
        Response {
            raw: Some(body),
            status: Some(status),
            ..Response::default()
        }
    }

    /// `data` in the envelope and also at the top level of the body.
    pub fn data_top_level(data: Map<String, Value>) -> Response {
        Response {
            data: Some(data),
            top_level: true,
            ..Response::default()
        }
    }

    /// `{"keys": [...]}` for LIST.
    pub fn list(keys: Vec<String>) -> Response {
        let mut m = Map::new();
        m.insert("keys".into(), Value::from(keys));
        Response::data(m)
    }
}

/// What an auth method's login asks the core to issue: the core creates the
/// token (an orphan) and puts its `auth` block in the response.
#[derive(Clone, Debug, Default)]
pub struct LoginAuth {
    pub policies: Vec<String>,
    /// Requested TTL in seconds (0 = mount/system default).
    pub ttl: u64,
    /// Upper bound on the token's life in seconds (0 = mount/system max).
    pub max_ttl: u64,
    pub period: u64,
    pub num_uses: u64,
    pub display_name: String,
    pub metadata: Map<String, Value>,
    /// CIDR blocks the token may be used from (empty = anywhere).
    pub bound_cidrs: Vec<String>,
    /// Auth-method data kept with the token, never shown to clients.
    pub internal: Map<String, Value>,
    pub no_default_policy: bool,
}

fn field_names(m: &Map<String, Value>) -> Vec<&str> {
    m.keys().map(String::as_str).collect()
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("id", &self.id)
            .field("operation", &self.operation)
            .field("path", &self.path)
            .field("data_fields", &field_names(&self.data))
            .field(
                "client_token",
                &self.client_token.as_ref().map(|_| "[REDACTED]"),
            )
            .field("remote_addr", &self.remote_addr)
            .field("wrap_ttl", &self.wrap_ttl)
            .field("body_bytes", &self.body_bytes.as_ref().map(Vec::len))
            .finish()
    }
}

impl std::fmt::Debug for AuthResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthResponse")
            .field("client_token", &"[REDACTED]")
            .field("accessor", &self.accessor)
            .field("policies", &self.policies)
            .field("lease_duration", &self.lease_duration)
            .field("renewable", &self.renewable)
            .finish()
    }
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("data_fields", &self.data.as_ref().map(field_names))
            .field("auth", &self.auth)
            .field("lease", &self.lease.as_ref().map(|l| &l.lease_id))
            .field("wrapped", &self.wrap_info.is_some())
            .field("raw", &self.raw.is_some())
            .field("status", &self.status)
            .field("mount_type", &self.mount_type)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::field_reassign_with_default)]
    fn debug_output_hides_values_and_tokens() {
        let mut req = Request::new(Operation::Update, "secret/x");
        req.data.insert("password".into(), Value::from("canary-pw"));
        req.client_token = Some(SecretString::from("hvs.canarytoken"));
        let mut resp = Response::data(req.data.clone());
        let mut auth = AuthResponse::default();
        auth.client_token = SecretString::from("hvs.canarytoken");
        resp.auth = Some(auth);
        let text = format!("{req:?} {resp:?}");
        assert!(text.contains("password"));
        assert!(!text.contains("canary"), "{text}");
    }
}
