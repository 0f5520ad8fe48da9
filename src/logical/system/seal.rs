//! sys/init, sys/seal-status, sys/unseal, sys/seal, sys/health, sys/leader,
//! sys/rekey/* (init, update, and verify when `require_verification` is set),
//! sys/rotate, sys/key-status.
//!
//! Rekey without verification keeps the share set that authorised it valid
//! beside the new one until the new shares are first used (see the barrier);
//! with verification nothing changes until a threshold of the new shares is
//! submitted to `sys/rekey/verify`, and the old set is then retired at once.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::{json, Value};

use crate::core::{Core, CoreError};
use crate::logical::fields;
use crate::logical::LogicalError;
use crate::sdk::{Operation, Request, Response};
use crate::seal::{decode_share, SealConfig};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The `sys/` paths served without a token (sealed or not).
pub(super) const UNAUTHENTICATED: [&str; 8] = [
    "init",
    "seal-status",
    "unseal",
    "health",
    "leader",
    "rekey/init",
    "rekey/update",
    "rekey/verify",
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
        ("rekey/verify", Operation::Delete) => rekey_verify_cancel(core)?,
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
        ("seal" | "rotate" | "key-status", _) => {
            return Err(LogicalError::UnsupportedOperation.into())
        }
        _ => return Ok(None),
    };
    Ok(Some(r))
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
    let initialized = core.barrier().is_initialized()?;
    let config = core.barrier().seal_config()?;
    let (t, n) = config
        .map(|c| (c.secret_threshold, c.secret_shares))
        .unwrap_or((0, 0));
    let st = core.seal_state();
    let sealed = core.is_sealed();
    Ok(json!({
        "type": "shamir",
        "initialized": initialized,
        "sealed": sealed,
        "t": t,
        "n": n,
        "progress": if sealed { st.unseal.progress() } else { 0 },
        "nonce": if sealed { st.unseal.nonce() } else { "" },
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
    let status = if !initialized {
        query_code(req, "uninitcode", 501)?
    } else if sealed {
        query_code(req, "sealedcode", 503)?
    } else {
        query_code(req, "activecode", 200)?
    };
    let body = json!({
        "initialized": initialized,
        "sealed": sealed,
        "standby": false,
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
    Ok(Response::raw(
        200,
        json!({
            "ha_enabled": false,
            "is_self": true,
            "active_time": "0001-01-01T00:00:00Z",
            "leader_address": "",
            "leader_cluster_address": "",
            "performance_standby": false,
            "performance_standby_last_remote_wal": 0,
        }),
    ))
}

fn rekey_status_body(core: &Core) -> Result<Value, CoreError> {
    let config = core
        .barrier()
        .seal_config()?
        .ok_or(CoreError::NotInitialized)?;
    let st = core.seal_state();
    Ok(match &st.rekey {
        None => json!({"started": false, "nonce": "", "t": 0, "n": 0, "progress": 0,
                        "required": config.secret_threshold, "pgp_fingerprints": null,
                        "backup": false, "verification_required": false}),
        Some(r) => json!({"started": true, "nonce": r.progress.attempt_nonce(),
                           "t": r.config.secret_threshold, "n": r.config.secret_shares,
                           "progress": r.progress.progress(), "required": config.secret_threshold,
                           "pgp_fingerprints": null, "backup": false,
                           "verification_required": r.require_verification}),
    })
}

fn rekey_status(core: &Core) -> Result<Response, CoreError> {
    if core.is_sealed() {
        return Err(CoreError::Sealed);
    }
    Ok(Response::raw(200, rekey_status_body(core)?))
}

fn rekey_init(core: &Core, req: &Request) -> Result<Response, CoreError> {
    if core.is_sealed() {
        return Err(CoreError::Sealed);
    }
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
    {
        let mut st = core.seal_state();
        if st.rekey.is_some() {
            return Err(bad("rekey already in progress"));
        }
        st.rekey = Some(crate::core::RekeyState {
            config,
            progress: crate::seal::UnsealProgress::new(),
            require_verification,
            verification: None,
        });
    }
    Ok(Response::raw(200, rekey_status_body(core)?))
}

fn rekey_cancel(core: &Core) -> Result<Response, CoreError> {
    if core.is_sealed() {
        return Err(CoreError::Sealed);
    }
    core.seal_state().rekey = None;
    Ok(Response::empty())
}

fn rekey_update(core: &Core, req: &Request) -> Result<Response, CoreError> {
    if core.is_sealed() {
        return Err(CoreError::Sealed);
    }
    let key = fields::req_string(&req.data, "key")?;
    let nonce = fields::req_string(&req.data, "nonce")?;
    let share = decode_share(&key)?;
    // The share set the share belongs to (the current one, or the previous
    // one while the current shares are unused) sets the threshold.
    let threshold = core.config_for_share(&share)?.secret_threshold as usize;
    let (unseal_key, config) = {
        let mut st = core.seal_state();
        let Some(r) = st.rekey.as_mut() else {
            return Err(bad("no rekey in progress"));
        };
        if r.verification.is_some() {
            return Err(bad(
                "rekey is waiting for verification of the new shares (sys/rekey/verify)",
            ));
        }
        if !crate::crypto::ct_eq(r.progress.attempt_nonce().as_bytes(), nonce.as_bytes()) {
            return Err(bad("incorrect nonce"));
        }
        let config = (r.config.clone(), r.progress.attempt_nonce().to_string());
        match r.progress.add(share, threshold)? {
            None => {
                drop(st);
                return Ok(Response::raw(200, rekey_status_body(core)?));
            }
            Some(k) => (k, config),
        }
    };
    let (config, nonce) = config;
    if core.barrier().verify_unseal_key(&unseal_key).is_err() {
        core.seal_state().rekey = None;
        return Err(bad(
            "rekey failed: the key shares do not form this vault's unseal key; rekey cancelled",
        ));
    }
    let new_key = crate::seal::new_unseal_key();
    let shares = crate::seal::split(&new_key, &config)?;
    let tag = shares.first().map(crate::seal::share_set_tag);
    let keys: Vec<String> = shares.iter().map(|s| hex::encode(s.expose())).collect();
    let keys_b64: Vec<String> = shares.iter().map(|s| B64.encode(s.expose())).collect();
    {
        let mut st = core.seal_state();
        if let Some(r) = st.rekey.as_mut().filter(|r| r.require_verification) {
            // Nothing is written until the new shares are verified.
            let progress = crate::seal::UnsealProgress::new();
            let verification_nonce = progress.attempt_nonce().to_string();
            r.verification = Some(crate::core::RekeyVerification {
                new_key,
                share_tag: tag.unwrap_or_default(),
                progress,
            });
            return Ok(Response::raw(
                200,
                json!({"complete": true, "nonce": nonce, "keys": keys, "keys_base64": keys_b64,
                       "pgp_fingerprints": null, "backup": false,
                       "verification_required": true, "verification_nonce": verification_nonce}),
            ));
        }
    }
    match core.barrier().rekey(&unseal_key, &new_key, &config, tag) {
        Ok(()) => {}
        Err(crate::barrier::BarrierError::Crypto) => {
            core.seal_state().rekey = None;
            return Err(bad(
                "rekey failed: the key shares do not form this vault's unseal key; rekey cancelled",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    core.seal_state().rekey = None;
    Ok(Response::raw(
        200,
        json!({"complete": true, "nonce": nonce, "keys": keys, "keys_base64": keys_b64,
               "pgp_fingerprints": null, "backup": false, "verification_required": false}),
    ))
}

fn rekey_verify_status(core: &Core) -> Result<Response, CoreError> {
    if core.is_sealed() {
        return Err(CoreError::Sealed);
    }
    let st = core.seal_state();
    let Some((r, v)) = st
        .rekey
        .as_ref()
        .and_then(|r| r.verification.as_ref().map(|v| (r, v)))
    else {
        return Err(bad("no rekey verification in progress"));
    };
    Ok(Response::raw(
        200,
        json!({"started": true, "nonce": v.progress.attempt_nonce(),
               "t": r.config.secret_threshold, "n": r.config.secret_shares,
               "progress": v.progress.progress()}),
    ))
}

/// Collects new shares; once a threshold of them rebuilds the new unseal
/// key, the rekey takes effect (one write) and the old shares stop working.
fn rekey_verify_update(core: &Core, req: &Request) -> Result<Response, CoreError> {
    if core.is_sealed() {
        return Err(CoreError::Sealed);
    }
    let key = fields::req_string(&req.data, "key")?;
    let nonce = fields::req_string(&req.data, "nonce")?;
    let share = decode_share(&key)?;
    let tag = crate::seal::share_set_tag(&share);
    let (new_key, config, vnonce) = {
        let mut st = core.seal_state();
        let Some(r) = st.rekey.as_mut() else {
            return Err(bad("no rekey verification in progress"));
        };
        let config = r.config.clone();
        let Some(v) = r.verification.as_mut() else {
            return Err(bad("no rekey verification in progress"));
        };
        let vnonce = v.progress.attempt_nonce().to_string();
        if !crate::crypto::ct_eq(vnonce.as_bytes(), nonce.as_bytes()) {
            return Err(bad("incorrect nonce"));
        }
        if !crate::crypto::ct_eq(tag.as_bytes(), v.share_tag.as_bytes()) {
            return Err(crate::seal::SealError::WrongShare.into());
        }
        match v.progress.add(share, config.secret_threshold as usize)? {
            None => {
                let progress = v.progress.progress();
                return Ok(Response::raw(
                    200,
                    json!({"started": true, "nonce": vnonce,
                           "t": config.secret_threshold, "n": config.secret_shares,
                           "progress": progress}),
                ));
            }
            Some(k) if k == v.new_key => {}
            Some(_) => return Err(crate::seal::SealError::KeyMismatch.into()),
        }
        let Some(done) = st.rekey.take().and_then(|r| r.verification) else {
            return Err(bad("no rekey verification in progress"));
        };
        (done.new_key, config, vnonce)
    };
    core.barrier()
        .rekey_verified(&new_key, &config, Some(tag))?;
    Ok(Response::raw(
        200,
        json!({"nonce": vnonce, "complete": true}),
    ))
}

fn rekey_verify_cancel(core: &Core) -> Result<Response, CoreError> {
    if core.is_sealed() {
        return Err(CoreError::Sealed);
    }
    // As Vault: cancelling the verification cancels the rekey.
    core.seal_state().rekey = None;
    Ok(Response::empty())
}
