//! sys/init, sys/seal-status, sys/unseal, sys/seal, sys/health, sys/leader,
//! sys/step-down (sudo; HA storage),
//! sys/rekey/* (init, update, and verify when `require_verification` is set),
//! sys/rotate, sys/key-status, sys/generate-root-token/* (sudo) and
//! sys/generate-root/* (without a token, when the configuration allows it):
//! fields in, JSON out, around the typed methods of the seal/rekey state
//! machine ([`crate::core::seal_state`]) and of root token generation
//! ([`crate::core::generate_root`]).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::{json, Value};

use crate::core::generate_root::GenerateRootStatus;
use crate::core::sys_routes::SysRoute;
use crate::core::{
    Core, CoreError, RekeyStatus, RekeyUpdate, RekeyVerifyStatus, RekeyVerifyUpdate,
};
use crate::logical::fields;
use crate::logical::LogicalError;
use crate::sdk::{Operation, Request, Response};
use crate::seal::{decode_share, SealConfig};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Serves a route of the seal lifecycle (`sys/init`, `sys/unseal`,
/// `sys/rekey/*`, ...: the `unauthenticated` rows of the `sys/` table);
/// `serves`: whether its row serves the request's operation (405 if not).
pub(super) fn handle_unauthenticated(
    core: &Core,
    req: &Request,
    route: SysRoute<'_>,
    serves: bool,
) -> Result<Response, CoreError> {
    // Refused whatever the operation unless `enable_unauthenticated_access`
    // names "generate-root"; `sys/generate-root-token/*` is the
    // authenticated (sudo) form.
    let token_less_root = matches!(
        route,
        SysRoute::GenerateRootAttempt | SysRoute::GenerateRootUpdate
    );
    if token_less_root && !core.config().unauthenticated_generate_root {
        return Err(bad(GENERATE_ROOT_DISABLED));
    }
    if !serves {
        return Err(LogicalError::UnsupportedOperation.into());
    }
    let op = req.operation;
    let write = matches!(op, Operation::Create | Operation::Update);
    Ok(match (route, op) {
        (SysRoute::Init, Operation::Read) => Response::raw(
            200,
            json!({"initialized": core.barrier().is_initialized()?}),
        ),
        (SysRoute::Init, _) if write => init(core, req)?,
        (SysRoute::SealStatus, Operation::Read) => Response::raw(200, seal_status(core)?),
        (SysRoute::Unseal, _) if write => unseal(core, req)?,
        (SysRoute::Health, Operation::Read) => health(core, req)?,
        (SysRoute::Leader, Operation::Read) => leader(core)?,
        (SysRoute::RekeyInit, Operation::Read) => rekey_status(core)?,
        (SysRoute::RekeyInit, _) if write => rekey_init(core, req)?,
        (SysRoute::RekeyInit, Operation::Delete) => rekey_cancel(core)?,
        (SysRoute::RekeyUpdate, _) if write => rekey_update(core, req)?,
        (SysRoute::RekeyVerify, Operation::Read) => rekey_verify_status(core)?,
        (SysRoute::RekeyVerify, _) if write => rekey_verify_update(core, req)?,
        // As Vault: cancelling the verification cancels the rekey.
        (SysRoute::RekeyVerify, Operation::Delete) => rekey_verify_cancel(core)?,
        (SysRoute::GenerateRootAttempt, _) => {
            Response::raw(200, generate_root(core, req, GenerateRootStep::Attempt)?)
        }
        (SysRoute::GenerateRootUpdate, _) => {
            Response::raw(200, generate_root(core, req, GenerateRootStep::Update)?)
        }
        _ => return Err(LogicalError::UnsupportedOperation.into()),
    })
}

/// The root-protected seal and key routes (`sys/seal`, `sys/rotate`,
/// `sys/key-status`, `sys/generate-root-token/*`).
pub(super) fn handle(
    core: &Core,
    req: &Request,
    route: SysRoute<'_>,
) -> Result<Response, CoreError> {
    let write = matches!(req.operation, Operation::Create | Operation::Update);
    // The same flow as `sys/generate-root/*`, its body under `data`.
    let root_token = |step| -> Result<Response, CoreError> {
        Ok(match generate_root(core, req, step)? {
            Value::Object(m) => Response::data(m),
            _ => Response::empty(),
        })
    };
    Ok(match (route, req.operation) {
        (SysRoute::Seal, _) if write => {
            core.seal();
            Response::empty()
        }
        (SysRoute::StepDown, _) if write => {
            core.step_down()?;
            Response::empty()
        }
        // `rotate/keyring` (the OpenBao CLI's name) is the same route.
        (SysRoute::Rotate, _) if write => {
            core.barrier().rotate()?;
            Response::empty()
        }
        (SysRoute::KeyStatus, Operation::Read) => {
            let st = core.barrier().key_status()?;
            let mut r = Response::json(
                json!({"term": st.term, "install_time": st.install_time, "encryptions": st.encryptions}),
            );
            r.top_level = true;
            r
        }
        (SysRoute::RekeyBackup, Operation::Read) => rekey_backup(core)?,
        (SysRoute::RekeyBackup, Operation::Delete) => {
            core.delete_rekey_backup()?;
            Response::empty()
        }
        (SysRoute::GenerateRootTokenAttempt, _) => root_token(GenerateRootStep::Attempt)?,
        (SysRoute::GenerateRootTokenUpdate, _) => root_token(GenerateRootStep::Update)?,
        _ => return Err(LogicalError::UnsupportedOperation.into()),
    })
}

/// The two steps of root token generation, under either prefix.
#[derive(Clone, Copy, PartialEq, Eq)]
enum GenerateRootStep {
    /// `attempt`: GET status, PUT/POST start, DELETE cancel.
    Attempt,
    /// `update`: PUT/POST a share.
    Update,
}

const GENERATE_ROOT_DISABLED: &str = "unauthenticated root token generation is disabled: \
     use sys/generate-root-token/* with a sudo token, or set \
     enable_unauthenticated_access = [\"generate-root\"] in the server configuration";

fn generate_root_body(st: &GenerateRootStatus, otp: Option<&str>) -> Value {
    let encoded = st.encoded_token.clone().unwrap_or_default();
    let mut body = json!({
        "started": st.started,
        "nonce": st.nonce,
        "progress": st.progress,
        "required": st.required,
        "encoded_token": encoded,
        "encoded_root_token": encoded,
        "pgp_fingerprint": st.pgp_fingerprint,
        "otp_length": st.otp_length,
        "complete": st.encoded_token.is_some(),
    });
    if let (Some(otp), Value::Object(m)) = (otp, &mut body) {
        m.insert("otp".into(), Value::String(otp.to_string()));
    }
    body
}

/// `generate-root/attempt` (GET status, PUT/POST start, DELETE cancel)
/// and `generate-root/update` (PUT/POST a share), whichever prefix the
/// request came under.
fn generate_root(core: &Core, req: &Request, step: GenerateRootStep) -> Result<Value, CoreError> {
    let write = matches!(req.operation, Operation::Create | Operation::Update);
    match (step, req.operation) {
        (GenerateRootStep::Attempt, Operation::Read) => {
            Ok(generate_root_body(&core.generate_root_status()?, None))
        }
        (GenerateRootStep::Attempt, _) if write => {
            let otp = fields::opt_string(&req.data, "otp")?;
            let pgp_key = match fields::opt_string(&req.data, "pgp_key")? {
                Some(k) if !k.trim().is_empty() => {
                    Some(crate::seal::pgp::parse_key("pgp_key", &k)?)
                }
                _ => None,
            };
            let (st, generated) = core.generate_root_init(otp, pgp_key)?;
            Ok(generate_root_body(
                &st,
                generated.as_deref().map(String::as_str),
            ))
        }
        (GenerateRootStep::Attempt, Operation::Delete) => {
            core.generate_root_cancel()?;
            Ok(Value::Null)
        }
        (GenerateRootStep::Update, _) if write => {
            let key = fields::req_string(&req.data, "key")?;
            let nonce = fields::req_string(&req.data, "nonce")?;
            let share = decode_share(&key)?;
            Ok(generate_root_body(
                &core.generate_root_update(share, &nonce)?,
                None,
            ))
        }
        _ => Err(LogicalError::UnsupportedOperation.into()),
    }
}

fn bad(m: &str) -> CoreError {
    CoreError::BadRequest(m.to_string())
}

fn init(core: &Core, req: &Request) -> Result<Response, CoreError> {
    if core.barrier().is_initialized()? {
        return Err(bad("Vault is already initialized"));
    }
    if !matches!(req.data.get("root_token_pgp_key"), None | Some(Value::Null))
        && req.data.get("root_token_pgp_key").and_then(Value::as_str) != Some("")
    {
        return Err(bad(
            "root_token_pgp_key is not supported: the root token is returned once, in clear",
        ));
    }
    let recipients = crate::seal::pgp::parse_keys(&pgp_keys(req)?)?;
    let shares = fields::opt_u64(&req.data, "secret_shares")?
        .ok_or_else(|| bad("missing required field \"secret_shares\""))?;
    let threshold = fields::opt_u64(&req.data, "secret_threshold")?
        .ok_or_else(|| bad("missing required field \"secret_threshold\""))?;
    let config = SealConfig::new(shares, threshold)?;
    let result = core.initialize_with_pgp(config, &recipients)?;
    let (keys, keys_b64) = share_lists(&result.shares, result.encrypted.as_ref());
    Ok(Response::raw(
        200,
        json!({"keys": keys, "keys_base64": keys_b64, "root_token": result.root_token.expose()}),
    ))
}

/// The `sys/seal-status` body.
pub(crate) fn seal_status(core: &Core) -> Result<Value, CoreError> {
    let st = core.unseal_status()?;
    let sealed = st.sealed;
    let mut body = json!({
        "type": "shamir",
        "initialized": st.initialized,
        "sealed": sealed,
        "t": st.threshold,
        "n": st.shares,
        "progress": st.progress,
        "nonce": st.nonce,
        "version": VERSION,
        "build_date": "",
        "migration": false,
        "recovery_seal": false,
        "storage_type": core.barrier().storage_type(),
    });
    // As Vault: a sealed vault does not name its cluster.
    if !sealed {
        body["cluster_name"] = json!(core.config().cluster_name);
        body["cluster_id"] = json!(core.cluster_id());
    }
    Ok(body)
}

fn unseal(core: &Core, req: &Request) -> Result<Response, CoreError> {
    if !core.barrier().is_initialized()? {
        return Err(bad("Vault is not initialized"));
    }
    if fields::opt_bool(&req.data, "reset")?.unwrap_or(false) {
        if !core.is_sealed() {
            return Err(bad("vault is unsealed"));
        }
        core.reset_unseal();
        return Ok(Response::raw(200, seal_status(core)?));
    }
    let key = fields::opt_string(&req.data, "key")?.ok_or_else(|| {
        bad("'key' must be specified in request body as JSON, or 'reset' set to true")
    })?;
    if !core.is_sealed() {
        return Ok(Response::raw(200, seal_status(core)?));
    }
    let share = decode_share(&key)?;
    core.submit_unseal_share(share)?;
    Ok(Response::raw(200, seal_status(core)?))
}

fn query_code(req: &Request, field: &str, default: u16) -> Result<u16, CoreError> {
    match fields::opt_u64(&req.data, field)? {
        Some(c) if (100..=599).contains(&c) => Ok(c as u16),
        Some(_) => Err(bad(&format!("invalid status code in \"{field}\""))),
        None => Ok(default),
    }
}

fn health(core: &Core, req: &Request) -> Result<Response, CoreError> {
    // An unsealed vault is initialized: no storage read on the hot path.
    let sealed = core.is_sealed();
    let initialized = !sealed || core.barrier().is_initialized()?;
    let ha = core.ha_status();
    let standby_ok = matches!(req.data.get("standbyok"), Some(Value::Bool(true)))
        || matches!(
            req.data.get("standbyok").and_then(Value::as_str),
            Some("true" | "1" | "t" | "T" | "TRUE" | "True")
        );
    let status = if !initialized {
        query_code(req, "uninitcode", 501)?
    } else if sealed {
        query_code(req, "sealedcode", 503)?
    } else if ha.standby && !standby_ok {
        query_code(req, "standbycode", 429)?
    } else {
        query_code(req, "activecode", 200)?
    };
    let mut body = json!({
        "initialized": initialized,
        "sealed": sealed,
        "standby": ha.standby,
        "performance_standby": false,
        "replication_performance_mode": "disabled",
        "replication_dr_mode": "disabled",
        "server_time_utc": core.clock().unix(),
        "version": VERSION,
        "audit_ok": core.active().map(|a| a.audit.healthy()).unwrap_or(true),
    });
    // As Vault: the cluster is named only while unsealed.
    if !sealed {
        body["cluster_name"] = json!(core.config().cluster_name);
        body["cluster_id"] = json!(core.cluster_id());
    }
    Ok(Response::raw(status, body))
}

fn leader(core: &Core) -> Result<Response, CoreError> {
    if core.is_sealed() {
        return Err(CoreError::Sealed);
    }
    let ha = core.ha_status();
    Ok(Response::raw(
        200,
        json!({
            "ha_enabled": ha.ha_enabled,
            "is_self": ha.is_self,
            "active_time": ha.active_time,
            "leader_address": ha.leader_address,
            "leader_cluster_address": "",
            "performance_standby": false,
            "performance_standby_last_remote_wal": 0,
        }),
    ))
}

/// Refuses a rekey request to a sealed vault before its fields are read.
fn unsealed(core: &Core) -> Result<(), CoreError> {
    if core.is_sealed() {
        return Err(CoreError::Sealed);
    }
    Ok(())
}

fn rekey_status_body(st: &RekeyStatus) -> Value {
    match &st.attempt {
        None => json!({"started": false, "nonce": "", "t": 0, "n": 0, "progress": 0,
                        "required": st.required, "pgp_fingerprints": null,
                        "backup": false, "verification_required": false}),
        Some(r) => json!({"started": true, "nonce": r.nonce,
                           "t": r.threshold, "n": r.shares,
                           "progress": r.progress, "required": st.required,
                           "pgp_fingerprints": fingerprints_or_null(&r.pgp_fingerprints),
                           "backup": r.backup,
                           "verification_required": r.verification_required}),
    }
}

fn fingerprints_or_null(fps: &[String]) -> Value {
    if fps.is_empty() {
        Value::Null
    } else {
        json!(fps)
    }
}

/// `pgp_keys`: a list of base64 public keys (or `null`/absent).
fn pgp_keys(req: &Request) -> Result<Vec<String>, CoreError> {
    match req.data.get("pgp_keys") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| bad("pgp_keys must be a list of strings"))
            })
            .collect(),
        Some(Value::String(s)) => Ok(s.split(',').map(|k| k.trim().to_string()).collect()),
        Some(_) => Err(bad("pgp_keys must be a list of strings")),
    }
}

/// Shares as handed out: the encrypted messages when `pgp_keys` were
/// given, else the shares themselves (hex and base64).
fn share_lists(
    shares: &[crate::crypto::SecretBytes],
    encrypted: Option<&Vec<Vec<u8>>>,
) -> (Vec<String>, Vec<String>) {
    match encrypted {
        Some(enc) => (
            enc.iter().map(hex::encode).collect(),
            enc.iter().map(|m| B64.encode(m)).collect(),
        ),
        None => (
            shares.iter().map(|s| hex::encode(s.expose())).collect(),
            shares.iter().map(|s| B64.encode(s.expose())).collect(),
        ),
    }
}

/// `sys/rekey/backup`: the kept encrypted shares by fingerprint, hex and
/// (`keys_base64`) base64, as Vault answers.
fn rekey_backup(core: &Core) -> Result<Response, CoreError> {
    let Some(Value::Object(mut m)) = core.rekey_backup()? else {
        return Err(bad("no backed-up keys found"));
    };
    if let Some(Value::Object(keys)) = m.get("keys").cloned() {
        let b64: serde_json::Map<String, Value> = keys
            .into_iter()
            .map(|(fp, list)| {
                let converted: Vec<Value> = list
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .filter_map(|h| hex::decode(h).ok())
                    .map(|b| Value::String(B64.encode(b)))
                    .collect();
                (fp, Value::Array(converted))
            })
            .collect();
        m.insert("keys_base64".into(), Value::Object(b64));
    }
    Ok(Response::data(m))
}

fn rekey_status(core: &Core) -> Result<Response, CoreError> {
    Ok(Response::raw(200, rekey_status_body(&core.rekey_status()?)))
}

fn rekey_init(core: &Core, req: &Request) -> Result<Response, CoreError> {
    unsealed(core)?;
    let pgp_keys = pgp_keys(req)?;
    let backup = fields::opt_bool(&req.data, "backup")?.unwrap_or(false);
    let shares = fields::opt_u64(&req.data, "secret_shares")?
        .ok_or_else(|| bad("missing required field \"secret_shares\""))?;
    let threshold = fields::opt_u64(&req.data, "secret_threshold")?
        .ok_or_else(|| bad("missing required field \"secret_threshold\""))?;
    let config = SealConfig::new(shares, threshold)?;
    let require_verification =
        fields::opt_bool(&req.data, "require_verification")?.unwrap_or(false);
    let st = core.rekey_init_with_pgp(config, require_verification, pgp_keys, backup)?;
    Ok(Response::raw(200, rekey_status_body(&st)))
}

fn rekey_cancel(core: &Core) -> Result<Response, CoreError> {
    core.rekey_cancel()?;
    Ok(Response::empty())
}

/// `DELETE sys/rekey/verify`: cancels the verification, as Vault, only
/// when a rekey is under way.
fn rekey_verify_cancel(core: &Core) -> Result<Response, CoreError> {
    unsealed(core)?;
    if core.rekey_status()?.attempt.is_none() {
        return Err(bad("no rekey configuration found"));
    }
    rekey_cancel(core)
}

fn rekey_update(core: &Core, req: &Request) -> Result<Response, CoreError> {
    unsealed(core)?;
    let key = fields::req_string(&req.data, "key")?;
    let nonce = fields::req_string(&req.data, "nonce")?;
    let share = decode_share(&key)?;
    Ok(match core.rekey_update(share, &nonce)? {
        RekeyUpdate::Progress(st) => Response::raw(200, rekey_status_body(&st)),
        RekeyUpdate::Complete {
            nonce,
            shares,
            verification_nonce,
            encrypted,
            pgp_fingerprints,
            backup,
        } => {
            let (keys, keys_b64) = share_lists(&shares, encrypted.as_ref());
            let fps = fingerprints_or_null(&pgp_fingerprints);
            let body = match verification_nonce {
                Some(verification_nonce) => {
                    json!({"complete": true, "nonce": nonce, "keys": keys, "keys_base64": keys_b64,
                           "pgp_fingerprints": fps, "backup": backup,
                           "verification_required": true, "verification_nonce": verification_nonce})
                }
                None => {
                    json!({"complete": true, "nonce": nonce, "keys": keys, "keys_base64": keys_b64,
                           "pgp_fingerprints": fps, "backup": backup, "verification_required": false})
                }
            };
            Response::raw(200, body)
        }
    })
}

fn verify_status_body(v: &RekeyVerifyStatus) -> Value {
    json!({"started": true, "nonce": v.nonce, "t": v.threshold, "n": v.shares,
           "progress": v.progress})
}

fn rekey_verify_status(core: &Core) -> Result<Response, CoreError> {
    Ok(Response::raw(
        200,
        verify_status_body(&core.rekey_verify_status()?),
    ))
}

fn rekey_verify_update(core: &Core, req: &Request) -> Result<Response, CoreError> {
    unsealed(core)?;
    let key = fields::req_string(&req.data, "key")?;
    let nonce = fields::req_string(&req.data, "nonce")?;
    let share = decode_share(&key)?;
    Ok(match core.rekey_verify_update(share, &nonce)? {
        RekeyVerifyUpdate::Progress(v) => Response::raw(200, verify_status_body(&v)),
        RekeyVerifyUpdate::Complete { nonce } => {
            Response::raw(200, json!({"nonce": nonce, "complete": true}))
        }
    })
}
