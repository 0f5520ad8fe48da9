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
use crate::core::{
    Core, CoreError, RekeyStatus, RekeyUpdate, RekeyVerifyStatus, RekeyVerifyUpdate,
};
use crate::logical::fields;
use crate::logical::LogicalError;
use crate::sdk::{Operation, Request, Response};
use crate::seal::{decode_share, SealConfig};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The `sys/` paths served without a token (sealed or not).
pub(super) const UNAUTHENTICATED: [&str; 10] = [
    "init",
    "seal-status",
    "unseal",
    "health",
    "leader",
    "rekey/init",
    "rekey/update",
    "rekey/verify",
    // Refused unless `enable_unauthenticated_access` names "generate-root";
    // `sys/generate-root-token/*` is the authenticated (sudo) form.
    "generate-root/attempt",
    "generate-root/update",
];

pub(super) fn handle_unauthenticated(
    core: &Core,
    req: &Request,
) -> Result<Option<Response>, CoreError> {
    let Some(path) = req.path.strip_prefix("sys/") else {
        return Ok(None);
    };
    let op = req.operation;
    let write = matches!(op, Operation::Create | Operation::Update);
    let r = match (path, op) {
        ("init", Operation::Read) => Response::raw(
            200,
            json!({"initialized": core.barrier().is_initialized()?}),
        ),
        ("init", _) if write => init(core, req)?,
        ("seal-status", Operation::Read) => Response::raw(200, seal_status(core)?),
        ("unseal", _) if write => unseal(core, req)?,
        ("health", Operation::Read) => health(core, req)?,
        ("leader", Operation::Read) => leader(core)?,
        ("rekey/init", Operation::Read) => rekey_status(core)?,
        ("rekey/init", _) if write => rekey_init(core, req)?,
        ("rekey/init", Operation::Delete) => rekey_cancel(core)?,
        ("rekey/update", _) if write => rekey_update(core, req)?,
        ("rekey/verify", Operation::Read) => rekey_verify_status(core)?,
        ("rekey/verify", _) if write => rekey_verify_update(core, req)?,
        // As Vault: cancelling the verification cancels the rekey.
        ("rekey/verify", Operation::Delete) => rekey_cancel(core)?,
        ("generate-root/attempt" | "generate-root/update", _) => {
            if !core.config().unauthenticated_generate_root {
                return Err(bad(GENERATE_ROOT_DISABLED));
            }
            Response::raw(200, generate_root(core, req, path)?)
        }
        (p, _) if UNAUTHENTICATED.contains(&p) => {
            return Err(LogicalError::UnsupportedOperation.into())
        }
        _ => return Ok(None),
    };
    Ok(Some(r))
}

pub(super) fn handle(
    core: &Core,
    req: &Request,
    path: &str,
) -> Result<Option<Response>, CoreError> {
    let write = matches!(req.operation, Operation::Create | Operation::Update);
    let r = match (path, req.operation) {
        ("seal", _) if write => {
            core.seal();
            Response::empty()
        }
        ("step-down", _) if write => {
            core.step_down()?;
            Response::empty()
        }
        ("rotate", _) if write => {
            core.barrier().rotate()?;
            Response::empty()
        }
        ("key-status", Operation::Read) => {
            let st = core.barrier().key_status()?;
            let mut r = Response::json(
                json!({"term": st.term, "install_time": st.install_time, "encryptions": st.encryptions}),
            );
            r.top_level = true;
            r
        }
        ("generate-root-token/attempt" | "generate-root-token/update", _) => {
            let body = generate_root(core, req, path.trim_start_matches("generate-root-token/"))?;
            match body {
                Value::Object(m) => Response::data(m),
                _ => Response::empty(),
            }
        }
        ("seal" | "step-down" | "rotate" | "key-status", _) => {
            return Err(LogicalError::UnsupportedOperation.into())
        }
        _ => return Ok(None),
    };
    Ok(Some(r))
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
        "pgp_fingerprint": "",
        "otp_length": st.otp_length,
        "complete": st.encoded_token.is_some(),
    });
    if let (Some(otp), Value::Object(m)) = (otp, &mut body) {
        m.insert("otp".into(), Value::String(otp.to_string()));
    }
    body
}

/// `generate-root/attempt` (GET status, PUT/POST start, DELETE cancel)
/// and `generate-root/update` (PUT/POST a share); `path` is one of those
/// two, whichever prefix the request came under.
fn generate_root(core: &Core, req: &Request, path: &str) -> Result<Value, CoreError> {
    let path = path.trim_start_matches("generate-root/");
    let write = matches!(req.operation, Operation::Create | Operation::Update);
    match (path, req.operation) {
        ("attempt", Operation::Read) => Ok(generate_root_body(&core.generate_root_status()?, None)),
        ("attempt", _) if write => {
            if !matches!(req.data.get("pgp_key"), None | Some(Value::Null))
                && req.data.get("pgp_key").and_then(Value::as_str) != Some("")
            {
                return Err(bad(
                    "pgp_key is not supported: omit it (and otp) to get a generated OTP",
                ));
            }
            let otp = fields::opt_string(&req.data, "otp")?;
            let (st, generated) = core.generate_root_init(otp)?;
            Ok(generate_root_body(
                &st,
                generated.as_deref().map(String::as_str),
            ))
        }
        ("attempt", Operation::Delete) => {
            core.generate_root_cancel()?;
            Ok(Value::Null)
        }
        ("update", _) if write => {
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
    if !matches!(req.data.get("pgp_keys"), None | Some(Value::Null))
        || !matches!(req.data.get("root_token_pgp_key"), None | Some(Value::Null))
            && req.data.get("root_token_pgp_key").and_then(Value::as_str) != Some("")
    {
        return Err(bad("pgp_keys are not supported"));
    }
    let shares = fields::opt_u64(&req.data, "secret_shares")?
        .ok_or_else(|| bad("missing required field \"secret_shares\""))?;
    let threshold = fields::opt_u64(&req.data, "secret_threshold")?
        .ok_or_else(|| bad("missing required field \"secret_threshold\""))?;
    let config = SealConfig::new(shares, threshold)?;
    let result = core.initialize(config)?;
    let keys: Vec<String> = result
        .shares
        .iter()
        .map(|s| hex::encode(s.expose()))
        .collect();
    let keys_b64: Vec<String> = result
        .shares
        .iter()
        .map(|s| B64.encode(s.expose()))
        .collect();
    Ok(Response::raw(
        200,
        json!({"keys": keys, "keys_base64": keys_b64, "root_token": result.root_token.expose()}),
    ))
}

/// The `sys/seal-status` body.
pub(crate) fn seal_status(core: &Core) -> Result<Value, CoreError> {
    let st = core.unseal_status()?;
    let sealed = st.sealed;
    Ok(json!({
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
        "cluster_name": if sealed { "" } else { core.config().cluster_name.as_str() },
        "cluster_id": if sealed { "" } else { core.cluster_id() },
    }))
}

fn unseal(core: &Core, req: &Request) -> Result<Response, CoreError> {
    if !core.barrier().is_initialized()? {
        return Err(bad("Vault is not initialized"));
    }
    if fields::opt_bool(&req.data, "reset")?.unwrap_or(false) {
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
    let initialized = core.barrier().is_initialized()?;
    let sealed = core.is_sealed();
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
    let body = json!({
        "initialized": initialized,
        "sealed": sealed,
        "standby": ha.standby,
        "performance_standby": false,
        "replication_performance_mode": "disabled",
        "replication_dr_mode": "disabled",
        "server_time_utc": core.clock().unix(),
        "version": VERSION,
        "cluster_name": if sealed { "" } else { core.config().cluster_name.as_str() },
        "cluster_id": if sealed { "" } else { core.cluster_id() },
        "audit_ok": core.active().map(|a| a.audit.healthy()).unwrap_or(true),
    });
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
                           "pgp_fingerprints": null, "backup": false,
                           "verification_required": r.verification_required}),
    }
}

fn rekey_status(core: &Core) -> Result<Response, CoreError> {
    Ok(Response::raw(200, rekey_status_body(&core.rekey_status()?)))
}

fn rekey_init(core: &Core, req: &Request) -> Result<Response, CoreError> {
    unsealed(core)?;
    if !matches!(req.data.get("pgp_keys"), None | Some(Value::Null)) {
        return Err(bad("pgp_keys are not supported"));
    }
    let shares = fields::opt_u64(&req.data, "secret_shares")?
        .ok_or_else(|| bad("missing required field \"secret_shares\""))?;
    let threshold = fields::opt_u64(&req.data, "secret_threshold")?
        .ok_or_else(|| bad("missing required field \"secret_threshold\""))?;
    let config = SealConfig::new(shares, threshold)?;
    let require_verification =
        fields::opt_bool(&req.data, "require_verification")?.unwrap_or(false);
    let st = core.rekey_init(config, require_verification)?;
    Ok(Response::raw(200, rekey_status_body(&st)))
}

fn rekey_cancel(core: &Core) -> Result<Response, CoreError> {
    core.rekey_cancel()?;
    Ok(Response::empty())
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
        } => {
            let keys: Vec<String> = shares.iter().map(|s| hex::encode(s.expose())).collect();
            let keys_b64: Vec<String> = shares.iter().map(|s| B64.encode(s.expose())).collect();
            let body = match verification_nonce {
                Some(verification_nonce) => {
                    json!({"complete": true, "nonce": nonce, "keys": keys, "keys_base64": keys_b64,
                           "pgp_fingerprints": null, "backup": false,
                           "verification_required": true, "verification_nonce": verification_nonce})
                }
                None => {
                    json!({"complete": true, "nonce": nonce, "keys": keys, "keys_base64": keys_b64,
                           "pgp_fingerprints": null, "backup": false, "verification_required": false})
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
