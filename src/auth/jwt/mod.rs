//! The JWT auth method (type `jwt`, as Vault's): a workload logs in with a
//! JWT an outside issuer signed (an identity provider, a CI system, a
//! cluster, another vault-rs), checked against keys the operator
//! configured: PEM public keys (`jwt_validation_pubkeys`) or a JWKS URL
//! (`jwks_url`, TLS trusted through `jwks_ca_pem` when given).
//!
//! Paths (relative to the mount): `config`, `role/:name` (LIST `role/`),
//! `login` (unauthenticated: `{role, jwt}`).
//!
//! Owns: the method's config and roles in its storage view, the JWKS cache
//! of the mount instance (fetched on first use, again after
//! [`JWKS_MAX_AGE`] and when a token names an unknown `kid`, at most once
//! per [`JWKS_MIN_REFRESH`]), and the login checks: signature (the key's
//! algorithm family, never `none` or HMAC), `exp`/`nbf`/`iat` with the
//! role's `clock_skew_leeway` on the vault's clock, `bound_issuer`,
//! `bound_audiences`, `bound_subject`, `bound_claims` (exact or glob),
//! `user_claim`, and `claim_mappings` into the token's metadata.
//! Must not touch: the core, the token store, HTTP serving, other mounts;
//! never logs a JWT.

use std::sync::Mutex;
use std::time::Duration;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::auth::tokenutil::{TokenFields, TOKEN_FIELDS};
use crate::logical::{fields, matched, LogicalBackend, LogicalError, LogicalRequest};
use crate::sdk;
use crate::sdk::route::{lookup, Matched};
use crate::sdk::{MountPoint, Operation, Response};

/// The method's type.
pub const KIND: &str = "jwt";
/// A fetched JWKS is fetched again after this long.
pub const JWKS_MAX_AGE: i64 = 3600;
/// An unknown `kid` refetches the JWKS at most this often (seconds).
pub const JWKS_MIN_REFRESH: i64 = 10;
/// The largest JWKS document accepted.
const MAX_JWKS_BYTES: u64 = 1024 * 1024;
/// Default `clock_skew_leeway` (seconds), as Vault.
pub const DEFAULT_LEEWAY: u64 = 60;

/// The method's config.
#[derive(Serialize, Deserialize, Default, Clone)]
struct Config {
    #[serde(default)]
    jwt_validation_pubkeys: Vec<String>,
    #[serde(default)]
    jwks_url: String,
    #[serde(default)]
    jwks_ca_pem: String,
    #[serde(default)]
    bound_issuer: String,
}

/// A role.
#[derive(Serialize, Deserialize, Default, Clone)]
struct Role {
    #[serde(default)]
    bound_audiences: Vec<String>,
    #[serde(default)]
    bound_subject: String,
    #[serde(default)]
    bound_claims: Map<String, Value>,
    #[serde(default)]
    bound_claims_type: String,
    #[serde(default)]
    user_claim: String,
    #[serde(default)]
    claim_mappings: Map<String, Value>,
    #[serde(default)]
    clock_skew_leeway: u64,
    #[serde(flatten)]
    token: TokenFields,
}

struct CachedJwks {
    url: String,
    fetched_at: i64,
    keys: JwkSet,
}

/// The engine of one `jwt` mount.
#[derive(Default)]
pub struct JwtAuthBackend {
    jwks: Mutex<Option<CachedJwks>>,
}

const CONFIG: &str = "config";
const ROLES: &str = "role/";
const ROLE: &str = "role/:name";
const LOGIN: &str = "login";

const CONFIG_FIELDS: &[sdk::route::Field] = &[
    sdk::route::Field::new("jwt_validation_pubkeys", sdk::route::FieldType::StringList),
    sdk::route::Field::new("jwks_url", sdk::route::FieldType::String),
    sdk::route::Field::new("jwks_ca_pem", sdk::route::FieldType::String),
    sdk::route::Field::new("bound_issuer", sdk::route::FieldType::String),
];

const ROUTES: &[sdk::Route] = &[
    sdk::Route::new(
        CONFIG,
        &[Operation::Read, Operation::Create, Operation::Update],
    )
    .fields(CONFIG_FIELDS),
    sdk::Route::list(ROLES),
    sdk::Route::new(
        ROLE,
        &[
            Operation::Read,
            Operation::Create,
            Operation::Update,
            Operation::Delete,
        ],
    )
    .fields(TOKEN_FIELDS),
    sdk::Route::new(LOGIN, &[Operation::Create, Operation::Update]).unauthenticated(),
];

enum Route<'a> {
    Config,
    Roles,
    Role(&'a str),
    Login,
}

fn typed<'a>(m: &Matched<'_, 'a>) -> Option<Route<'a>> {
    Some(match m.pattern() {
        CONFIG => Route::Config,
        ROLES => Route::Roles,
        ROLE => Route::Role(m.get("name")),
        LOGIN => Route::Login,
        _ => return None,
    })
}

fn bad(msg: impl Into<String>) -> LogicalError {
    LogicalError::BadRequest(msg.into())
}

fn check_name(name: &str) -> Result<&str, LogicalError> {
    if name.is_empty()
        || name.len() > 128
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        || name == "."
        || name == ".."
    {
        return Err(bad(format!("invalid role name \"{name}\"")));
    }
    Ok(name)
}

impl LogicalBackend for JwtAuthBackend {
    fn handle(&self, req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
        let m = matched(ROUTES, req)?;
        let Some(r) = typed(&m) else {
            return Err(LogicalError::UnsupportedPath(req.path.to_string()));
        };
        use Operation::*;
        match (r, req.operation) {
            (Route::Config, Read) => read_config(req),
            (Route::Config, Create | Update) => self.write_config(req),
            (Route::Roles, List) => {
                let names: Vec<String> = req
                    .storage
                    .list("role/")?
                    .into_iter()
                    .filter(|n| !n.ends_with('/'))
                    .collect();
                if names.is_empty() {
                    return Err(LogicalError::NotFound);
                }
                Ok(Response::list(names))
            }
            (Route::Role(n), Read) => read_role(req, check_name(n)?),
            (Route::Role(n), Create | Update) => write_role(req, check_name(n)?),
            (Route::Role(n), Delete) => {
                req.storage.delete(&format!("role/{}", check_name(n)?))?;
                Ok(Response::empty())
            }
            (Route::Login, Create | Update) => self.login(req),
            _ => Err(LogicalError::UnsupportedOperation),
        }
    }

    fn routes(&self, _mount: MountPoint<'_>) -> &'static [sdk::Route] {
        ROUTES
    }

    fn exists(&self, req: &LogicalRequest<'_>) -> Result<Option<bool>, LogicalError> {
        match lookup(ROUTES, req.path).as_ref().and_then(typed) {
            Some(Route::Role(n)) if check_name(n).is_ok() => {
                Ok(Some(req.storage.get(&format!("role/{n}"))?.is_some()))
            }
            Some(Route::Config) => Ok(Some(req.storage.get(CONFIG)?.is_some())),
            _ => Ok(None),
        }
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

fn load_config(req: &LogicalRequest<'_>) -> Result<Option<Config>, LogicalError> {
    Ok(req.storage.get_json(CONFIG)?)
}

fn read_config(req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
    let Some(c) = load_config(req)? else {
        return Err(LogicalError::NotFound);
    };
    let mut d = Map::new();
    d.insert(
        "jwt_validation_pubkeys".into(),
        json!(c.jwt_validation_pubkeys),
    );
    d.insert("jwks_url".into(), json!(c.jwks_url));
    d.insert("jwks_ca_pem".into(), json!(c.jwks_ca_pem));
    d.insert("bound_issuer".into(), json!(c.bound_issuer));
    Ok(Response::data(d))
}

/// The verifying keys of a PEM public key, with the algorithms each may
/// verify (its family's; never HMAC).
fn pem_keys(pem: &str) -> Option<(DecodingKey, &'static [Algorithm])> {
    const RSA: &[Algorithm] = &[
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
    ];
    const EC: &[Algorithm] = &[Algorithm::ES256, Algorithm::ES384];
    const ED: &[Algorithm] = &[Algorithm::EdDSA];
    let b = pem.as_bytes();
    if let Ok(k) = DecodingKey::from_rsa_pem(b) {
        return Some((k, RSA));
    }
    if let Ok(k) = DecodingKey::from_ec_pem(b) {
        return Some((k, EC));
    }
    if let Ok(k) = DecodingKey::from_ed_pem(b) {
        return Some((k, ED));
    }
    None
}

impl JwtAuthBackend {
    fn write_config(&self, req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
        let mut c = load_config(req)?.unwrap_or_default();
        if let Some(keys) = fields::opt_string_list(req.data, "jwt_validation_pubkeys")? {
            for k in &keys {
                if pem_keys(k).is_none() {
                    return Err(bad(
                        "jwt_validation_pubkeys: each must be a PEM public key (RSA, EC or Ed25519)",
                    ));
                }
            }
            c.jwt_validation_pubkeys = keys;
        }
        if let Some(u) = fields::opt_string(req.data, "jwks_url")? {
            let u = u.trim().to_string();
            if !u.is_empty() {
                let parsed = reqwest::Url::parse(&u).map_err(|_| bad("jwks_url is not a URL"))?;
                if !matches!(parsed.scheme(), "http" | "https") {
                    return Err(bad("jwks_url must be an http or https URL"));
                }
            }
            c.jwks_url = u;
        }
        if let Some(ca) = fields::opt_string(req.data, "jwks_ca_pem")? {
            let no_certificate = reqwest::Certificate::from_pem_bundle(ca.as_bytes())
                .map_or(true, |certs| certs.is_empty());
            if !ca.trim().is_empty() && no_certificate {
                return Err(bad("jwks_ca_pem is not a PEM certificate bundle"));
            }
            c.jwks_ca_pem = ca;
        }
        if let Some(i) = fields::opt_string(req.data, "bound_issuer")? {
            c.bound_issuer = i;
        }
        match (c.jwt_validation_pubkeys.is_empty(), c.jwks_url.is_empty()) {
            (true, true) => {
                return Err(bad(
                    "exactly one of 'jwt_validation_pubkeys' and 'jwks_url' must be set",
                ))
            }
            (false, false) => {
                return Err(bad(
                    "exactly one of 'jwt_validation_pubkeys' and 'jwks_url' must be set",
                ))
            }
            _ => {}
        }
        req.storage.put_json(CONFIG, &c)?;
        *self.jwks.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(Response::empty())
    }

    /// The JWKS of `c`, from the cache unless stale or `kid` is missing
    /// from it (then fetched, at most once per [`JWKS_MIN_REFRESH`]).
    fn jwks(&self, c: &Config, kid: Option<&str>, now: i64) -> Result<JwkSet, LogicalError> {
        let mut cache = self.jwks.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(cached) = cache.as_ref().filter(|x| x.url == c.jwks_url) {
            let fresh = now - cached.fetched_at < JWKS_MAX_AGE;
            let known = kid.is_none_or(|k| cached.keys.find(k).is_some());
            let recent = now - cached.fetched_at < JWKS_MIN_REFRESH;
            if (fresh && known) || recent {
                return Ok(cached.keys.clone());
            }
        }
        let keys = fetch_jwks(&c.jwks_url, &c.jwks_ca_pem)?;
        *cache = Some(CachedJwks {
            url: c.jwks_url.clone(),
            fetched_at: now,
            keys: keys.clone(),
        });
        Ok(keys)
    }

    fn login(&self, req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
        let role_name = fields::opt_string(req.data, "role")?
            .filter(|r| !r.is_empty())
            .ok_or_else(|| bad("missing role"))?;
        let token = fields::opt_string(req.data, "jwt")?
            .filter(|t| !t.is_empty())
            .ok_or_else(|| bad("missing jwt"))?;
        let Some(c) = load_config(req)? else {
            return Err(bad("the jwt auth method is not configured"));
        };
        let role: Role = req
            .storage
            .get_json(&format!("role/{}", check_name(&role_name)?))?
            .ok_or_else(|| bad(format!("role \"{role_name}\" could not be found")))?;
        let now = req.clock.unix();
        let claims = self.verified_claims(&c, &token, now)?;
        check_claims(&c, &role, &claims, now)?;
        let user_claim = if role.user_claim.is_empty() {
            "sub"
        } else {
            role.user_claim.as_str()
        };
        let user = match claims.get(user_claim) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(bad(format!("claim \"{user_claim}\" not found in token"))),
        };
        let mut metadata = Map::new();
        metadata.insert("role".into(), json!(role_name));
        for (claim, key) in &role.claim_mappings {
            let Some(key) = key.as_str() else { continue };
            match claims.get(claim) {
                Some(Value::String(s)) => {
                    metadata.insert(key.into(), json!(s));
                }
                Some(v @ (Value::Number(_) | Value::Bool(_))) => {
                    metadata.insert(key.into(), json!(v.to_string()));
                }
                _ => {}
            }
        }
        let mut auth = role.token.login_auth();
        auth.display_name = user;
        auth.metadata = metadata;
        auth.internal.insert("role".into(), json!(role_name));
        Ok(Response {
            login: Some(auth),
            ..Response::default()
        })
    }

    /// The claims of `token` once its signature verified with a configured
    /// key.
    fn verified_claims(
        &self,
        c: &Config,
        token: &str,
        now: i64,
    ) -> Result<Map<String, Value>, LogicalError> {
        let invalid = |why: &str| bad(format!("error validating token: {why}"));
        if token.len() > crate::logical::identity::jwt::MAX_TOKEN_LEN {
            return Err(invalid("token too large"));
        }
        let peeked =
            crate::logical::identity::jwt::peek(token).map_err(|e| invalid(&e.to_string()))?;
        let mut v = Validation::new(peeked.alg);
        v.required_spec_claims.clear();
        v.validate_exp = false;
        v.validate_nbf = false;
        v.validate_aud = false;
        let decode = |key: &DecodingKey| {
            jsonwebtoken::decode::<Map<String, Value>>(token.trim(), key, &v).map(|d| d.claims)
        };
        if !c.jwt_validation_pubkeys.is_empty() {
            for pem in &c.jwt_validation_pubkeys {
                let Some((key, algs)) = pem_keys(pem) else {
                    continue;
                };
                if algs.contains(&peeked.alg) {
                    if let Ok(claims) = decode(&key) {
                        return Ok(claims);
                    }
                }
            }
            return Err(invalid(
                "no known key successfully validated the token signature",
            ));
        }
        let set = self.jwks(c, peeked.kid.as_deref(), now)?;
        let candidates: Vec<&Jwk> = match peeked.kid.as_deref() {
            Some(kid) => set.find(kid).into_iter().collect(),
            None => set.keys.iter().collect(),
        };
        if candidates.is_empty() {
            return Err(invalid("no key in the JWKS matches the token's kid"));
        }
        for jwk in candidates {
            if let Some(a) = jwk.common.key_algorithm {
                if Algorithm::try_from(a).ok() != Some(peeked.alg) {
                    continue;
                }
            }
            let Ok(key) = DecodingKey::from_jwk(jwk) else {
                continue;
            };
            if key.family() != peeked.alg.family() {
                continue;
            }
            if let Ok(claims) = decode(&key) {
                return Ok(claims);
            }
        }
        Err(invalid(
            "no known key successfully validated the token signature",
        ))
    }
}

/// Fetches a JWKS (on its own thread: the blocking client must not run on
/// an async runtime's thread).
fn fetch_jwks(url: &str, ca_pem: &str) -> Result<JwkSet, LogicalError> {
    let failed =
        |why: &str| LogicalError::BadRequest(format!("fetching keys from jwks_url: {why}"));
    let (url, ca_pem) = (url.to_string(), ca_pem.to_string());
    let fetched = std::thread::scope(|s| {
        s.spawn(move || -> Result<JwkSet, String> {
            let mut b = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(10))
                .redirect(reqwest::redirect::Policy::none());
            if !ca_pem.trim().is_empty() {
                for cert in reqwest::Certificate::from_pem_bundle(ca_pem.as_bytes())
                    .map_err(|_| "jwks_ca_pem is not a PEM bundle".to_string())?
                {
                    b = b.add_root_certificate(cert);
                }
            }
            let client = b.build().map_err(|_| "client setup failed".to_string())?;
            let resp = client
                .get(&url)
                .send()
                .map_err(|_| "request failed".to_string())?;
            if !resp.status().is_success() {
                return Err(format!("status {}", resp.status().as_u16()));
            }
            if resp.content_length().is_some_and(|n| n > MAX_JWKS_BYTES) {
                return Err("document too large".into());
            }
            let bytes = resp.bytes().map_err(|_| "body unreadable".to_string())?;
            if bytes.len() as u64 > MAX_JWKS_BYTES {
                return Err("document too large".into());
            }
            serde_json::from_slice::<JwkSet>(&bytes).map_err(|_| "not a JWKS document".to_string())
        })
        .join()
        .unwrap_or_else(|_| Err("fetch failed".into()))
    });
    fetched.map_err(|e| failed(&e))
}

/// `*` matches any run of characters; everything else itself.
fn glob(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !s.starts_with(first) || s.len() < first.len() + last.len() || !s.ends_with(last) {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

fn check_claims(
    c: &Config,
    role: &Role,
    claims: &Map<String, Value>,
    now: i64,
) -> Result<(), LogicalError> {
    let denied = |why: String| LogicalError::BadRequest(format!("error validating claims: {why}"));
    let leeway = i64::try_from(if role.clock_skew_leeway == 0 {
        DEFAULT_LEEWAY
    } else {
        role.clock_skew_leeway
    })
    .unwrap_or(i64::MAX);
    let time = |name: &str| claims.get(name).and_then(Value::as_i64);
    match time("exp") {
        Some(exp) if exp.saturating_add(leeway) > now => {}
        Some(_) => return Err(denied("token is expired".into())),
        None => return Err(denied("token has no exp claim".into())),
    }
    if time("nbf").is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
        return Err(denied("token is not yet valid (nbf)".into()));
    }
    if time("iat").is_some_and(|iat| iat > now.saturating_add(leeway)) {
        return Err(denied("token is issued in the future (iat)".into()));
    }
    if !c.bound_issuer.is_empty()
        && claims.get("iss").and_then(Value::as_str) != Some(c.bound_issuer.as_str())
    {
        return Err(denied("iss claim does not match bound_issuer".into()));
    }
    let auds: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if role.bound_audiences.is_empty() {
        if !auds.is_empty() {
            return Err(denied(
                "audience claim found in JWT but no audiences bound to the role".into(),
            ));
        }
    } else if !auds
        .iter()
        .any(|a| role.bound_audiences.iter().any(|b| b == a))
    {
        return Err(denied("aud claim does not match any bound audience".into()));
    }
    if !role.bound_subject.is_empty()
        && claims.get("sub").and_then(Value::as_str) != Some(role.bound_subject.as_str())
    {
        return Err(denied("sub claim does not match bound subject".into()));
    }
    let use_glob = role.bound_claims_type == "glob";
    for (name, want) in &role.bound_claims {
        let wanted: Vec<&str> = match want {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let have: Vec<String> = match claims.get(name) {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(_) | Value::Bool(_) => Some(v.to_string()),
                    _ => None,
                })
                .collect(),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => vec![v.to_string()],
            _ => Vec::new(),
        };
        let ok = have.iter().any(|h| {
            wanted
                .iter()
                .any(|w| if use_glob { glob(w, h) } else { w == h })
        });
        if !ok {
            return Err(denied(format!(
                "claim \"{name}\" does not match any associated bound claim values"
            )));
        }
    }
    Ok(())
}

fn read_role(req: &LogicalRequest<'_>, name: &str) -> Result<Response, LogicalError> {
    let Some(r) = req.storage.get_json::<Role>(&format!("role/{name}"))? else {
        return Err(LogicalError::NotFound);
    };
    let mut d = Map::new();
    d.insert("role_type".into(), json!("jwt"));
    d.insert("bound_audiences".into(), json!(r.bound_audiences));
    d.insert("bound_subject".into(), json!(r.bound_subject));
    d.insert("bound_claims".into(), Value::Object(r.bound_claims.clone()));
    let kind = if r.bound_claims_type.is_empty() {
        "string"
    } else {
        r.bound_claims_type.as_str()
    };
    d.insert("bound_claims_type".into(), json!(kind));
    let user_claim = if r.user_claim.is_empty() {
        "sub"
    } else {
        r.user_claim.as_str()
    };
    d.insert("user_claim".into(), json!(user_claim));
    d.insert(
        "claim_mappings".into(),
        Value::Object(r.claim_mappings.clone()),
    );
    let leeway = if r.clock_skew_leeway == 0 {
        DEFAULT_LEEWAY
    } else {
        r.clock_skew_leeway
    };
    d.insert("clock_skew_leeway".into(), json!(leeway));
    r.token.populate(&mut d);
    Ok(Response::data(d))
}

/// A JSON object field that may also arrive as JSON text (the CLI's k=v).
fn object_field(
    data: &Map<String, Value>,
    field: &str,
) -> Result<Option<Map<String, Value>>, LogicalError> {
    match data.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m.clone())),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Some(Map::new())),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(m)) => Ok(Some(m)),
            _ => Err(bad(format!("{field} must be a JSON object"))),
        },
        Some(_) => Err(bad(format!("{field} must be a JSON object"))),
    }
}

fn write_role(req: &LogicalRequest<'_>, name: &str) -> Result<Response, LogicalError> {
    let key = format!("role/{name}");
    let mut r: Role = req.storage.get_json(&key)?.unwrap_or_default();
    if let Some(t) = fields::opt_string(req.data, "role_type")? {
        if !t.is_empty() && t != "jwt" {
            return Err(bad("role_type must be \"jwt\""));
        }
    }
    if let Some(a) = fields::opt_string_list(req.data, "bound_audiences")? {
        r.bound_audiences = a;
    }
    if let Some(s) = fields::opt_string(req.data, "bound_subject")? {
        r.bound_subject = s;
    }
    if let Some(m) = object_field(req.data, "bound_claims")? {
        for v in m.values() {
            let ok = match v {
                Value::String(_) => true,
                Value::Array(a) => a.iter().all(Value::is_string),
                _ => false,
            };
            if !ok {
                return Err(bad(
                    "bound_claims values must be strings or lists of strings",
                ));
            }
        }
        r.bound_claims = m;
    }
    if let Some(t) = fields::opt_string(req.data, "bound_claims_type")? {
        if !matches!(t.as_str(), "" | "string" | "glob") {
            return Err(bad("bound_claims_type must be \"string\" or \"glob\""));
        }
        r.bound_claims_type = t;
    }
    if let Some(u) = fields::opt_string(req.data, "user_claim")? {
        r.user_claim = u;
    }
    if let Some(m) = object_field(req.data, "claim_mappings")? {
        if m.values().any(|v| !v.is_string()) {
            return Err(bad("claim_mappings values must be strings"));
        }
        r.claim_mappings = m;
    }
    if let Some(l) = fields::opt_duration(req.data, "clock_skew_leeway")? {
        r.clock_skew_leeway = l;
    }
    r.token.update(
        req.data,
        &[("policies", "token_policies"), ("ttl", "token_ttl")],
    )?;
    req.storage.put_json(&key, &r)?;
    Ok(Response::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("repo:org/*", "repo:org/app"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "a-x-b-y-c"));
        assert!(!glob("a*b*c", "a-x-c"));
        assert!(!glob("abc", "abcd"));
        assert!(!glob("ab*ba", "aba"), "prefix and suffix must not overlap");
        assert!(glob("exact", "exact"));
    }

    fn role() -> Role {
        Role {
            bound_audiences: vec!["svc".into()],
            ..Role::default()
        }
    }

    #[test]
    fn claims_are_checked_on_the_given_clock() {
        let c = Config::default();
        let claims = |v: Value| v.as_object().cloned().unwrap();
        let ok = claims(json!({"aud": "svc", "exp": 1000, "sub": "x"}));
        assert!(check_claims(&c, &role(), &ok, 900).is_ok());
        // within the default leeway of 60 s, then not
        assert!(check_claims(&c, &role(), &ok, 1059).is_ok());
        assert!(check_claims(&c, &role(), &ok, 1060).is_err());
        let wrong_aud = claims(json!({"aud": ["a", "b"], "exp": 1000}));
        assert!(check_claims(&c, &role(), &wrong_aud, 900).is_err());
        let no_exp = claims(json!({"aud": "svc"}));
        assert!(check_claims(&c, &role(), &no_exp, 900).is_err());
        // an audience in the token but none bound to the role
        assert!(check_claims(&c, &Role::default(), &ok, 900).is_err());
        let issuer = Config {
            bound_issuer: "https://idp".into(),
            ..Config::default()
        };
        assert!(check_claims(&issuer, &role(), &ok, 900).is_err());
        let mut globbed = role();
        globbed.bound_claims = claims(json!({"repo": "org/*"}));
        globbed.bound_claims_type = "glob".into();
        let with = |repo: &str| claims(json!({"aud": "svc", "exp": 1000, "repo": repo}));
        assert!(check_claims(&c, &globbed, &with("org/app"), 900).is_ok());
        assert!(check_claims(&c, &globbed, &with("other/app"), 900).is_err());
        globbed.bound_claims_type = "string".into();
        assert!(check_claims(&c, &globbed, &with("org/app"), 900).is_err());
    }
}
