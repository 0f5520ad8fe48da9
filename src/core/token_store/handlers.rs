//! The `auth/token/*` endpoints: create, lookup, renew, revoke, roles,
//! accessors, tidy. Vault's request and response shapes. Each request is
//! dispatched on its route in the declared `auth/token/` table
//! ([`crate::core::sys_routes::TOKEN`]), which also says what needs sudo
//! and what is not served (404, or 405 for a wrong operation).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::store::BATCH_PREFIX;
use super::{TokenEntry, TokenParams, WRAPPING_POLICY};
use crate::core::pipeline::{authorize, Authenticated};
use crate::core::state::token_err;
use crate::core::sys_routes::{token_route, token_sudo, TokenRoute};
use crate::core::{Active, Core, CoreError};
use crate::crypto::SecretString;
use crate::logical::{fields, LogicalError};
use crate::policy::{Capability, DEFAULT_POLICY, ROOT_POLICY};
use crate::sdk::route::RouteError;
use crate::sdk::time::unix_to_rfc3339;
use crate::sdk::{AuthResponse, Operation, Request, Response};

/// A token role (`auth/token/roles/:name`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct TokenRole {
    name: String,
    allowed_policies: Vec<String>,
    disallowed_policies: Vec<String>,
    orphan: bool,
    renewable: bool,
    token_period: u64,
    token_explicit_max_ttl: u64,
    token_ttl: u64,
    path_suffix: String,
    /// `service`, `batch`, `default-service` or `default-batch` (the type
    /// of its tokens; "default-…" lets the request choose).
    #[serde(default)]
    token_type: String,
    /// Policies a token may ask for, as globs (`*` matches any text).
    #[serde(default)]
    allowed_policies_glob: Vec<String>,
    /// Policies a token may not ask for, as globs.
    #[serde(default)]
    disallowed_policies_glob: Vec<String>,
    /// The role's tokens do not get the default policy.
    #[serde(default)]
    token_no_default_policy: bool,
}

/// Whether `text` matches `pattern`, where `*` stands for any text (Vault's
/// policy globs on token roles).
fn glob_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

fn any_glob(globs: &[String], policy: &str) -> bool {
    globs.iter().any(|g| glob_match(g, policy))
}

impl TokenRole {
    fn token_type(&self) -> &str {
        if self.token_type.is_empty() {
            "default-service"
        } else {
            &self.token_type
        }
    }
}

/// Whether a new token is a batch token: the requested type within what
/// the role allows.
fn is_batch(requested: Option<&str>, role: Option<&TokenRole>) -> Result<bool, CoreError> {
    let requested = match requested {
        None | Some("" | "default") => None,
        Some(t @ ("service" | "batch")) => Some(t),
        Some(t) => {
            return Err(CoreError::BadRequest(format!(
                "token type \"{t}\" is not supported"
            )))
        }
    };
    let role_type = role.map_or("default-service", TokenRole::token_type);
    Ok(match (role_type, requested) {
        ("service" | "batch", Some(t)) if t != role_type => {
            return Err(CoreError::BadRequest(format!(
                "the role's token type is {role_type}: a {t} token cannot be created with it"
            )))
        }
        ("batch", _) => true,
        ("service", _) => false,
        (_, Some(t)) => t == "batch",
        ("default-batch", None) => true,
        _ => false,
    })
}

pub(crate) fn handle(
    core: &Core,
    active: &Arc<Active>,
    req: &Request,
    auth: &Authenticated,
) -> Result<Response, CoreError> {
    let path = req.path.strip_prefix("auth/token/").unwrap_or("");
    let sudo = token_sudo(path, req.operation);
    authorize(auth, req.operation, &req.path, sudo)?;
    let route = token_route(path, req.operation).map_err(|e| match e {
        RouteError::UnsupportedPath => CoreError::UnsupportedPath(req.path.clone()),
        RouteError::UnsupportedOperation => LogicalError::UnsupportedOperation.into(),
    })?;
    let t = Tokens {
        core,
        active,
        req,
        auth,
    };
    match route {
        TokenRoute::Create => t.create(None, false),
        TokenRoute::CreateOrphan => t.create(None, true),
        TokenRoute::CreateWithRole(name) => {
            let role = t
                .role(name)?
                .ok_or_else(|| CoreError::BadRequest("unknown role".into()))?;
            t.create(Some(role), false)
        }
        TokenRoute::LookupSelf => {
            let own = req.client_token.as_ref().map(|t| t.expose().to_string());
            Ok(lookup_response(
                &auth.entry,
                own.as_deref(),
                active.tokens.clock().unix(),
            ))
        }
        TokenRoute::Lookup => {
            // Without a token field, the caller's own token (as Vault).
            let Some(token) = fields::opt_string(&req.data, "token")?.filter(|t| !t.is_empty())
            else {
                let own = req.client_token.as_ref().map(|t| t.expose().to_string());
                return Ok(lookup_response(
                    &auth.entry,
                    own.as_deref(),
                    active.tokens.clock().unix(),
                ));
            };
            let e = active.tokens.lookup(&token).map_err(|e| match e {
                super::TokenError::Storage(b) => CoreError::from(b),
                _ => CoreError::BadToken,
            })?;
            Ok(lookup_response(
                &e,
                Some(&token),
                active.tokens.clock().unix(),
            ))
        }
        TokenRoute::LookupAccessor => {
            let acc = fields::req_string(&req.data, "accessor")?;
            let e = active.tokens.lookup_accessor(&acc).map_err(token_err)?;
            // The token itself is never stored: its id is "" (as Vault).
            Ok(lookup_response(&e, Some(""), active.tokens.clock().unix()))
        }
        TokenRoute::RenewSelf => {
            refuse_batch(auth.entry.batch, "renewed")?;
            t.renew(&auth.entry.key, true)
        }
        TokenRoute::Renew => {
            let token = fields::req_string(&req.data, "token")?;
            refuse_batch(token.starts_with(BATCH_PREFIX), "renewed")?;
            t.renew(&active.tokens.key_of(&token), true)
        }
        TokenRoute::RenewAccessor => {
            let acc = fields::req_string(&req.data, "accessor")?;
            let e = active.tokens.lookup_accessor(&acc).map_err(token_err)?;
            t.renew(&e.key, false)
        }
        TokenRoute::RevokeSelf => {
            refuse_batch(auth.entry.batch, "revoked")?;
            active
                .tokens
                .revoke_tree(&auth.entry.key)
                .map_err(token_err)?;
            Ok(Response::empty())
        }
        TokenRoute::Revoke => {
            let token = fields::req_string(&req.data, "token")?;
            refuse_batch(token.starts_with(BATCH_PREFIX), "revoked")?;
            let key = active.tokens.key_of(&token);
            active.tokens.revoke_tree(&key).map_err(token_err)?;
            Ok(Response::empty())
        }
        TokenRoute::RevokeAccessor => {
            let acc = fields::req_string(&req.data, "accessor")?;
            let e = active.tokens.lookup_accessor(&acc).map_err(token_err)?;
            active.tokens.revoke_tree(&e.key).map_err(token_err)?;
            Ok(Response::empty())
        }
        TokenRoute::RevokeOrphan => {
            let token = fields::req_string(&req.data, "token")?;
            refuse_batch(token.starts_with(BATCH_PREFIX), "revoked")?;
            let key = active.tokens.key_of(&token);
            active.tokens.revoke_orphan(&key).map_err(token_err)?;
            Ok(Response::empty())
        }
        TokenRoute::Accessors => Ok(Response::list(
            active.tokens.accessors().map_err(token_err)?,
        )),
        TokenRoute::Roles => {
            let names = active.tokens.view().list("role/")?;
            if names.is_empty() {
                return Err(LogicalError::NotFound.into());
            }
            Ok(Response::list(names))
        }
        TokenRoute::Role(name) => t.role_op(name, req.operation),
        TokenRoute::Tidy => {
            active.tokens.tidy().map_err(token_err)?;
            let mut r = Response::empty();
            r.warnings
                .push("Tidy operation successfully started".into());
            r.status = Some(202);
            Ok(r)
        }
    }
}

/// Whether a requested TTL was cut to the max TTL.
fn params_ttl_capped(requested: u64, max: u64) -> bool {
    max > 0 && requested > max
}

/// Seconds as a Go-style duration, shortest unit that is exact ("768h",
/// "90m", "45s").
fn go_duration(secs: u64) -> String {
    if secs > 0 && secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else if secs > 0 && secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

/// Batch tokens live until they expire or their parent is revoked: they
/// cannot be renewed or revoked on their own (as Vault).
fn refuse_batch(batch: bool, what: &str) -> Result<(), CoreError> {
    if batch {
        return Err(CoreError::BadRequest(format!(
            "batch tokens cannot be {what}"
        )));
    }
    Ok(())
}

struct Tokens<'a> {
    core: &'a Core,
    active: &'a Arc<Active>,
    req: &'a Request,
    auth: &'a Authenticated,
}

fn sanitize(mut policies: Vec<String>, add_default: bool) -> Vec<String> {
    for p in policies.iter_mut() {
        *p = p.trim().to_lowercase();
    }
    policies.retain(|p| !p.is_empty());
    if add_default
        && !policies
            .iter()
            .any(|p| p == DEFAULT_POLICY || p == ROOT_POLICY)
    {
        policies.push(DEFAULT_POLICY.into());
    }
    policies.sort();
    policies.dedup();
    policies
}

impl Tokens<'_> {
    fn role(&self, name: &str) -> Result<Option<TokenRole>, CoreError> {
        if name.is_empty() || name.contains('/') {
            return Err(CoreError::BadRequest("invalid role name".into()));
        }
        Ok(self
            .active
            .tokens
            .view()
            .get_json(&format!("role/{name}"))?)
    }

    fn create(
        &self,
        role: Option<TokenRole>,
        orphan_endpoint: bool,
    ) -> Result<Response, CoreError> {
        let d = &self.req.data;
        let parent = &self.auth.entry;
        let parent_is_root = parent.is_root();
        let has_sudo = self
            .auth
            .acl
            .capabilities(&self.req.path)
            .contains(Capability::Sudo);
        if parent.batch {
            return Err(CoreError::BadRequest(
                "batch tokens cannot create more tokens".into(),
            ));
        }
        let batch = is_batch(fields::opt_string(d, "type")?.as_deref(), role.as_ref())?;
        let no_default = fields::opt_bool(d, "no_default_policy")?.unwrap_or(false)
            || role.as_ref().is_some_and(|r| r.token_no_default_policy);
        let requested = fields::opt_string_list(d, "policies")?.unwrap_or_default();
        let requested = sanitize(requested, false);
        let policies = match &role {
            Some(r) => self.role_policies(r, requested)?,
            None => self.child_policies(parent, requested, parent_is_root || has_sudo)?,
        };
        if policies.iter().any(|p| p == ROOT_POLICY) && !parent_is_root {
            return Err(CoreError::BadRequest(
                "root tokens may not be created without parent token being root".into(),
            ));
        }
        if policies.iter().any(|p| p == WRAPPING_POLICY) {
            return Err(CoreError::BadRequest(format!(
                "the \"{WRAPPING_POLICY}\" policy cannot be assigned"
            )));
        }
        let policies = if policies.iter().any(|p| p == ROOT_POLICY) {
            policies
        } else {
            sanitize(policies, !no_default)
        };
        let no_parent = fields::opt_bool(d, "no_parent")?.unwrap_or(false);
        if no_parent && !(parent_is_root || has_sudo) {
            return Err(CoreError::BadRequest(
                "root or sudo privileges required to create orphan token".into(),
            ));
        }
        let orphan = orphan_endpoint || no_parent || role.as_ref().is_some_and(|r| r.orphan);
        let id = fields::opt_string(d, "id")?;
        if id.is_some() && !(parent_is_root || has_sudo) {
            return Err(CoreError::BadRequest(
                "root or sudo privileges required to specify token id".into(),
            ));
        }
        let display = fields::opt_string(d, "display_name")?.unwrap_or_default();
        let display_name = if display.is_empty() {
            "token".to_string()
        } else {
            format!("token-{}", display.trim())
        };
        let mut params = TokenParams {
            policies,
            parent: if orphan {
                String::new()
            } else {
                parent.key.clone()
            },
            meta: fields::opt_string_map(d, "meta")?.unwrap_or_default(),
            display_name,
            num_uses: fields::opt_u64(d, "num_uses")?.unwrap_or(0),
            ttl: fields::opt_duration(d, "ttl")?
                .or(fields::opt_duration(d, "lease")?)
                .unwrap_or(0),
            explicit_max_ttl: fields::opt_duration(d, "explicit_max_ttl")?.unwrap_or(0),
            period: fields::opt_duration(d, "period")?.unwrap_or(0),
            renewable: fields::opt_bool(d, "renewable")?.unwrap_or(true),
            path: "auth/token/create".into(),
            id,
            ..TokenParams::default()
        };
        if let Some(r) = &role {
            params.path = format!("auth/token/create/{}", r.name);
            params.role = r.name.clone();
            if r.token_period > 0 {
                params.period = r.token_period;
            }
            if r.token_explicit_max_ttl > 0
                && (params.explicit_max_ttl == 0
                    || params.explicit_max_ttl > r.token_explicit_max_ttl)
            {
                params.explicit_max_ttl = r.token_explicit_max_ttl;
            }
            if params.ttl == 0 {
                params.ttl = r.token_ttl;
            }
            if !r.renewable {
                params.renewable = false;
            }
        }
        if params.period > 0 && !(parent_is_root || has_sudo || role.is_some()) {
            return Err(CoreError::BadRequest(
                "root or sudo privileges required to create periodic token".into(),
            ));
        }
        // Vault's rule: a non-orphan child is revoked with its parent, so
        // it never gets a lifetime past the parent's: its first TTL stops
        // at the parent's current expiry, and its max expiry (what renewals
        // may reach) at the parent's max expiry. An orphan is independent:
        // only the system max TTL and its own explicit max TTL bound it.
        if !orphan {
            params.parent_max_expire = parent.max_expire_time;
            if parent.expire_time != 0 && params.period == 0 {
                let left = parent.ttl_left(self.active.tokens.clock().unix());
                if params.ttl == 0 || params.ttl > left {
                    params.ttl = left.max(1);
                }
            }
        }
        // Vault warns when the requested TTL is above the effective max TTL
        // (the system's, or the token's own explicit max).
        let requested_ttl = params.ttl;
        let max_ttl = {
            let system = self.active.tokens.limits().max_ttl;
            match params.explicit_max_ttl {
                0 => system,
                e => e.min(system),
            }
        };
        let (token, entry) = if batch {
            if params.policies.iter().any(|p| p == ROOT_POLICY) {
                return Err(CoreError::BadRequest(
                    "batch tokens cannot be root tokens".into(),
                ));
            }
            if params.period > 0 || params.num_uses > 0 || params.id.is_some() {
                return Err(CoreError::BadRequest(
                    "batch tokens cannot be periodic, have a use limit or a chosen id".into(),
                ));
            }
            params.batch = true;
            self.active.tokens.create_batch(params)
        } else {
            self.active.tokens.create(params)
        }
        .map_err(token_err)?;
        let mut r = Response::empty();
        if params_ttl_capped(requested_ttl, max_ttl) {
            r.warnings.push(format!(
                "TTL of \"{}\" exceeded the effective max_ttl of \"{}\"; TTL value is capped accordingly",
                go_duration(requested_ttl),
                go_duration(max_ttl)
            ));
        }
        r.auth = Some(auth_block(
            &entry,
            &token,
            self.active.tokens.clock().unix(),
        ));
        Ok(r)
    }

    fn child_policies(
        &self,
        parent: &TokenEntry,
        requested: Vec<String>,
        privileged: bool,
    ) -> Result<Vec<String>, CoreError> {
        if requested.is_empty() {
            return Ok(parent.policies.clone());
        }
        if parent.is_root() || privileged {
            return Ok(requested);
        }
        let missing: Vec<&String> = requested
            .iter()
            .filter(|p| *p != DEFAULT_POLICY && !parent.policies.contains(p))
            .collect();
        if !missing.is_empty() {
            return Err(CoreError::BadRequest(
                "child policies must be subset of parent".into(),
            ));
        }
        Ok(requested)
    }

    fn role_policies(
        &self,
        role: &TokenRole,
        requested: Vec<String>,
    ) -> Result<Vec<String>, CoreError> {
        let requested = if requested.is_empty() {
            role.allowed_policies.clone()
        } else {
            requested
        };
        if requested.iter().any(|p| {
            role.disallowed_policies.contains(p) || any_glob(&role.disallowed_policies_glob, p)
        }) {
            return Err(CoreError::BadRequest(
                "token policies include a disallowed policy".into(),
            ));
        }
        let restricted =
            !role.allowed_policies.is_empty() || !role.allowed_policies_glob.is_empty();
        if restricted
            && requested.iter().any(|p| {
                p != DEFAULT_POLICY
                    && !role.allowed_policies.contains(p)
                    && !any_glob(&role.allowed_policies_glob, p)
            })
        {
            return Err(CoreError::BadRequest(
                "token policies must be subset of the role's allowed policies or glob policies"
                    .into(),
            ));
        }
        if !restricted {
            return self.child_policies(&self.auth.entry, requested, self.auth.entry.is_root());
        }
        Ok(requested)
    }

    fn renew(&self, key: &str, include_token: bool) -> Result<Response, CoreError> {
        let increment = fields::opt_duration(&self.req.data, "increment")?;
        let e = self
            .active
            .tokens
            .renew(key, increment)
            .map_err(|e| match e {
                super::TokenError::Invalid => CoreError::BadRequest("invalid token".into()),
                other => token_err(other),
            })?;
        let token = if include_token && key == self.auth.entry.key {
            self.req.client_token.clone().unwrap_or_default()
        } else if include_token {
            SecretString::new(fields::opt_string(&self.req.data, "token")?.unwrap_or_default())
        } else {
            SecretString::default()
        };
        let mut r = Response::empty();
        r.auth = Some(auth_block(&e, &token, self.active.tokens.clock().unix()));
        Ok(r)
    }

    fn role_op(&self, name: &str, op: Operation) -> Result<Response, CoreError> {
        let _ = self.core;
        let view = self.active.tokens.view();
        match op {
            Operation::Read => {
                let r = self.role(name)?.ok_or(LogicalError::NotFound)?;
                Ok(Response::json(json!({
                    "name": r.name, "allowed_policies": r.allowed_policies,
                    "disallowed_policies": r.disallowed_policies, "orphan": r.orphan,
                    "renewable": r.renewable, "token_period": r.token_period, "period": r.token_period,
                    "token_explicit_max_ttl": r.token_explicit_max_ttl, "explicit_max_ttl": r.token_explicit_max_ttl,
                    "token_ttl": r.token_ttl, "path_suffix": r.path_suffix, "token_type": r.token_type(),
                    "allowed_policies_glob": r.allowed_policies_glob,
                    "disallowed_policies_glob": r.disallowed_policies_glob,
                    "token_no_default_policy": r.token_no_default_policy,
                })))
            }
            Operation::Create | Operation::Update => {
                let mut r = self.role(name)?.unwrap_or(TokenRole {
                    name: name.to_string(),
                    renewable: true,
                    ..TokenRole::default()
                });
                let d = &self.req.data;
                if let Some(v) = fields::opt_string_list(d, "allowed_policies")? {
                    r.allowed_policies = sanitize(v, false);
                }
                if let Some(v) = fields::opt_string_list(d, "disallowed_policies")? {
                    r.disallowed_policies = sanitize(v, false);
                }
                if let Some(v) = fields::opt_string_list(d, "allowed_policies_glob")? {
                    r.allowed_policies_glob = sanitize(v, false);
                }
                if let Some(v) = fields::opt_string_list(d, "disallowed_policies_glob")? {
                    r.disallowed_policies_glob = sanitize(v, false);
                }
                if let Some(v) = fields::opt_bool(d, "token_no_default_policy")? {
                    r.token_no_default_policy = v;
                }
                if let Some(v) = fields::opt_bool(d, "orphan")? {
                    r.orphan = v;
                }
                if let Some(v) = fields::opt_bool(d, "renewable")? {
                    r.renewable = v;
                }
                if let Some(v) =
                    fields::opt_duration(d, "token_period")?.or(fields::opt_duration(d, "period")?)
                {
                    r.token_period = v;
                }
                if let Some(v) = fields::opt_duration(d, "token_explicit_max_ttl")?
                    .or(fields::opt_duration(d, "explicit_max_ttl")?)
                {
                    r.token_explicit_max_ttl = v;
                }
                if let Some(v) = fields::opt_duration(d, "token_ttl")? {
                    r.token_ttl = v;
                }
                if let Some(v) = fields::opt_string(d, "path_suffix")? {
                    r.path_suffix = v;
                }
                if let Some(v) = fields::opt_string(d, "token_type")? {
                    r.token_type = match v.as_str() {
                        "" | "default" => "default-service".into(),
                        "service" | "batch" | "default-service" | "default-batch" => v,
                        other => {
                            return Err(CoreError::BadRequest(format!(
                                "invalid token_type \"{other}\""
                            )))
                        }
                    };
                }
                view.put_json(&format!("role/{name}"), &r)?;
                Ok(Response::empty())
            }
            Operation::Delete => {
                self.role(name)?;
                view.delete(&format!("role/{name}"))?;
                Ok(Response::empty())
            }
            _ => Err(LogicalError::UnsupportedOperation.into()),
        }
    }
}

/// The `auth` block for a token just created or renewed: its lease is the
/// TTL granted then (`now` only bounds it, for an entry already past it).
pub(crate) fn auth_block(e: &TokenEntry, token: &SecretString, now: i64) -> AuthResponse {
    AuthResponse {
        client_token: token.clone(),
        accessor: e.accessor.clone(),
        policies: e.policies.clone(),
        token_policies: e.policies.clone(),
        identity_policies: None,
        metadata: if e.meta.is_empty() {
            None
        } else {
            Some(e.meta.clone())
        },
        lease_duration: if e.expire_time != 0 && e.expire_time <= now {
            0
        } else {
            e.granted_ttl()
        },
        renewable: e.renewable,
        entity_id: e.entity_id.clone(),
        token_type: e.token_type().into(),
        orphan: e.is_orphan(),
        mfa_requirement: None,
        num_uses: e.num_uses,
    }
}

/// Lookup data; `id` is the token the caller already presented (never stored,
/// so `""` for lookup-accessor).
fn lookup_response(e: &TokenEntry, id: Option<&str>, now: i64) -> Response {
    let mut m = Map::new();
    m.insert("accessor".into(), json!(e.accessor));
    m.insert("creation_time".into(), json!(e.creation_time));
    m.insert("creation_ttl".into(), json!(e.creation_ttl));
    m.insert("display_name".into(), json!(e.display_name));
    m.insert("entity_id".into(), json!(e.entity_id));
    m.insert(
        "expire_time".into(),
        if e.expire_time == 0 {
            Value::Null
        } else {
            json!(unix_to_rfc3339(e.expire_time))
        },
    );
    m.insert("explicit_max_ttl".into(), json!(e.explicit_max_ttl));
    if let Some(id) = id {
        m.insert("id".into(), json!(id));
    }
    m.insert("issue_time".into(), json!(unix_to_rfc3339(e.creation_time)));
    m.insert(
        "meta".into(),
        if e.meta.is_empty() {
            Value::Null
        } else {
            Value::Object(e.meta.clone())
        },
    );
    m.insert("num_uses".into(), json!(e.num_uses));
    m.insert("orphan".into(), json!(e.is_orphan()));
    m.insert("path".into(), json!(e.path));
    m.insert("policies".into(), json!(e.policies));
    m.insert("renewable".into(), json!(e.renewable));
    m.insert("ttl".into(), json!(e.ttl_left(now)));
    m.insert("type".into(), json!(e.token_type()));
    if e.period > 0 {
        m.insert("period".into(), json!(e.period));
    }
    if !e.role.is_empty() {
        m.insert("role".into(), json!(e.role));
    }
    if e.last_renewal != 0 {
        m.insert("last_renewal_time".into(), json!(e.last_renewal));
        m.insert(
            "last_renewal".into(),
            json!(unix_to_rfc3339(e.last_renewal)),
        );
    }
    Response::data(m)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn policy_globs() {
        for (pattern, text, want) in [
            ("dev-*", "dev-a", true),
            ("dev-*", "dev-", true),
            ("dev-*", "prod-a", false),
            ("*-ro", "kv-ro", true),
            ("*-ro", "kv-rw", false),
            ("a*b*c", "a-x-b-y-c", true),
            ("a*b*c", "a-c", false),
            ("exact", "exact", true),
            ("exact", "exactly", false),
            ("*", "", true),
            ("a*a", "a", false),
        ] {
            assert_eq!(glob_match(pattern, text), want, "{pattern} {text}");
        }
    }
}
