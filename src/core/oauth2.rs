//! The OAuth2 client-credentials grant (RFC 6749 §4.4) at
//! `POST identity/oidc/token`: a service proves who it is with an AppRole
//! `role_id` (its `client_id`) and `secret_id` (its `client_secret`), and
//! receives a signed identity token (JWT) from the identity engine.
//!
//! Owns: the grant's checks in order (grant type, one client
//! authentication, the AppRole login of `auth/approle/`, the scope) and
//! its audit entries: the request and the response are recorded like any
//! other (fail closed), with the client secret and the issued token
//! HMAC-ed by the audit log. The core serves this path itself because it
//! joins two mounts: the AppRole method verifies the client (one use of
//! its secret id, its CIDR bounds; no Vault token is issued) and the
//! identity engine signs, with the identity role named like the AppRole
//! role. Must not touch: HTTP (the form and the Basic header are parsed
//! by the HTTP layer), tokens of the token store, other mounts.

use std::net::IpAddr;

use serde_json::{json, Map, Value};

use super::{Core, CoreError};
use crate::audit::{AuditInput, MountInfo, Outcome};
use crate::crypto::SecretString;
use crate::logical::identity::{GrantClient, GrantError, IdentityBackend};
use crate::logical::{Caller, LogicalRequest};
use crate::sdk::{Operation, Request, Response};

/// The path of the token endpoint (below `/v1/`).
pub const TOKEN_ENDPOINT: &str = "identity/oidc/token";
/// The AppRole mount that authenticates clients.
pub const CLIENT_AUTH_MOUNT: &str = "auth/approle/";

/// A token request as the HTTP layer read it.
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    pub scope: Option<String>,
    /// Whether the client authenticated with HTTP Basic.
    pub basic: bool,
    /// The form also carried client credentials while Basic was used, or
    /// repeated a parameter (both are invalid requests).
    pub conflicting: bool,
    pub remote_addr: Option<IpAddr>,
}

/// An RFC 6749 §5.2 error.
#[derive(Debug, PartialEq, Eq)]
pub enum OAuthError {
    InvalidRequest(String),
    /// 401, with `WWW-Authenticate`.
    InvalidClient,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope(String),
    /// The vault is sealed or failed: not an OAuth error (503 / 500).
    Core(String),
}

impl OAuthError {
    /// The `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) => "invalid_request",
            OAuthError::InvalidClient => "invalid_client",
            OAuthError::UnauthorizedClient => "unauthorized_client",
            OAuthError::UnsupportedGrantType => "unsupported_grant_type",
            OAuthError::InvalidScope(_) => "invalid_scope",
            OAuthError::Core(_) => "server_error",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            OAuthError::InvalidClient => 401,
            OAuthError::Core(_) => 503,
            _ => 400,
        }
    }

    /// The `error_description` (never a credential).
    pub fn description(&self) -> String {
        match self {
            OAuthError::InvalidRequest(m) => m.clone(),
            OAuthError::InvalidClient => "client authentication failed".into(),
            OAuthError::UnauthorizedClient => {
                "no identity role may issue tokens to this client".into()
            }
            OAuthError::UnsupportedGrantType => {
                "only grant_type=client_credentials is supported".into()
            }
            OAuthError::InvalidScope(s) => format!("scope \"{s}\" is not allowed for this client"),
            OAuthError::Core(m) => m.clone(),
        }
    }
}

/// The error of a refused grant as the audit log records it.
fn audited(e: &OAuthError) -> CoreError {
    match e {
        OAuthError::Core(m) => CoreError::Internal(m.clone()),
        other => CoreError::BadRequest(format!("{}: {}", other.code(), other.description())),
    }
}

impl Core {
    /// Serves the client-credentials grant: the token response body
    /// (`access_token`, `token_type`, `expires_in`, `scope`) or the error.
    pub fn client_credentials(&self, t: TokenRequest) -> Result<Value, OAuthError> {
        let active = self.active().map_err(|e| OAuthError::Core(e.to_string()))?;
        // What the audit log sees: the parameters (the secret HMAC-ed like
        // any string of a request), never the Basic header itself.
        let mut req = Request::new(Operation::Update, TOKEN_ENDPOINT);
        req.remote_addr = t.remote_addr;
        for (k, v) in [
            ("grant_type", t.grant_type.clone()),
            ("client_id", t.client_id.clone()),
            ("scope", t.scope.clone()),
            (
                "client_secret",
                t.client_secret.as_ref().map(|s| s.expose().to_string()),
            ),
        ] {
            if let Some(v) = v {
                req.data.insert(k.into(), Value::String(v));
            }
        }
        let audit = active.audit.scope();
        let mount = MountInfo {
            point: "identity/".into(),
            kind: "identity".into(),
        };
        audit
            .log(&AuditInput {
                request: &req,
                auth: None,
                mount: &mount,
                outcome: None,
                error: None,
            })
            .map_err(|e| OAuthError::Core(e.to_string()))?;
        let granted = grant(&active, &t);
        let result = granted.as_ref().map_err(audited).map(|body| {
            let mut data = Map::new();
            if let Value::Object(b) = body {
                data.extend(b.clone());
            }
            Response::data(data)
        });
        // The response entry, fail closed: a token whose issue is not in
        // the audit log is not handed out.
        audit
            .log(&AuditInput {
                request: &req,
                auth: None,
                mount: &mount,
                outcome: Some(Outcome::of(&result)),
                error: None,
            })
            .map_err(|e| OAuthError::Core(e.to_string()))?;
        granted
    }
}

fn grant(active: &super::state::Active, t: &TokenRequest) -> Result<Value, OAuthError> {
    if t.conflicting {
        return Err(OAuthError::InvalidRequest(
            "a parameter was repeated, or the client authenticated in two ways".into(),
        ));
    }
    match t.grant_type.as_deref() {
        None | Some("") => return Err(OAuthError::InvalidRequest("missing grant_type".into())),
        Some("client_credentials") => {}
        Some(_) => return Err(OAuthError::UnsupportedGrantType),
    }
    let (Some(client_id), Some(secret)) = (t.client_id.as_deref(), t.client_secret.as_ref()) else {
        return Err(OAuthError::InvalidClient);
    };
    if client_id.is_empty() || secret.expose().is_empty() {
        return Err(OAuthError::InvalidClient);
    }
    // The client: an AppRole login, without a Vault token.
    let auth_mounts = active.auth_mounts.snapshot();
    let approle = auth_mounts
        .get(CLIENT_AUTH_MOUNT)
        .ok_or(OAuthError::InvalidClient)?;
    let mut creds = Map::new();
    creds.insert("role_id".into(), json!(client_id));
    creds.insert("secret_id".into(), json!(secret.expose()));
    let caller = Caller {
        remote_addr: t.remote_addr,
        ..Caller::default()
    };
    let clock = active.tokens.clock();
    let login = approle
        .backend
        .handle(&LogicalRequest {
            operation: Operation::Update,
            path: "login",
            data: &creds,
            storage: &approle.storage,
            mount: approle.entry.point(),
            caller: &caller,
            clock: clock.as_ref(),
        })
        .ok()
        .and_then(|r| r.login)
        .ok_or(OAuthError::InvalidClient)?;
    let role = login
        .internal
        .get("role_name")
        .and_then(Value::as_str)
        .ok_or(OAuthError::InvalidClient)?
        .to_string();
    let mut metadata = login.metadata.clone();
    metadata.remove("role_name");
    metadata.insert("role_name".into(), json!(role));
    let client = GrantClient {
        client_id: client_id.to_string(),
        role,
        policies: login.policies.clone(),
        metadata,
    };
    let mounts = active.mounts.snapshot();
    let identity = mounts
        .get(crate::logical::identity::MOUNT_PATH)
        .ok_or_else(|| OAuthError::Core("the identity engine is not mounted".into()))?;
    let engine = identity
        .backend
        .as_any()
        .and_then(|a| a.downcast_ref::<IdentityBackend>())
        .ok_or_else(|| OAuthError::Core("the identity engine is not mounted".into()))?;
    let g = engine
        .grant_client_credentials(&identity.storage, clock.unix(), &client, t.scope.as_deref())
        .map_err(|e| match e {
            GrantError::UnauthorizedClient => OAuthError::UnauthorizedClient,
            GrantError::InvalidScope(s) => OAuthError::InvalidScope(s),
            GrantError::Server(m) => OAuthError::Core(m),
        })?;
    tracing::info!(client_role = %client.role, scope = %g.scope, "client-credentials token issued");
    let mut body = json!({
        "access_token": g.access_token,
        "token_type": "Bearer",
        "expires_in": g.expires_in,
    });
    if !g.scope.is_empty() {
        body["scope"] = json!(g.scope);
    }
    Ok(body)
}
