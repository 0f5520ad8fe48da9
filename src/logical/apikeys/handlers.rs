//! The request handlers of an `apikeys` mount, one function per operation.
//! Each mutation takes the mount's write lock, reads the key's record from
//! storage (the source of truth), writes it back once and updates memory.
//!
//! Owns: request fields → records, records → response JSON. Must not touch
//! storage except through [`MountState`]; returns a key value only from
//! create, rotate and creds.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{json, Map, Value};

use super::key::{generate, Environment};
use super::rotation::{self, check_import, new_version, Trigger};
use super::store::{
    merged_use, secs_to_ms, time_value, Config, KeyRecord, MountState, StoredSecret, WriteGuard,
};
use super::validate::{self, Reason, Requirements, Verdict};
use super::{key, webhook};
use crate::crypto::{random_base62, SecretString};
use crate::logical::fields;
use crate::logical::{LogicalError, LogicalRequest};
use crate::sdk::telemetry::{ApiKeyOutcome, Event};
use crate::sdk::{LeaseInfo, Response};

const MAX_NAME_LEN: usize = 128;
const MAX_SCOPES: usize = 64;
const MAX_SCOPE_LEN: usize = 128;

fn bad(msg: impl Into<String>) -> LogicalError {
    LogicalError::BadRequest(msg.into())
}

/// Checks a key name: `[A-Za-z0-9._-]`, at most 128, not "." or "..".
pub fn check_name(name: &str) -> Result<(), LogicalError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(bad(format!(
            "invalid key name \"{name}\": use 1–{MAX_NAME_LEN} of A-Z a-z 0-9 . _ -"
        )))
    }
}

fn scopes_field(data: &Map<String, Value>) -> Result<Option<Vec<String>>, LogicalError> {
    let Some(scopes) = fields::opt_string_list(data, "scopes")? else {
        return Ok(None);
    };
    if scopes.len() > MAX_SCOPES {
        return Err(bad(format!("at most {MAX_SCOPES} scopes")));
    }
    for s in &scopes {
        if s.is_empty() || s.len() > MAX_SCOPE_LEN || s.chars().any(char::is_whitespace) {
            return Err(bad(format!("invalid scope \"{s}\"")));
        }
    }
    let mut scopes = scopes;
    scopes.sort();
    scopes.dedup();
    Ok(Some(scopes))
}

fn environment_field(data: &Map<String, Value>) -> Result<Option<Environment>, LogicalError> {
    match fields::opt_string(data, "environment")? {
        None => Ok(None),
        Some(e) => Environment::parse(&e)
            .map(Some)
            .ok_or_else(|| bad("field \"environment\" must be \"live\" or \"test\"")),
    }
}

fn webhook_field(
    data: &Map<String, Value>,
    config: &Config,
) -> Result<Option<String>, LogicalError> {
    let url = fields::opt_string(data, "webhook_url")?;
    if let Some(u) = &url {
        webhook::check_url(u, &config.webhook_policy()).map_err(bad)?;
    }
    Ok(url)
}

/// A supplied key value (import), as a secret.
fn value_field(data: &Map<String, Value>) -> Result<Option<SecretString>, LogicalError> {
    match data.get("key") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(SecretString::new(s.clone()))),
        Some(_) => Err(bad("field \"key\" must be a string")),
    }
}

fn data(value: Value) -> Response {
    Response::json(value)
}

// ---- config -------------------------------------------------------------

pub fn read_config(state: &MountState) -> Response {
    Response::data(state.config().to_json())
}

pub fn write_config(
    state: &MountState,
    req: &LogicalRequest<'_>,
) -> Result<Response, LogicalError> {
    let guard = state.lock_writes();
    let mut c: Config = (*state.config()).clone();
    let d = req.data;
    if let Some(p) = fields::opt_string(d, "prefix")? {
        if !key::valid_prefix(&p) {
            return Err(bad(
                "field \"prefix\" must be 1–16 of a-z 0-9, starting with a letter",
            ));
        }
        c.prefix = p;
    }
    if let Some(v) = fields::opt_duration(d, "default_ttl")? {
        c.default_ttl = v;
    }
    if let Some(v) = fields::opt_duration(d, "default_rotation_period")? {
        c.default_rotation_period = v;
    }
    if let Some(v) = fields::opt_duration(d, "default_grace_period")? {
        c.default_grace_period = v;
    }
    if let Some(v) = fields::opt_u64(d, "rate_limit")? {
        c.rate_limit = v;
    }
    if let Some(v) = fields::opt_u64(d, "rate_limit_burst")? {
        c.rate_limit_burst = v;
    }
    if let Some(v) = fields::opt_bool(d, "webhook_allow_http")? {
        c.webhook_allow_http = v;
    }
    if let Some(nets) = fields::opt_string_list(d, "webhook_allowed_networks")? {
        let mut parsed = Vec::with_capacity(nets.len());
        for n in nets {
            let net: ipnet::IpNet = n.trim().parse().map_err(|_| {
                bad("field \"webhook_allowed_networks\" must be a list of CIDR blocks")
            })?;
            parsed.push(net.to_string());
        }
        c.webhook_allowed_networks = parsed;
    }
    state.save_config(&guard, req.storage, c)?;
    Ok(Response::empty())
}

// ---- keys ---------------------------------------------------------------

pub fn list(state: &MountState) -> Result<Response, LogicalError> {
    let names = state.names();
    if names.is_empty() {
        return Err(LogicalError::NotFound);
    }
    Ok(Response::list(names))
}

pub fn read(
    state: &MountState,
    req: &LogicalRequest<'_>,
    name: &str,
) -> Result<Response, LogicalError> {
    check_name(name)?;
    let record = state.record(name).ok_or(LogicalError::NotFound)?;
    let now = req.clock.unix_ms();
    Ok(data(Value::Object(metadata_json(state, &record, now))))
}

/// Metadata of a key: settings, schedule, versions with their use
/// (written and pending) — never a value.
fn metadata_json(state: &MountState, r: &KeyRecord, now: i64) -> Map<String, Value> {
    let pending = state.usage.pending(&r.name);
    let versions: Map<String, Value> = r
        .versions
        .iter()
        .map(|(n, v)| {
            let (last_used, use_count) = merged_use(v, pending.get(n));
            let entry = json!({
                "last_used_time": time_value(last_used),
                "use_count": use_count,
                "created_time": time_value(v.created),
                "expires_time": time_value(v.expires),
                "superseded_time": time_value(v.superseded),
                "valid_until": if v.superseded != 0 { time_value(v.valid_until) } else { Value::Null },
                "revoked_time": time_value(v.revoked),
                "retired_time": time_value(v.retired),
                "state": v.state(now).as_str(),
            });
            (n.to_string(), entry)
        })
        .collect();
    let value = json!({
        "name": r.name,
        "service": r.service,
        "environment": r.environment.as_str(),
        "scopes": r.scopes,
        "metadata": r.metadata,
        "ttl": r.ttl,
        "rotation_period": r.rotation_period,
        "grace_period": r.grace_period,
        "imported": r.imported,
        "created_time": time_value(r.created),
        "updated_time": time_value(r.updated),
        "current_version": r.current,
        "next_rotation": time_value(r.next_rotation),
        "rotation_due": r.rotation_due(now),
        "webhook_url": r.webhook_url,
        "versions": versions,
    });
    match value {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Create (shows the key once) or update the settings of an existing key.
pub fn write(
    state: &MountState,
    req: &LogicalRequest<'_>,
    name: &str,
) -> Result<Response, LogicalError> {
    check_name(name)?;
    let guard = state.lock_writes();
    match state.read_record(req.storage, name)? {
        None => create(state, &guard, req, name),
        Some(existing) => update(state, &guard, req, existing),
    }
}

fn create(
    state: &MountState,
    guard: &WriteGuard<'_>,
    req: &LogicalRequest<'_>,
    name: &str,
) -> Result<Response, LogicalError> {
    let d = req.data;
    let config = state.config();
    let service = fields::req_string(d, "service")?;
    let environment = environment_field(d)?.unwrap_or(Environment::Live);
    let supplied = value_field(d)?;
    if let Some(v) = &supplied {
        check_import(state, v.expose())?;
    }
    let webhook_url = webhook_field(d, &config)?.unwrap_or_default();
    let now = req.clock.unix_ms();
    let mut record = KeyRecord {
        name: name.to_string(),
        service,
        environment,
        scopes: scopes_field(d)?.unwrap_or_default(),
        metadata: fields::opt_string_map(d, "metadata")?.unwrap_or_default(),
        ttl: fields::opt_duration(d, "ttl")?.unwrap_or(config.default_ttl),
        rotation_period: fields::opt_duration(d, "rotation_period")?
            .unwrap_or(config.default_rotation_period),
        grace_period: fields::opt_duration(d, "grace_period")?
            .unwrap_or(config.default_grace_period),
        imported: supplied.is_some(),
        created: now,
        updated: now,
        generation: 0,
        next_rotation: 0,
        current: 1,
        versions: BTreeMap::new(),
        webhook_secret: new_webhook_secret(&webhook_url),
        webhook_url,
    };
    if record.rotation_period > 0 {
        record.next_rotation = now.saturating_add(secs_to_ms(record.rotation_period));
    }
    let value = supplied.unwrap_or_else(|| generate(&config.prefix, environment));
    let version = new_version(state, &value, record.ttl, now);
    let expires = version.expires;
    record.versions.insert(1, version);
    state.commit(guard, req.storage, &record)?;
    let mut out = json!({
        "name": record.name,
        "version": 1,
        "key": value.expose(),
        "expires_at": time_value(expires),
        "next_rotation": time_value(record.next_rotation),
        "imported": record.imported,
    });
    if let Some(s) = &record.webhook_secret {
        out["webhook_secret"] = json!(s.0.expose());
    }
    Ok(data(out))
}

fn new_webhook_secret(url: &str) -> Option<StoredSecret> {
    (!url.is_empty()).then(|| StoredSecret(SecretString::new(random_base62(40))))
}

/// Updates settings; the key value, service and environment do not change.
fn update(
    state: &MountState,
    guard: &WriteGuard<'_>,
    req: &LogicalRequest<'_>,
    mut r: KeyRecord,
) -> Result<Response, LogicalError> {
    let d = req.data;
    if d.contains_key("key") {
        return Err(bad(
            "the key exists: supply a new value through keys/:name/rotate",
        ));
    }
    if fields::opt_string(d, "service")?.is_some_and(|s| s != r.service) {
        return Err(bad("the service of an existing key cannot change"));
    }
    if environment_field(d)?.is_some_and(|e| e != r.environment) {
        return Err(bad("the environment of an existing key cannot change"));
    }
    let now = req.clock.unix_ms();
    if let Some(s) = scopes_field(d)? {
        r.scopes = s;
    }
    if let Some(m) = fields::opt_string_map(d, "metadata")? {
        r.metadata = m;
    }
    if let Some(t) = fields::opt_duration(d, "ttl")? {
        r.ttl = t;
    }
    if let Some(g) = fields::opt_duration(d, "grace_period")? {
        r.grace_period = g;
    }
    if let Some(p) = fields::opt_duration(d, "rotation_period")? {
        if p != r.rotation_period {
            r.rotation_period = p;
            r.next_rotation = if p > 0 {
                now.saturating_add(secs_to_ms(p))
            } else {
                0
            };
        }
    }
    let mut new_secret = None;
    if let Some(url) = webhook_field(d, &state.config())? {
        if r.webhook_secret.is_none() || url.is_empty() {
            r.webhook_secret = new_webhook_secret(&url);
            new_secret = r.webhook_secret.clone();
        }
        r.webhook_url = url;
    }
    r.updated = now;
    state.commit(guard, req.storage, &r)?;
    let mut out = metadata_json(state, &r, now);
    if let Some(s) = new_secret {
        out.insert("webhook_secret".into(), json!(s.0.expose()));
    }
    Ok(Response::data(out))
}

pub fn delete(
    state: &MountState,
    req: &LogicalRequest<'_>,
    name: &str,
) -> Result<Response, LogicalError> {
    check_name(name)?;
    let guard = state.lock_writes();
    state.remove(&guard, req.storage, name)?;
    Ok(Response::empty())
}

pub fn rotate(
    state: &MountState,
    req: &LogicalRequest<'_>,
    name: &str,
) -> Result<Response, LogicalError> {
    check_name(name)?;
    let trigger = Trigger::Manual {
        grace_period: fields::opt_duration(req.data, "grace_period")?,
        value: value_field(req.data)?,
    };
    let guard = state.lock_writes();
    let r = rotation::rotate(
        state,
        &guard,
        req.storage,
        name,
        trigger,
        req.clock.unix_ms(),
    )?
    .ok_or_else(|| LogicalError::Internal("manual rotation did not apply".into()))?;
    Ok(data(json!({
        "name": r.name,
        "version": r.version,
        "key": r.key.expose(),
        "previous_version": r.previous_version,
        "previous_valid_until": time_value(r.previous_valid_until),
        "next_rotation": time_value(r.next_rotation),
        "expires_at": time_value(r.expires),
    })))
}

/// Revokes one version (`version`) or all; the values are erased at once.
pub fn revoke(
    state: &MountState,
    req: &LogicalRequest<'_>,
    name: &str,
) -> Result<Response, LogicalError> {
    check_name(name)?;
    let which = fields::opt_u64(req.data, "version")?;
    let guard = state.lock_writes();
    let mut r = state
        .read_record(req.storage, name)?
        .ok_or(LogicalError::NotFound)?;
    if let Some(v) = which {
        if !r.versions.contains_key(&v) {
            return Err(bad(format!("key \"{name}\" has no version {v}")));
        }
    }
    let now = req.clock.unix_ms();
    let mut revoked = Vec::new();
    for (n, v) in r.versions.iter_mut() {
        if which.is_none_or(|w| w == *n) && v.revoked == 0 {
            v.revoked = now;
            revoked.push(*n);
        }
    }
    r.retire_unusable(now);
    r.updated = now;
    state.commit(&guard, req.storage, &r)?;
    if !revoked.is_empty() {
        state.telemetry.record(Event::ApiKeyRevocation);
        webhook::notify_revocation(
            &state.webhooks,
            &r,
            &revoked,
            &state.config().webhook_policy(),
        );
    }
    Ok(data(json!({"name": name, "revoked_versions": revoked})))
}

/// The current key for its service, with `lease_duration` = seconds until
/// it rotates (or expires).
pub fn creds(
    state: &MountState,
    req: &LogicalRequest<'_>,
    name: &str,
) -> Result<Response, LogicalError> {
    check_name(name)?;
    let r = state
        .read_record(req.storage, name)?
        .ok_or(LogicalError::NotFound)?;
    let now = req.clock.unix_ms();
    let v = r
        .current_version()
        .filter(|v| v.state(now).usable())
        .ok_or_else(|| bad(format!("key \"{name}\" has no usable version")))?;
    let key = v
        .key
        .as_ref()
        .ok_or_else(|| bad(format!("key \"{name}\" has no usable version")))?;
    let mut resp = data(json!({
        "name": r.name,
        "service": r.service,
        "environment": r.environment.as_str(),
        "key": key.0.expose(),
        "version": r.current,
        "expires_at": time_value(v.expires),
        "next_rotation": time_value(r.next_rotation),
        "rotation_due": r.rotation_due(now),
    }));
    resp.lease = Some(LeaseInfo {
        lease_id: String::new(),
        lease_duration: seconds_left(&[r.next_rotation, v.expires], now),
        renewable: false,
    });
    if r.imported && r.rotation_due(now) {
        resp.warnings
            .push("rotation is due: supply the provider's new key through rotate".into());
    }
    Ok(resp)
}

/// Whole seconds (rounded up) until the earliest non-zero time; 0 if none.
fn seconds_left(times: &[i64], now: i64) -> u64 {
    let Some(t) = times.iter().copied().filter(|t| *t != 0).min() else {
        return 0;
    };
    u64::try_from(t.saturating_sub(now).max(0)).map_or(0, |ms| ms.div_ceil(1000))
}

pub fn stats(state: &MountState) -> Response {
    use std::sync::atomic::Ordering::Relaxed;
    let s = &state.stats;
    data(json!({
        "keys": state.key_count(),
        "rate_limited_clients": state.limiter.clients(),
        "validations": {
            "valid": s.valid.load(Relaxed),
            "malformed": s.malformed.load(Relaxed),
            "unknown": s.unknown.load(Relaxed),
            "expired": s.expired.load(Relaxed),
            "revoked": s.revoked.load(Relaxed),
            "scope": s.scope.load(Relaxed),
            "service": s.service.load(Relaxed),
            "rate_limited": s.rate_limited.load(Relaxed),
        },
        "rotations": s.rotations.load(Relaxed),
        "scheduled_rotations": s.scheduled_rotations.load(Relaxed),
        "storage_reads": s.storage_reads.load(Relaxed),
        "storage_writes": s.storage_writes.load(Relaxed),
    }))
}

// ---- validate -----------------------------------------------------------

/// The fields of a validate request.
pub struct ValidateInput<'a> {
    pub key: &'a str,
    pub scopes: Vec<String>,
    pub service: Option<String>,
}

/// Parses `{key, scope?, service?}`; `scope` may be a string or a list
/// (every scope must be granted).
pub fn validate_input<'a>(d: &'a Map<String, Value>) -> Result<ValidateInput<'a>, LogicalError> {
    let key = match d.get("key") {
        Some(Value::String(s)) => s.as_str(),
        None | Some(Value::Null) => return Err(bad("missing required field \"key\"")),
        Some(_) => return Err(bad("field \"key\" must be a string")),
    };
    let mut scopes = fields::opt_string_list(d, "scope")?.unwrap_or_default();
    scopes.extend(fields::opt_string_list(d, "scopes")?.unwrap_or_default());
    Ok(ValidateInput {
        key,
        scopes,
        service: fields::opt_string(d, "service")?.filter(|s| !s.is_empty()),
    })
}

/// A verdict for a malformed key, decided before any state is touched.
pub fn malformed() -> Response {
    Response::data(validate::to_json(&Verdict::Invalid(Reason::Malformed)))
}

/// Who a rate limit applies to: the token, else the address.
fn client_id(req: &LogicalRequest<'_>) -> String {
    if !req.caller.accessor.is_empty() {
        return format!("token:{}", req.caller.accessor);
    }
    match req.caller.remote_addr {
        Some(a) => format!("addr:{a}"),
        None => "anonymous".into(),
    }
}

/// Rate limit, index lookup and checks (the key's format is already fine).
pub fn validate(
    state: &MountState,
    req: &LogicalRequest<'_>,
    input: &ValidateInput<'_>,
    shape: key::Shape<'_>,
) -> Result<Response, LogicalError> {
    let s = &state.stats;
    if !state
        .limiter
        .allow(&client_id(req), state.config().limit(), Instant::now())
    {
        s.count(&s.rate_limited);
        return Err(LogicalError::RateLimited);
    }
    let wants = Requirements {
        scopes: &input.scopes,
        service: input.service.as_deref(),
    };
    let now = req.clock.unix_ms();
    let verdict = validate::check(state, input.key, shape, &wants, now);
    let outcome = match &verdict {
        Verdict::Valid {
            record, version, ..
        } => {
            state.usage.note(&record.name, *version, now);
            ApiKeyOutcome::Valid
        }
        Verdict::Invalid(Reason::Revoked) => ApiKeyOutcome::Revoked,
        Verdict::Invalid(_) => ApiKeyOutcome::Invalid,
    };
    state.telemetry.record(Event::ApiKeyValidation(outcome));
    s.count(match &verdict {
        Verdict::Valid { .. } => &s.valid,
        Verdict::Invalid(Reason::Malformed) => &s.malformed,
        Verdict::Invalid(Reason::Unknown) => &s.unknown,
        Verdict::Invalid(Reason::Expired) => &s.expired,
        Verdict::Invalid(Reason::Revoked) => &s.revoked,
        Verdict::Invalid(Reason::Scope) => &s.scope,
        Verdict::Invalid(Reason::Service) => &s.service,
    });
    Ok(Response::data(validate::to_json(&verdict)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("billing-api.v2_x").is_ok());
        for bad in ["", ".", "..", "a/b", "sp ace", &"a".repeat(129)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn seconds_left_rounds_up() {
        assert_eq!(seconds_left(&[0, 0], 5), 0);
        assert_eq!(seconds_left(&[10_002, 0], 1), 11);
        assert_eq!(seconds_left(&[10_001, 0], 1), 10);
        assert_eq!(seconds_left(&[20_000, 5_000], 0), 5);
        assert_eq!(seconds_left(&[1_000], 5_000), 0);
    }
}
