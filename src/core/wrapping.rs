//! Response wrapping: a response is stored behind a single-use wrapping
//! token and the client gets `wrap_info` instead; `sys/wrapping/unwrap`
//! returns it once. A second unwrap fails loudly (the token may have been
//! intercepted and used by someone else).
//!
//! Owns: turning a response into a wrapped one and back, and the
//! `sys/wrapping/*` endpoints. The wrapped response is kept by the token
//! store next to the wrapping token and destroyed with it.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::state::token_err;
use super::sys_routes::{self, SysRoute};
use super::time::unix_to_rfc3339;
use super::{Active, AuthResponse, CoreError, LeaseInfo, Operation, Request, Response};
use crate::core::token_store::{TokenEntry, TokenParams, WRAPPING_POLICY};
use crate::crypto::SecretString;
use crate::logical::fields;

/// What is stored for a wrapped response.
#[derive(Serialize, Deserialize, Default)]
struct Wrapped {
    data: Option<Map<String, Value>>,
    auth: Option<Value>,
    lease_id: String,
    lease_duration: u64,
    renewable: bool,
    warnings: Vec<String>,
    creation_path: String,
    /// Accessor of a wrapped token (login/create), shown in wrap_info.
    wrapped_accessor: String,
}

/// Longest wrap TTL accepted.
const MAX_WRAP_TTL: u64 = 30 * 24 * 3600;

/// Wraps `resp` (if it has something to wrap) behind a new wrapping token.
pub(crate) fn wrap(
    active: &Active,
    path: &str,
    ttl: u64,
    resp: Response,
) -> Result<Response, CoreError> {
    if resp.raw.is_some() || (resp.data.is_none() && resp.auth.is_none()) {
        return Ok(resp);
    }
    if ttl > MAX_WRAP_TTL {
        return Err(CoreError::BadRequest("wrapping TTL too long".into()));
    }
    let lease = resp.lease.clone().unwrap_or_default();
    let wrapped_accessor = resp
        .auth
        .as_ref()
        .map(|a| a.accessor.clone())
        .unwrap_or_default();
    let stored = Wrapped {
        data: resp.data.clone(),
        auth: resp
            .auth
            .as_ref()
            .map(|a| serde_json::to_value(a).unwrap_or(Value::Null)),
        lease_id: lease.lease_id,
        lease_duration: lease.lease_duration,
        renewable: lease.renewable,
        warnings: resp.warnings.clone(),
        creation_path: path.to_string(),
        wrapped_accessor: wrapped_accessor.clone(),
    };
    let bytes = zeroize::Zeroizing::new(
        serde_json::to_vec(&stored)
            .map_err(|_| CoreError::Internal("cannot encode wrapped response".into()))?,
    );
    let (token, entry) = active
        .tokens
        .create(TokenParams {
            policies: vec![WRAPPING_POLICY.into()],
            ttl,
            explicit_max_ttl: ttl,
            renewable: false,
            display_name: "response-wrapping".into(),
            path: "sys/wrapping/wrap".into(),
            internal_meta: [("creation_path".to_string(), json!(path))]
                .into_iter()
                .collect(),
            ..TokenParams::default()
        })
        .map_err(token_err)?;
    active
        .tokens
        .put_wrapped(&entry.key, &bytes)
        .map_err(token_err)?;
    let mut out = Response::empty();
    let mut info = json!({
        "token": token.expose(),
        "accessor": entry.accessor,
        "ttl": ttl,
        "creation_time": unix_to_rfc3339(entry.creation_time),
        "creation_path": path,
    });
    // Only a wrapped token has one; Vault leaves the field out otherwise.
    if !wrapped_accessor.is_empty() {
        info["wrapped_accessor"] = json!(wrapped_accessor);
    }
    out.wrap_info = Some(info);
    out.status = Some(200);
    Ok(out)
}

fn not_valid() -> CoreError {
    CoreError::BadRequest("wrapping token is not valid or does not exist".into())
}

fn wrapping_entry(active: &Active, token: &str) -> Result<TokenEntry, CoreError> {
    let entry = active.tokens.lookup(token).map_err(|_| not_valid())?;
    if !entry.is_wrapping() {
        return Err(not_valid());
    }
    Ok(entry)
}

fn unwrap_token(active: &Active, token: &str) -> Result<Wrapped, CoreError> {
    let entry = match wrapping_entry(active, token) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(
                "unwrap of an invalid or already used wrapping token; it may have been intercepted"
            );
            return Err(e);
        }
    };
    let bytes = active
        .tokens
        .take_wrapped(&entry.key)
        .map_err(token_err)?
        .ok_or_else(not_valid)?;
    let bytes = zeroize::Zeroizing::new(bytes);
    serde_json::from_slice(&bytes)
        .map_err(|_| CoreError::Internal("corrupt wrapped response".into()))
}

fn to_response(w: Wrapped) -> Response {
    let mut r = Response::empty();
    r.data = w.data;
    r.auth = w
        .auth
        .and_then(|a| serde_json::from_value::<AuthValue>(a).ok())
        .map(AuthValue::into_auth);
    if !w.lease_id.is_empty() || w.lease_duration > 0 {
        r.lease = Some(LeaseInfo {
            lease_id: w.lease_id,
            lease_duration: w.lease_duration,
            renewable: w.renewable,
        });
    }
    r.warnings = w.warnings;
    r.status = Some(200);
    r
}

/// `AuthResponse` as stored (it only derives Serialize).
#[derive(Deserialize)]
struct AuthValue {
    client_token: String,
    accessor: String,
    policies: Vec<String>,
    token_policies: Vec<String>,
    metadata: Option<Map<String, Value>>,
    lease_duration: u64,
    renewable: bool,
    entity_id: String,
    token_type: String,
    orphan: bool,
    num_uses: u64,
}

impl AuthValue {
    fn into_auth(mut self) -> AuthResponse {
        AuthResponse {
            client_token: SecretString::new(std::mem::take(&mut self.client_token)),
            accessor: self.accessor.clone(),
            policies: self.policies.clone(),
            token_policies: self.token_policies.clone(),
            identity_policies: None,
            metadata: self.metadata.clone(),
            lease_duration: self.lease_duration,
            renewable: self.renewable,
            entity_id: self.entity_id.clone(),
            token_type: self.token_type.clone(),
            orphan: self.orphan,
            mfa_requirement: None,
            num_uses: self.num_uses,
        }
    }
}

impl Drop for AuthValue {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.client_token);
    }
}

/// `sys/wrapping/lookup` and `sys/wrapping/unwrap` with the wrapping token
/// itself as the client token: served before normal authentication (the
/// `unauthenticated` rows of the `sys/` table). `None`: not such a request.
pub(crate) fn handle_unauthenticated(
    active: &Active,
    req: &Request,
) -> Result<Option<Response>, CoreError> {
    let route = req
        .path
        .strip_prefix("sys/")
        .and_then(|p| sys_routes::sys_route(p, req.operation).ok());
    match route {
        Some(SysRoute::WrappingLookup) => lookup(active, req).map(Some),
        Some(SysRoute::WrappingUnwrap) if !req.data.contains_key("token") => {
            let token = req
                .client_token
                .as_ref()
                .ok_or(CoreError::PermissionDenied)?;
            if active
                .tokens
                .lookup(token.expose())
                .map(|e| e.is_wrapping())
                .unwrap_or(true)
            {
                return Ok(Some(to_response(unwrap_token(active, token.expose())?)));
            }
            Ok(None)
        }
        _ => Ok(None),
    }
}

/// `sys/wrapping/lookup`: what a wrapping token wraps, not the response.
fn lookup(active: &Active, req: &Request) -> Result<Response, CoreError> {
    let token = fields::req_string(&req.data, "token")?;
    let entry = wrapping_entry(active, &token)?;
    let path = entry
        .internal_meta
        .get("creation_path")
        .and_then(Value::as_str)
        .unwrap_or("");
    Ok(Response::json(json!({
        "creation_path": path,
        "creation_time": unix_to_rfc3339(entry.creation_time),
        "creation_ttl": entry.creation_ttl,
    })))
}

/// The authenticated `sys/wrapping/*` endpoints.
pub(crate) fn handle(
    active: &Active,
    req: &Request,
    route: SysRoute<'_>,
) -> Result<Response, CoreError> {
    if !matches!(req.operation, Operation::Create | Operation::Update) {
        return Err(crate::logical::LogicalError::UnsupportedOperation.into());
    }
    match route {
        SysRoute::WrappingUnwrap => {
            let token = fields::req_string(&req.data, "token")?;
            Ok(to_response(unwrap_token(active, &token)?))
        }
        SysRoute::WrappingWrap => {
            if req.wrap_ttl.is_none() {
                return Err(CoreError::BadRequest(
                    "wrap TTL must be set (X-Vault-Wrap-TTL header)".into(),
                ));
            }
            Ok(Response::data(req.data.clone()))
        }
        SysRoute::WrappingRewrap => {
            let token = fields::req_string(&req.data, "token")?;
            let entry = wrapping_entry(active, &token)?;
            let ttl = entry.creation_ttl;
            let w = unwrap_token(active, &token)?;
            let path = w.creation_path.clone();
            wrap(active, &path, ttl, to_response(w))
        }
        SysRoute::WrappingLookup => lookup(active, req),
        _ => Err(CoreError::UnsupportedPath(req.path.clone())),
    }
}
