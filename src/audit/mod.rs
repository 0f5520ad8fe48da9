//! The audit subsystem: a broker that fails closed, and its devices.
//!
//! Owns: audit device configuration (behind the barrier, in the core view:
//! `audit/devices`, a salt per device at `audit/salt/<uuid>`, and the
//! vault's Ed25519 audit key at `audit/signing-key`), the devices' writer
//! threads, Vault-shaped entries with secrets HMAC-ed ([`entry`]), the hash
//! chain and signed checkpoints ([`chain`]), the offline verifier
//! ([`verify`]) and the search of a log ([`search`]).
//! Must not touch: HTTP, the router, tokens, the core (it is handed what
//! it logs: flat [`TokenRecord`]s and [`ErrorRecord`]s the core builds).
//!
//! The core logs a request after authenticating it and before dispatching
//! it; if no enabled device records it, the request fails with 500 and is
//! not performed (a device with `fsync` `batch` or `always` has synced the
//! entry before the request runs). A request that changes nothing (a read
//! or list that consumes no token use and wraps nothing) has its request
//! entry written with its response entry instead, in one batch and one
//! sync ([`AuditScope::log_request`]): it fails closed the same way, with
//! 500 and nothing disclosed. The exceptions are the operator's way
//! out of failing devices ([`serves_when_devices_fail`]: disabling a device,
//! sealing). The response entry follows; when it cannot be recorded,
//! [`AuditScope::respond`] says what the client gets. Enabling a device
//! writes a test entry through it first: a device that cannot write is
//! refused. With no device enabled, requests are served (as Vault).
//! A request waits for the first device that records its entry, at most the
//! devices' timeout (default 2 s); a device that fails or stalls is
//! reported by [`Broker::healthy`] (`sys/health` → `audit_ok`) and
//! [`Broker::metrics`].

pub mod chain;
mod device;
pub mod entry;
mod error;
pub mod search;
pub mod verify;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

use crate::barrier::StorageView;
use crate::crypto::{random_secret, SecretBytes};
use crate::sdk::{Clock, Operation, Request, Response, SystemClock};
use device::{Ack, Device};
pub use device::{DeviceMetrics, FsyncPolicy};
pub use entry::{AuditInput, AuditedError, ErrorRecord, MountInfo, Outcome, TokenRecord};
pub use error::AuditError;

const DEVICES_KEY: &str = "audit/devices";
const SALT_PREFIX: &str = "audit/salt/";
const SIGNING_KEY: &str = "audit/signing-key";
const SALT_LEN: usize = 32;

/// A device as enabled through `sys/audit/:path` (persisted).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceConfig {
    /// Normalised, with a trailing slash (`file/`).
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub local: bool,
    /// Names the device's salt in storage.
    pub uuid: String,
}

impl DeviceConfig {
    /// Vault's shape for `sys/audit` listings.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "type": self.kind,
            "description": self.description,
            "options": self.options,
            "local": self.local,
            "path": self.path,
        })
    }
}

/// The Ed25519 key that signs headers and checkpoints, as published.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PublicKeyInfo {
    pub algorithm: &'static str,
    /// Standard base64 of the 32 raw bytes.
    pub public_key: String,
    /// The same key as a PEM `PUBLIC KEY` (SPKI).
    pub public_key_pem: String,
    pub key_id: String,
}

/// Normalises a device path: no leading slash, one trailing slash.
pub fn normalize_path(path: &str) -> Result<String, AuditError> {
    let p = path.trim().trim_matches('/');
    if p.is_empty() {
        return Err(AuditError::BadRequest(
            "the audit device path must not be empty".into(),
        ));
    }
    let ok = p.split('/').all(|seg| {
        !seg.is_empty()
            && seg != "."
            && seg != ".."
            && seg
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    });
    // the suffixes of `sys/audit/:path/…` routes cannot end a device's path
    let reserved = ["/public-key", "/entries", "/verify"]
        .iter()
        .any(|s| p.ends_with(s));
    if !ok || reserved || p == "public-key" {
        return Err(AuditError::BadRequest(format!(
            "invalid audit device path \"{p}\""
        )));
    }
    Ok(format!("{p}/"))
}

/// The broker: the enabled devices and the audit key.
pub struct Broker {
    view: StorageView,
    key: RwLock<Option<Arc<SigningKey>>>,
    devices: RwLock<Arc<Vec<Arc<Device>>>>,
    change: Mutex<()>,
    /// The `time` of every entry (the core's clock).
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("devices", &self.snapshot())
            .finish()
    }
}

fn load_key(bytes: &[u8]) -> Result<SigningKey, AuditError> {
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| AuditError::Internal("stored audit signing key is corrupt".into()))?;
    let key = SigningKey::from_bytes(&arr);
    let mut arr = arr;
    zeroize::Zeroize::zeroize(&mut arr);
    Ok(key)
}

impl Broker {
    /// Loads the devices from `view` (the core view) and starts them. A
    /// device whose destination cannot be opened is started anyway: it
    /// retries on every entry and fails closed meanwhile.
    pub fn load(view: StorageView) -> Result<Broker, AuditError> {
        Broker::load_with_clock(view, Arc::new(SystemClock))
    }

    /// [`Broker::load`], stamping entries with `clock`'s time.
    pub fn load_with_clock(view: StorageView, clock: Arc<dyn Clock>) -> Result<Broker, AuditError> {
        let configs: Vec<DeviceConfig> = view.get_json(DEVICES_KEY)?.unwrap_or_default();
        let key = match view.get(SIGNING_KEY)? {
            Some(b) => Some(Arc::new(load_key(&b)?)),
            None => None,
        };
        let mut devices = Vec::new();
        let enabled = configs.len();
        for config in configs {
            let Some(key) = key.clone() else {
                return Err(AuditError::Internal(
                    "audit devices exist but the audit key is missing".into(),
                ));
            };
            let salt = view
                .get(&format!("{SALT_PREFIX}{}", config.uuid))?
                .map(|b| SecretBytes::from_slice(&b))
                .ok_or_else(|| {
                    AuditError::Internal(format!("audit device {} has no salt", config.path))
                })?;
            match Device::start(config.clone(), salt, key, false) {
                Ok(d) => devices.push(Arc::new(d)),
                // Options were valid when enabled; keep serving but say so.
                Err(e) => {
                    tracing::error!(device = %config.path, error = %e, "audit device cannot start")
                }
            }
        }
        if enabled > 0 && devices.is_empty() {
            // As Vault: audit devices are configured but none can run.
            return Err(AuditError::Internal(
                "no audit device could be started".into(),
            ));
        }
        Ok(Broker {
            view,
            key: RwLock::new(key),
            devices: RwLock::new(Arc::new(devices)),
            change: Mutex::new(()),
            clock,
        })
    }

    fn snapshot(&self) -> Arc<Vec<Arc<Device>>> {
        self.devices
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The devices enabled now; a request logs its request and its response
    /// to the same scope.
    pub fn scope(&self) -> AuditScope {
        AuditScope {
            devices: self.snapshot(),
            clock: self.clock.clone(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.change.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The audit key, created (and stored) on first use.
    fn signing_key(&self) -> Result<Arc<SigningKey>, AuditError> {
        if let Some(k) = self.key.read().unwrap_or_else(|p| p.into_inner()).clone() {
            return Ok(k);
        }
        let seed = random_secret(32);
        self.view.put(SIGNING_KEY, seed.expose())?;
        let key = Arc::new(load_key(seed.expose())?);
        *self.key.write().unwrap_or_else(|p| p.into_inner()) = Some(key.clone());
        Ok(key)
    }

    /// Enables a device (`sys/audit/:path`).
    pub fn enable(
        &self,
        path: &str,
        kind: &str,
        description: &str,
        options: BTreeMap<String, String>,
        local: bool,
    ) -> Result<(), AuditError> {
        let path = normalize_path(path)?;
        let _g = self.lock();
        let current = self.snapshot();
        if current.iter().any(|d| d.config.path == path) {
            return Err(AuditError::BadRequest(format!(
                "path already in use: {path}"
            )));
        }
        let config = DeviceConfig {
            path,
            kind: kind.trim().to_string(),
            description: description.to_string(),
            options,
            local,
            uuid: uuid::Uuid::new_v4().to_string(),
        };
        let key = self.signing_key()?;
        let salt = random_secret(SALT_LEN);
        let device = Device::start(config.clone(), salt.clone(), key, true)?;
        prove_writable(&device)?;
        let mut configs: Vec<DeviceConfig> = current.iter().map(|d| d.config.clone()).collect();
        configs.push(config.clone());
        let list = serde_json::to_vec(&configs).map_err(|e| AuditError::Internal(e.to_string()))?;
        self.view.transaction(vec![
            (
                format!("{SALT_PREFIX}{}", config.uuid),
                Some(salt.expose().to_vec()),
            ),
            (DEVICES_KEY.to_string(), Some(list)),
        ])?;
        let mut next: Vec<Arc<Device>> = current.iter().cloned().collect();
        next.push(Arc::new(device));
        next.sort_by(|a, b| a.config.path.cmp(&b.config.path));
        *self.devices.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(next);
        Ok(())
    }

    /// Disables a device; false if none was at `path`. The device writes a
    /// final checkpoint once the requests that still use it are done.
    pub fn disable(&self, path: &str) -> Result<bool, AuditError> {
        let path = normalize_path(path)?;
        let _g = self.lock();
        let current = self.snapshot();
        let Some(gone) = current.iter().find(|d| d.config.path == path).cloned() else {
            return Ok(false);
        };
        let next: Vec<Arc<Device>> = current
            .iter()
            .filter(|d| d.config.path != path)
            .cloned()
            .collect();
        let configs: Vec<DeviceConfig> = next.iter().map(|d| d.config.clone()).collect();
        let list = serde_json::to_vec(&configs).map_err(|e| AuditError::Internal(e.to_string()))?;
        self.view.transaction(vec![
            (DEVICES_KEY.to_string(), Some(list)),
            (format!("{SALT_PREFIX}{}", gone.config.uuid), None),
        ])?;
        *self.devices.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(next);
        Ok(true)
    }

    /// The enabled devices, by path.
    pub fn list(&self) -> Vec<DeviceConfig> {
        self.snapshot().iter().map(|d| d.config.clone()).collect()
    }

    fn device(&self, path: &str) -> Result<Arc<Device>, AuditError> {
        let path = normalize_path(path)?;
        self.snapshot()
            .iter()
            .find(|d| d.config.path == path)
            .cloned()
            .ok_or(AuditError::UnknownDevice(path))
    }

    /// `hmac-sha256:<hex>` of `input` with the device's salt (`sys/audit-hash`).
    pub fn hash(&self, path: &str, input: &str) -> Result<String, AuditError> {
        Ok(self.device(path)?.hasher.hash(input))
    }

    /// The key that signs the device's headers and checkpoints.
    pub fn public_key(&self, path: &str) -> Result<PublicKeyInfo, AuditError> {
        self.device(path)?;
        let key = self.signing_key()?;
        let vk = key.verifying_key();
        use ed25519_dalek::pkcs8::EncodePublicKey;
        let pem = vk
            .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .map_err(|_| AuditError::Internal("cannot encode the public key".into()))?;
        Ok(PublicKeyInfo {
            algorithm: "ed25519",
            public_key: chain::encode_public_key(&vk),
            public_key_pem: pem,
            key_id: chain::key_id(&vk),
        })
    }

    /// Reopens every file device (SIGHUP): the current file gets a final
    /// checkpoint, the next entry goes to a file opened anew by name, whose
    /// header continues the chain.
    pub fn reopen(&self) {
        for d in self.snapshot().iter() {
            d.request_reopen();
        }
    }

    /// Whether every device is healthy (no failure or timeout in the last
    /// 30 s and none stuck in a write). True with no device enabled.
    pub fn healthy(&self) -> bool {
        self.snapshot().iter().all(|d| d.healthy())
    }

    /// Counters of every device (for metrics).
    pub fn metrics(&self) -> Vec<DeviceMetrics> {
        self.snapshot().iter().map(|d| d.metrics()).collect()
    }
}

/// Writes a test entry through a device being enabled and waits until it
/// is recorded (synced, with `fsync` `batch` or `always`): a device whose
/// destination opens but cannot be written (a full disk, `/dev/full`) is
/// refused instead of failing every request after it is enabled.
fn prove_writable(device: &Device) -> Result<(), AuditError> {
    let body = serde_json::json!({
        "type": "test",
        "time": entry::now_rfc3339(),
        "device": device.config.path,
    })
    .to_string();
    let ack = Arc::new(Ack::new());
    if device.submit(body, ack.clone()) && ack.wait(1, device.settings.timeout) {
        return Ok(());
    }
    Err(AuditError::BadRequest(format!(
        "audit device {}: a test entry could not be written to its destination within {:?}; the device was not enabled",
        device.config.path, device.settings.timeout
    )))
}

/// The operator's way out of failing audit devices: disabling a device
/// (`DELETE sys/audit/:path`) and sealing (`sys/seal`) are served even when
/// no device can record them. Both need `sudo`, checked as for any request;
/// the failure is logged by the server. Every other request fails closed.
pub fn serves_when_devices_fail(operation: Operation, path: &str) -> bool {
    match operation {
        Operation::Delete => path
            .strip_prefix("sys/audit/")
            .is_some_and(|p| !p.is_empty() && !p.contains("/public-key")),
        Operation::Create | Operation::Update => path == "sys/seal",
        _ => false,
    }
}

/// A request's entry, as [`AuditScope::log_request`] left it: recorded,
/// or rendered (one line per device) to be recorded with the response.
#[must_use = "a deferred request entry is recorded only with its response"]
pub struct RequestEntry {
    deferred: Option<Vec<String>>,
}

impl RequestEntry {
    /// An entry already recorded (or no device to record it).
    pub fn recorded() -> RequestEntry {
        RequestEntry { deferred: None }
    }

    /// Whether the entry waits for the response entry.
    pub fn is_deferred(&self) -> bool {
        self.deferred.is_some()
    }
}

/// The devices one request logs to.
pub struct AuditScope {
    devices: Arc<Vec<Arc<Device>>>,
    clock: Arc<dyn Clock>,
}

impl AuditScope {
    /// Whether any device is enabled (if not, nothing is logged).
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    /// Logs a request entry before the request runs.
    ///
    /// With `defer` (a request that changes nothing: a read or list that
    /// consumes no token use and wraps nothing; the caller decides), the
    /// entry is only rendered, with the request's time, and written with
    /// the response entry: both lines go to the device in one batch, made
    /// durable by one sync, the request line first. If the process dies
    /// before that, nothing was changed and nothing was answered. If they
    /// cannot be recorded, the read fails as a read whose response entry
    /// cannot be recorded ([`AuditScope::respond_after`]): 500, nothing
    /// disclosed. Otherwise the entry is recorded now (synced, with `fsync`
    /// `batch` or `always`), or `Err` and the request must not run.
    pub fn log_request(
        &self,
        input: &AuditInput<'_>,
        defer: bool,
    ) -> Result<RequestEntry, AuditError> {
        if self.devices.is_empty() {
            return Ok(RequestEntry::recorded());
        }
        if !defer {
            return self.log(input).map(|()| RequestEntry::recorded());
        }
        let time = self.clock.rfc3339();
        let lines = self
            .devices
            .iter()
            .map(|d| entry::render(input, &time, &d.hasher))
            .collect();
        Ok(RequestEntry {
            deferred: Some(lines),
        })
    }

    /// [`AuditScope::respond_after`] for a request entry already recorded.
    pub fn respond<E: AuditedError>(
        &self,
        request: &Request,
        auth: Option<&TokenRecord>,
        mount: &MountInfo,
        result: Result<Response, E>,
    ) -> Result<Response, E> {
        self.respond_after(RequestEntry::recorded(), request, auth, mount, result)
    }

    /// Logs the response entry of a request (after its request entry, if
    /// that was deferred) and gives its answer.
    ///
    /// The request entry was recorded before the request ran (or, deferred,
    /// goes with this entry), so the request is on record. If the response
    /// entry cannot be recorded:
    /// - a request that changes nothing (read, list) fails with 500: nothing
    ///   was performed, and nothing is disclosed that the log does not show;
    /// - a request that may have changed state (create, update, patch,
    ///   delete) is answered from what was performed: its own result, with
    ///   a warning that its response is missing from the audit log (a client
    ///   never gets a 500 for a write that took effect).
    ///
    /// Either way the server logs the failure.
    pub fn respond_after<E: AuditedError>(
        &self,
        entry: RequestEntry,
        request: &Request,
        auth: Option<&TokenRecord>,
        mount: &MountInfo,
        result: Result<Response, E>,
    ) -> Result<Response, E> {
        let logged = self.log_after(
            entry,
            &AuditInput {
                request,
                auth,
                mount,
                outcome: Some(Outcome::of(&result)),
                error: None,
            },
        );
        let Err(e) = logged else {
            return result;
        };
        let performed = request.operation.is_write()
            || serves_when_devices_fail(request.operation, &request.path);
        tracing::error!(path = %request.path, error = %e, performed, "the response entry could not be recorded by any audit device");
        if !performed {
            return Err(e.into());
        }
        result.map(|mut r| {
            // A 404 with data is an error to the client: answered as is.
            if !r.is_not_found() {
                r.warnings.push(
                    "the response to this request could not be recorded in the audit log".into(),
                );
            }
            r
        })
    }

    /// Logs one entry (a request entry when `input.outcome` is `None`, a
    /// response entry otherwise). Blocks until a device has recorded it;
    /// `Err` when every device failed or none did within its timeout.
    pub fn log(&self, input: &AuditInput<'_>) -> Result<(), AuditError> {
        self.log_after(RequestEntry::recorded(), input)
    }

    /// Logs one entry after `before`'s deferred lines (on each device, in
    /// the same batch).
    fn log_after(&self, before: RequestEntry, input: &AuditInput<'_>) -> Result<(), AuditError> {
        if self.devices.is_empty() {
            return Ok(());
        }
        let time = self.clock.rfc3339();
        let ack = Arc::new(Ack::new());
        let mut queued = 0;
        let mut timeout = Duration::ZERO;
        let mut before = before.deferred.map(Vec::into_iter);
        for d in self.devices.iter() {
            let body = entry::render(input, &time, &d.hasher);
            let first = before.as_mut().and_then(Iterator::next);
            if d.submit_after(first, body, ack.clone()) {
                queued += 1;
                timeout = timeout.max(d.settings.timeout);
            }
        }
        if queued == 0 {
            return Err(AuditError::NotRecorded(
                "every device's queue is full or closed".into(),
            ));
        }
        if ack.wait(queued, timeout) {
            return Ok(());
        }
        let (ok, failed) = ack.counts();
        if ok == 0 && failed < queued {
            for d in self.devices.iter() {
                d.timed_out();
            }
            return Err(AuditError::NotRecorded(format!(
                "no device answered within {timeout:?}"
            )));
        }
        Err(AuditError::NotRecorded(
            "every device failed to write".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::barrier::Barrier;
    use crate::physical::InmemBackend;
    use crate::sdk::{Operation, Request};

    fn view() -> StorageView {
        let barrier = Barrier::new(Arc::new(InmemBackend::new()));
        let key = crate::seal::new_unseal_key();
        let config = crate::seal::SealConfig::new(1, 1).unwrap();
        barrier.initialize(&key, &config).unwrap();
        barrier.unseal(&key).unwrap();
        barrier.view("core")
    }

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn log_one(b: &Broker, path: &str) -> Result<(), AuditError> {
        let mut req = Request::new(Operation::Update, path);
        req.client_token = Some("hvs.CANARY".into());
        let mount = MountInfo::default();
        b.scope().log(&AuditInput {
            request: &req,
            auth: None,
            mount: &mount,
            outcome: None,
            error: None,
        })
    }

    #[test]
    fn entries_carry_the_brokers_clock() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("audit.log");
        let at = time::OffsetDateTime::from_unix_timestamp(1_000_000_000).unwrap();
        let clock = Arc::new(crate::sdk::ManualClock::at(at));
        let b = Broker::load_with_clock(view(), clock).unwrap();
        b.enable(
            "file",
            "file",
            "",
            opts(&[("file_path", file.to_str().unwrap())]),
            false,
        )
        .unwrap();
        log_one(&b, "secret/a").unwrap();
        drop(b);
        let text = std::fs::read_to_string(&file).unwrap();
        let entry = text
            .lines()
            .find(|l| l.contains("secret/a"))
            .expect("the request entry");
        let v: serde_json::Value = serde_json::from_str(entry).unwrap();
        let time = v["time"].as_str().unwrap_or_default();
        assert!(time.starts_with("2001-09-09T01:46:40"), "{entry}");
    }

    #[test]
    fn enable_log_verify_reload() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("audit.log");
        let v = view();
        let b = Broker::load(v.clone()).unwrap();
        assert!(log_one(&b, "secret/a").is_ok(), "no device: served");
        b.enable(
            "file",
            "file",
            "",
            opts(&[("file_path", file.to_str().unwrap())]),
            false,
        )
        .unwrap();
        assert!(b
            .enable("file/", "file", "", opts(&[("file_path", "x")]), false)
            .is_err());
        assert!(b.enable("bad", "nope", "", BTreeMap::new(), false).is_err());
        for i in 0..5 {
            log_one(&b, &format!("secret/{i}")).unwrap();
        }
        let hash = b.hash("file", "hvs.CANARY").unwrap();
        let pk = b.public_key("file").unwrap();
        drop(b);
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains("CANARY"));
        assert!(text.contains(&hash));
        let key = verify::parse_public_key(&pk.public_key).unwrap();
        let opts_v = verify::VerifyOptions {
            public_key: Some(key),
            allow_open_tail: false,
        };
        let r = verify::verify(
            &[verify::LogFile {
                name: "a".into(),
                bytes: text.clone().into_bytes(),
            }],
            &opts_v,
        );
        assert!(r.ok(), "{:?}", r.problem);
        assert_eq!(r.requests, 5);
        // Reload (unseal): same device, same salt, chain continues.
        let b = Broker::load(v.clone()).unwrap();
        assert_eq!(b.list().len(), 1);
        assert_eq!(b.hash("file/", "hvs.CANARY").unwrap(), hash);
        log_one(&b, "secret/after").unwrap();
        drop(b);
        let bytes = std::fs::read(&file).unwrap();
        let r = verify::verify(
            &[verify::LogFile {
                name: "a".into(),
                bytes,
            }],
            &opts_v,
        );
        assert!(r.ok(), "{:?}", r.problem);
        assert_eq!((r.requests, r.headers), (6, 2));
        let b = Broker::load(v).unwrap();
        assert!(b.disable("file").unwrap());
        assert!(!b.disable("file").unwrap());
        assert!(b.list().is_empty());
    }

    #[test]
    fn a_deferred_request_entry_is_written_with_its_response_in_one_batch() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("audit.log");
        let b = Broker::load(view()).unwrap();
        b.enable(
            "file",
            "file",
            "",
            opts(&[("file_path", file.to_str().unwrap())]),
            false,
        )
        .unwrap();
        let batches = || b.metrics()[0].batches;
        let before = batches();
        let req = Request::new(Operation::Read, "secret/data/deferred");
        let mount = MountInfo::default();
        let scope = b.scope();
        let input = AuditInput {
            request: &req,
            auth: None,
            mount: &mount,
            outcome: None,
            error: None,
        };
        let entry = scope.log_request(&input, true).unwrap();
        assert!(entry.is_deferred());
        // Nothing written (nor synced) yet.
        assert_eq!(batches(), before);
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains("secret/data/deferred"));
        let answered: Result<Response, TestError> =
            scope.respond_after(entry, &req, None, &mount, Ok(Response::default()));
        assert!(answered.is_ok());
        // Both lines in one batch: one write, one sync.
        assert_eq!(batches(), before + 1);
        // Not deferred: the request entry is its own batch.
        let entry = scope.log_request(&input, false).unwrap();
        assert!(!entry.is_deferred());
        assert_eq!(batches(), before + 2);
        let answered: Result<Response, TestError> =
            scope.respond_after(entry, &req, None, &mount, Ok(Response::default()));
        assert!(answered.is_ok());
        assert_eq!(batches(), before + 3);
        let pk = b.public_key("file").unwrap();
        drop(scope);
        drop(b);
        let text = std::fs::read_to_string(&file).unwrap();
        let ours: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("secret/data/deferred"))
            .collect();
        assert_eq!(ours.len(), 4, "{text}");
        // Each request line comes right before its response line.
        for pair in ours.chunks(2) {
            let kind =
                |l: &str| serde_json::from_str::<serde_json::Value>(l).unwrap()["type"].clone();
            assert_eq!(kind(pair[0]), "request", "{}", pair[0]);
            assert_eq!(kind(pair[1]), "response", "{}", pair[1]);
        }
        let key = verify::parse_public_key(&pk.public_key).unwrap();
        let r = verify::verify(
            &[verify::LogFile {
                name: "a".into(),
                bytes: text.into_bytes(),
            }],
            &verify::VerifyOptions {
                public_key: Some(key),
                allow_open_tail: false,
            },
        );
        assert!(r.ok(), "{:?}", r.problem);
        assert_eq!((r.requests, r.responses), (2, 2));
    }

    /// `b` with one file device, enabled while its disk had room, then
    /// pointed at a full disk (`/dev/full`) and loaded again, as at unseal.
    fn with_full_disk(b: Broker, v: StorageView, name: &str) -> Broker {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ok.log");
        b.enable(
            name,
            "file",
            "",
            opts(&[("file_path", file.to_str().unwrap())]),
            false,
        )
        .unwrap();
        let mut configs: Vec<DeviceConfig> = v.get_json(DEVICES_KEY).unwrap().unwrap();
        configs[0].options = opts(&[("file_path", "/dev/full"), ("timeout", "1s")]);
        v.put_json(DEVICES_KEY, &configs).unwrap();
        drop(b);
        Broker::load(v).unwrap()
    }

    #[test]
    fn a_deferred_read_fails_closed_when_nothing_records_it() {
        // A device whose disk is full (loaded at unseal, as in
        // `failing_device_fails_closed`).
        let v = view();
        let b = Broker::load(v.clone()).unwrap();
        let b = with_full_disk(b, v, "full");
        let req = Request::new(Operation::Read, "secret/data/x");
        let mount = MountInfo::default();
        let scope = b.scope();
        let input = AuditInput {
            request: &req,
            auth: None,
            mount: &mount,
            outcome: None,
            error: None,
        };
        // Deferred: accepted now, refused with the response.
        let entry = scope.log_request(&input, true).unwrap();
        let answered: Result<Response, TestError> =
            scope.respond_after(entry, &req, None, &mount, Ok(Response::default()));
        assert!(matches!(answered, Err(TestError::Audit)));
        // Not deferred: refused before the request runs.
        assert!(matches!(
            scope.log_request(&input, false),
            Err(AuditError::NotRecorded(_))
        ));
    }

    #[test]
    fn failing_device_fails_closed() {
        let v = view();
        let b = Broker::load(v.clone()).unwrap();
        // A destination that opens but cannot be written is refused.
        let err = b
            .enable(
                "full",
                "file",
                "",
                opts(&[("file_path", "/dev/full"), ("timeout", "1s")]),
                false,
            )
            .unwrap_err();
        assert!(matches!(err, AuditError::BadRequest(_)), "{err}");
        assert!(b.list().is_empty());
        assert!(log_one(&b, "secret/x").is_ok(), "nothing enabled: served");
        // One enabled before it could be refused (or whose disk filled
        // since) is loaded at unseal and fails closed.
        let b = with_full_disk(b, v, "ok");
        assert!(matches!(
            log_one(&b, "secret/x"),
            Err(AuditError::NotRecorded(_))
        ));
        assert!(!b.healthy());
        let m = b.metrics();
        assert_eq!(m[0].write_failures, 1);
        // A healthy device next to it keeps requests served.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ok2.log");
        b.enable(
            "ok2",
            "file",
            "",
            opts(&[("file_path", file.to_str().unwrap())]),
            false,
        )
        .unwrap();
        assert!(log_one(&b, "secret/y").is_ok());
    }

    /// An error type as a caller of the broker has one.
    #[derive(Debug)]
    enum TestError {
        BadRequest,
        Audit,
    }

    impl From<AuditError> for TestError {
        fn from(_: AuditError) -> Self {
            TestError::Audit
        }
    }

    impl AuditedError for TestError {
        fn audit_record(&self) -> ErrorRecord {
            ErrorRecord {
                status: 400,
                message: "bad".into(),
            }
        }
    }

    #[test]
    fn response_entries_that_cannot_be_recorded() {
        use crate::sdk::Response;
        let v = view();
        let b = Broker::load(v.clone()).unwrap();
        let b = with_full_disk(b, v, "ok");
        let mount = MountInfo::default();
        // A write that was performed is answered with its result and a warning.
        let req = Request::new(Operation::Update, "secret/a");
        let r = b
            .scope()
            .respond(&req, None, &mount, Ok::<_, TestError>(Response::empty()))
            .unwrap();
        assert!(r.warnings[0].contains("audit log"));
        // A failed write keeps its own error (nothing was performed).
        let r = b
            .scope()
            .respond(&req, None, &mount, Err(TestError::BadRequest));
        assert!(matches!(r, Err(TestError::BadRequest)));
        // A read discloses nothing the log does not show: 500.
        let req = Request::new(Operation::Read, "secret/a");
        let r = b
            .scope()
            .respond(&req, None, &mount, Ok::<_, TestError>(Response::empty()));
        assert!(matches!(r, Err(TestError::Audit)));
    }

    #[test]
    fn operator_way_out() {
        assert!(serves_when_devices_fail(
            Operation::Delete,
            "sys/audit/full"
        ));
        assert!(serves_when_devices_fail(Operation::Update, "sys/seal"));
        assert!(!serves_when_devices_fail(Operation::Read, "sys/audit/full"));
        assert!(!serves_when_devices_fail(Operation::Delete, "sys/audit/"));
        assert!(!serves_when_devices_fail(
            Operation::Update,
            "sys/audit/full"
        ));
        assert!(!serves_when_devices_fail(Operation::Update, "secret/x"));
    }

    #[test]
    fn stalled_socket_times_out_within_the_bound() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let held = std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            // Stalls (reads nothing) until the test is done, 30 s at most.
            let _ = released.recv_timeout(Duration::from_secs(30));
            drop(s);
        });
        let b = Broker::load(view()).unwrap();
        b.enable(
            "sock",
            "socket",
            "",
            opts(&[
                ("address", &addr),
                ("timeout", "500ms"),
                ("log_raw", "true"),
            ]),
            false,
        )
        .unwrap();
        let mut req = Request::new(Operation::Update, "secret/big");
        req.data.insert("v".into(), "x".repeat(16 << 20).into());
        let mount = MountInfo::default();
        let start = std::time::Instant::now();
        let r = b.scope().log(&AuditInput {
            request: &req,
            auth: None,
            mount: &mount,
            outcome: None,
            error: None,
        });
        assert!(r.is_err());
        // The peer stalls for 30 s; the 500 ms timeout must end the write
        // long before (the bound only catches waiting for the peer, not a
        // slow machine).
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "{:?}",
            start.elapsed()
        );
        assert!(!b.healthy());
        drop(b);
        let _ = release.send(());
        held.join().unwrap();
    }

    #[test]
    fn concurrent_requests_are_all_recorded_in_one_chain() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("audit.log");
        let b = Arc::new(Broker::load(view()).unwrap());
        b.enable(
            "file",
            "file",
            "",
            opts(&[("file_path", file.to_str().unwrap())]),
            false,
        )
        .unwrap();
        let start = std::time::Instant::now();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let b = b.clone();
                std::thread::spawn(move || {
                    for i in 0..100 {
                        log_one(&b, &format!("secret/{t}/{i}")).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let elapsed = start.elapsed();
        let m = b.metrics();
        eprintln!("800 entries in {elapsed:?}, {} batches", m[0].batches);
        assert!(m[0].batches <= 800);
        drop(b);
        let r = verify::verify(
            &[verify::LogFile {
                name: "a".into(),
                bytes: std::fs::read(&file).unwrap(),
            }],
            &verify::VerifyOptions::default(),
        );
        assert!(r.ok(), "{:?}", r.problem);
        assert_eq!(r.requests, 800);
    }

    #[test]
    fn paths_are_normalized() {
        assert_eq!(normalize_path("/file").unwrap(), "file/");
        assert_eq!(normalize_path("a/b/").unwrap(), "a/b/");
        assert!(normalize_path("").is_err());
        assert!(normalize_path("a/../b").is_err());
        assert!(normalize_path("x/public-key").is_err());
        assert!(normalize_path("x/entries").is_err());
        assert!(normalize_path("x/verify").is_err());
        assert_eq!(normalize_path("entries").unwrap(), "entries/");
    }
}
