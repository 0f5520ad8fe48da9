//! The seal/rekey state machine: init, unseal progress, seal, and rekey
//! (with or without verification of the new shares), as typed methods of
//! [`Core`].
//!
//! Owns: the shares held between requests (unseal attempt, rekey attempt,
//! rekey verification), their nonces and thresholds, and the order of the
//! barrier operations each transition makes. The `sys/` handlers
//! ([`super::system`]) parse fields and render JSON around these methods.
//! Must not touch: HTTP shapes (field names, JSON bodies), physical storage
//! (only the barrier's operations).
//!
//! Rekey without verification keeps the share set that authorised it valid
//! beside the new one until the new shares are first used (see the barrier);
//! with verification nothing changes until a threshold of the new shares is
//! submitted ([`Core::rekey_verify_update`]), and the old set is then
//! retired at once.

use std::sync::Arc;

use super::state::{self, Active};
use super::token_store::TokenParams;
use super::{Core, CoreError};
use crate::barrier::{BarrierError, UnsealedWith};
use crate::crypto::{ct_eq, SecretBytes, SecretString};
use crate::seal::pgp::{self, PgpRecipient};
use crate::seal::{self, SealConfig, SealError, UnsealProgress};

/// What `sys/init` returns, once.
pub struct InitResult {
    pub shares: Vec<SecretBytes>,
    /// With `pgp_keys`: share `i` encrypted to key `i` (an OpenPGP message),
    /// handed out instead of the share.
    pub encrypted: Option<Vec<Vec<u8>>>,
    pub root_token: SecretString,
}

/// Where the encrypted shares of a rekey with `backup` are kept (a barrier
/// view of the core's own, apart from every mount's).
const REKEY_BACKUP_VIEW: &str = "core-rekey-backup";
const REKEY_BACKUP_KEY: &str = "unseal-keys";

/// Fingerprints of `keys` (already checked at rekey init).
fn fingerprints(keys: &[String]) -> Vec<String> {
    pgp::parse_keys(keys)
        .map(|r| r.into_iter().map(|r| r.fingerprint).collect())
        .unwrap_or_default()
}

/// `pgp_keys` of a rekey: one per new share, each usable (a test message
/// is encrypted to it); `backup` needs them.
fn check_pgp_keys(keys: &[String], shares: usize, backup: bool) -> Result<(), CoreError> {
    if keys.is_empty() {
        if backup {
            return Err(CoreError::BadRequest(
                "backup requires pgp_keys (the kept shares are the encrypted ones)".into(),
            ));
        }
        return Ok(());
    }
    if keys.len() != shares {
        return Err(CoreError::BadRequest(format!(
            "{} pgp_keys for {shares} shares: give one key per share",
            keys.len()
        )));
    }
    let probe = SecretBytes::new(vec![0u8; 1]);
    for key in pgp::parse_keys(keys)? {
        pgp::encrypt_share(&key, &probe)?;
    }
    Ok(())
}

/// Encrypts each share to its operator's key (one key per share).
fn encrypt_shares(
    shares: &[SecretBytes],
    keys: &[PgpRecipient],
) -> Result<Option<Vec<Vec<u8>>>, CoreError> {
    if keys.is_empty() {
        return Ok(None);
    }
    if keys.len() != shares.len() {
        return Err(CoreError::BadRequest(format!(
            "{} pgp_keys for {} shares: give one key per share",
            keys.len(),
            shares.len()
        )));
    }
    let out: Result<Vec<Vec<u8>>, SealError> = shares
        .iter()
        .zip(keys)
        .map(|(share, key)| pgp::encrypt_share(key, share))
        .collect();
    Ok(Some(out?))
}

/// The shares held between requests. Lives in [`Core`] behind a mutex;
/// reset on seal.
pub(crate) struct SealState {
    unseal: UnsealProgress,
    rekey: Option<RekeyState>,
    /// Root token generation (`sys/generate-root*`).
    pub(crate) generate_root: Option<super::generate_root::GenerateRootAttempt>,
}

impl SealState {
    pub(crate) fn new() -> Self {
        SealState {
            unseal: UnsealProgress::new(),
            rekey: None,
            generate_root: None,
        }
    }
}

/// An in-progress rekey: the new configuration and the old shares so far.
struct RekeyState {
    config: SealConfig,
    progress: UnsealProgress,
    /// `require_verification`: the new shares take effect only once a
    /// threshold of them is submitted to `sys/rekey/verify`.
    require_verification: bool,
    /// Set when the old shares are complete and verification is awaited.
    verification: Option<RekeyVerification>,
    /// `pgp_keys`: the new shares are handed out encrypted, one per key.
    pgp_keys: Vec<String>,
    /// `backup`: the encrypted shares are also kept (`sys/rekey/backup`).
    backup: bool,
}

/// A completed rekey waiting for the operator to prove they hold the new
/// shares: nothing is written until then (the old shares keep working).
struct RekeyVerification {
    new_key: SecretBytes,
    share_tag: String,
    progress: UnsealProgress,
}

/// Progress of the current unseal attempt (`sys/seal-status`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsealStatus {
    pub initialized: bool,
    pub sealed: bool,
    /// Threshold and number of shares of the current share set (0, 0
    /// before init).
    pub threshold: u8,
    pub shares: u8,
    /// Shares held (0 once unsealed).
    pub progress: usize,
    /// The attempt's nonce ("" when no share is held or once unsealed).
    pub nonce: String,
}

/// A rekey in progress, as `sys/rekey/init` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RekeyAttempt {
    pub nonce: String,
    /// The new share set's threshold and size.
    pub threshold: u8,
    pub shares: u8,
    /// Old shares held so far.
    pub progress: usize,
    pub verification_required: bool,
    /// Fingerprints of the `pgp_keys` the new shares go to, in order.
    pub pgp_fingerprints: Vec<String>,
    pub backup: bool,
}

/// `sys/rekey/init`'s view: whether a rekey is under way, and how many old
/// shares it needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RekeyStatus {
    pub attempt: Option<RekeyAttempt>,
    /// The current share set's threshold.
    pub required: u8,
}

/// What one old share submitted to a rekey did.
pub enum RekeyUpdate {
    /// Held; more are needed.
    Progress(RekeyStatus),
    /// The old shares were complete: the new shares, once. With
    /// `verification_nonce` set, nothing is written until they are verified.
    Complete {
        nonce: String,
        shares: Vec<SecretBytes>,
        verification_nonce: Option<String>,
        /// With `pgp_keys`: the shares encrypted, to hand out instead.
        encrypted: Option<Vec<Vec<u8>>>,
        pgp_fingerprints: Vec<String>,
        backup: bool,
    },
}

/// The verification of a rekey's new shares (`sys/rekey/verify`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RekeyVerifyStatus {
    pub nonce: String,
    pub threshold: u8,
    pub shares: u8,
    /// New shares held so far.
    pub progress: usize,
}

/// What one new share submitted to the verification did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RekeyVerifyUpdate {
    Progress(RekeyVerifyStatus),
    /// The rekey took effect; the old shares no longer open the vault.
    Complete {
        nonce: String,
    },
}

fn bad(m: &str) -> CoreError {
    CoreError::BadRequest(m.to_string())
}

const REKEY_WRONG_KEY: &str =
    "rekey failed: the key shares do not form this vault's unseal key; rekey cancelled";

impl Core {
    pub(crate) fn seal_state(&self) -> std::sync::MutexGuard<'_, SealState> {
        self.seal_state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Initializes the vault: unseal key, shares, keyring, root token.
    /// Leaves the vault sealed, as Vault does.
    ///
    /// Crash-safe: the seal record is written first marked "initializing"
    /// and switched to "initialized" by one write once the root token
    /// exists; a crash before that switch leaves a store that `sys/init`
    /// may initialize again (nobody ever received its shares). A store that
    /// holds anything else is refused.
    pub fn initialize(&self, config: SealConfig) -> Result<InitResult, CoreError> {
        self.initialize_with_pgp(config, &[])
    }

    /// [`Core::initialize`], with each share encrypted to one of `pgp_keys`
    /// (one per share) before anything is written: a key that cannot be
    /// used leaves the vault uninitialized.
    pub fn initialize_with_pgp(
        &self,
        config: SealConfig,
        pgp_keys: &[PgpRecipient],
    ) -> Result<InitResult, CoreError> {
        let _init = self.init_lock.lock().unwrap_or_else(|p| p.into_inner());
        if self.barrier.is_initialized()? {
            return Err(BarrierError::AlreadyInitialized.into());
        }
        if let Some(ha) = &self.ha {
            // Writing needs the lock; sealing below gives it back.
            ha.acquire_for_init(self.config.api_addr.as_deref().unwrap_or_default())?;
        }
        let key = seal::new_unseal_key();
        let shares = seal::split(&key, &config)?;
        let encrypted = encrypt_shares(&shares, pgp_keys)?;
        let tag = shares.first().map(seal::share_set_tag);
        self.barrier.initialize_for_shares(&key, &config, tag)?;
        let result = self.post_unseal().and_then(|active| {
            let (token, _) = active
                .tokens
                .create(TokenParams {
                    policies: vec!["root".into()],
                    display_name: "root".into(),
                    path: "auth/token/root".into(),
                    ..TokenParams::default()
                })
                .map_err(state::token_err)?;
            self.barrier.mark_initialized()?;
            Ok(token)
        });
        self.seal();
        Ok(InitResult {
            shares,
            encrypted,
            root_token: result?,
        })
    }

    /// The configuration of the share set `share` belongs to; a share of
    /// no share set of this vault is refused (400) before any combining.
    fn config_for_share(&self, share: &SecretBytes) -> Result<SealConfig, CoreError> {
        if !self.barrier.is_initialized()? {
            return Err(CoreError::NotInitialized);
        }
        self.barrier
            .config_for_share(&seal::share_set_tag(share))?
            .ok_or_else(|| SealError::WrongShare.into())
    }

    /// Submits one unseal share; unseals once the threshold is met.
    pub fn submit_unseal_share(&self, share: SecretBytes) -> Result<(), CoreError> {
        if !self.is_sealed() {
            return Ok(());
        }
        let config = self.config_for_share(&share)?;
        let key = {
            let mut st = self.seal_state();
            st.unseal.add(share, config.secret_threshold as usize)?
        };
        if let Some(key) = key {
            self.unseal_with_key(&key)?;
        }
        Ok(())
    }

    /// Unseals with the full unseal key (dev mode and tests).
    pub fn unseal_with_key(&self, key: &SecretBytes) -> Result<(), CoreError> {
        match self.barrier.unseal(key) {
            Ok(UnsealedWith::Current) => {}
            Ok(UnsealedWith::Previous) => tracing::warn!(
                "unsealed with the key shares from before the last rekey: the new shares \
                 have not been used yet, so both share sets open the vault until they are"
            ),
            Err(BarrierError::Crypto) => return Err(SealError::KeyMismatch.into()),
            Err(e) => return Err(e.into()),
        }
        if self.ha.is_some() {
            // A standby until its HA loop takes the lock.
            self.start_standby();
            return Ok(());
        }
        if let Err(e) = self.post_unseal() {
            self.seal();
            return Err(e);
        }
        Ok(())
    }

    fn post_unseal(&self) -> Result<Arc<Active>, CoreError> {
        let active = Arc::new(Active::load(self)?);
        active.start();
        *self.active.write().unwrap_or_else(|p| p.into_inner()) = Some(active.clone());
        Ok(active)
    }

    /// Forgets held unseal shares.
    pub fn reset_unseal(&self) {
        self.seal_state().unseal.reset();
    }

    /// Seals: drops the unsealed state and every key, and forgets held
    /// shares (unseal and rekey alike).
    pub fn seal(&self) {
        self.ha_seal();
        if let Some(a) = self
            .active
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            a.stop();
        }
        self.barrier.seal();
        let mut st = self.seal_state();
        st.unseal.reset();
        st.rekey = None;
        st.generate_root = None;
    }

    /// Where the unseal stands.
    pub fn unseal_status(&self) -> Result<UnsealStatus, CoreError> {
        let initialized = self.barrier.is_initialized()?;
        let config = self.barrier.seal_config()?;
        let (threshold, shares) = config
            .map(|c| (c.secret_threshold, c.secret_shares))
            .unwrap_or((0, 0));
        let st = self.seal_state();
        let sealed = self.is_sealed();
        Ok(UnsealStatus {
            initialized,
            sealed,
            threshold,
            shares,
            progress: if sealed { st.unseal.progress() } else { 0 },
            nonce: if sealed { st.unseal.nonce() } else { "" }.to_string(),
        })
    }

    fn require_unsealed(&self) -> Result<(), CoreError> {
        if self.is_sealed() {
            return Err(CoreError::Sealed);
        }
        Ok(())
    }

    /// Where the rekey stands (the vault must be unsealed).
    pub fn rekey_status(&self) -> Result<RekeyStatus, CoreError> {
        self.require_unsealed()?;
        let config = self
            .barrier
            .seal_config()?
            .ok_or(CoreError::NotInitialized)?;
        let st = self.seal_state();
        Ok(RekeyStatus {
            attempt: st.rekey.as_ref().map(|r| RekeyAttempt {
                nonce: r.progress.attempt_nonce().to_string(),
                threshold: r.config.secret_threshold,
                shares: r.config.secret_shares,
                progress: r.progress.progress(),
                verification_required: r.require_verification,
                pgp_fingerprints: fingerprints(&r.pgp_keys),
                backup: r.backup,
            }),
            required: config.secret_threshold,
        })
    }

    /// Starts a rekey to the share set `config`; refused while one is under
    /// way.
    pub fn rekey_init(
        &self,
        config: SealConfig,
        require_verification: bool,
    ) -> Result<RekeyStatus, CoreError> {
        self.rekey_init_with_pgp(config, require_verification, Vec::new(), false)
    }

    /// [`Core::rekey_init`], the new shares to be encrypted to `pgp_keys`
    /// (one per share; checked now by encrypting a test message to each)
    /// and, with `backup`, kept encrypted for `sys/rekey/backup`.
    pub fn rekey_init_with_pgp(
        &self,
        config: SealConfig,
        require_verification: bool,
        pgp_keys: Vec<String>,
        backup: bool,
    ) -> Result<RekeyStatus, CoreError> {
        self.require_unsealed()?;
        check_pgp_keys(&pgp_keys, config.secret_shares as usize, backup)?;
        {
            let mut st = self.seal_state();
            if st.rekey.is_some() {
                return Err(bad("rekey already in progress"));
            }
            st.rekey = Some(RekeyState {
                config,
                progress: UnsealProgress::new(),
                require_verification,
                verification: None,
                pgp_keys,
                backup,
            });
        }
        self.rekey_status()
    }

    /// Cancels the rekey (and its verification, as Vault does).
    pub fn rekey_cancel(&self) -> Result<(), CoreError> {
        self.require_unsealed()?;
        self.seal_state().rekey = None;
        Ok(())
    }

    /// Submits one share of the current share set to the rekey `nonce`
    /// names. Once a threshold is held and forms this vault's unseal key,
    /// makes the new shares; writes them at once unless verification was
    /// required. A set of shares that does not form the unseal key cancels
    /// the rekey.
    pub fn rekey_update(&self, share: SecretBytes, nonce: &str) -> Result<RekeyUpdate, CoreError> {
        self.require_unsealed()?;
        // The share set the share belongs to (the current one, or the
        // previous one while the current shares are unused) sets the
        // threshold.
        let threshold = self.config_for_share(&share)?.secret_threshold as usize;
        let (unseal_key, config, nonce, pgp_keys, backup) = {
            let mut st = self.seal_state();
            let Some(r) = st.rekey.as_mut() else {
                return Err(bad("no rekey in progress"));
            };
            if r.verification.is_some() {
                return Err(bad(
                    "rekey is waiting for verification of the new shares (sys/rekey/verify)",
                ));
            }
            if !ct_eq(r.progress.attempt_nonce().as_bytes(), nonce.as_bytes()) {
                return Err(bad("incorrect nonce"));
            }
            let config = r.config.clone();
            let nonce = r.progress.attempt_nonce().to_string();
            let (pgp_keys, backup) = (r.pgp_keys.clone(), r.backup);
            match r.progress.add(share, threshold)? {
                None => {
                    drop(st);
                    return Ok(RekeyUpdate::Progress(self.rekey_status()?));
                }
                Some(k) => (k, config, nonce, pgp_keys, backup),
            }
        };
        if self.barrier.verify_unseal_key(&unseal_key).is_err() {
            self.seal_state().rekey = None;
            return Err(bad(REKEY_WRONG_KEY));
        }
        let new_key = seal::new_unseal_key();
        let shares = seal::split(&new_key, &config)?;
        let tag = shares.first().map(seal::share_set_tag);
        // Encrypted (and backed up) before anything changes: a failure here
        // leaves the old shares in force.
        let recipients = pgp::parse_keys(&pgp_keys)?;
        let encrypted = encrypt_shares(&shares, &recipients)?;
        let pgp_fingerprints: Vec<String> =
            recipients.iter().map(|r| r.fingerprint.clone()).collect();
        if backup {
            if let Some(enc) = &encrypted {
                self.write_rekey_backup(&nonce, &pgp_fingerprints, enc)?;
            }
        }
        {
            let mut st = self.seal_state();
            if let Some(r) = st.rekey.as_mut().filter(|r| r.require_verification) {
                // Nothing is written until the new shares are verified.
                let progress = UnsealProgress::new();
                let verification_nonce = progress.attempt_nonce().to_string();
                r.verification = Some(RekeyVerification {
                    new_key,
                    share_tag: tag.unwrap_or_default(),
                    progress,
                });
                return Ok(RekeyUpdate::Complete {
                    nonce,
                    shares,
                    verification_nonce: Some(verification_nonce),
                    encrypted,
                    pgp_fingerprints,
                    backup,
                });
            }
        }
        match self.barrier.rekey(&unseal_key, &new_key, &config, tag) {
            Ok(()) => {}
            Err(BarrierError::Crypto) => {
                self.seal_state().rekey = None;
                return Err(bad(REKEY_WRONG_KEY));
            }
            Err(e) => return Err(e.into()),
        }
        self.seal_state().rekey = None;
        Ok(RekeyUpdate::Complete {
            nonce,
            shares,
            verification_nonce: None,
            encrypted,
            pgp_fingerprints,
            backup,
        })
    }

    fn backup_view(&self) -> crate::barrier::StorageView {
        self.barrier.view(REKEY_BACKUP_VIEW)
    }

    /// Keeps the encrypted new shares of rekey `nonce` (Vault's
    /// `backup=true`): `{nonce, keys: {fingerprint: [hex message]}}`.
    fn write_rekey_backup(
        &self,
        nonce: &str,
        fingerprints: &[String],
        encrypted: &[Vec<u8>],
    ) -> Result<(), CoreError> {
        let mut keys = serde_json::Map::new();
        for (fp, msg) in fingerprints.iter().zip(encrypted) {
            let list = keys
                .entry(fp.clone())
                .or_insert_with(|| serde_json::Value::Array(Vec::new()));
            if let serde_json::Value::Array(a) = list {
                a.push(serde_json::Value::String(hex::encode(msg)));
            }
        }
        let body = serde_json::json!({"nonce": nonce, "keys": keys});
        self.backup_view().put_json(REKEY_BACKUP_KEY, &body)?;
        Ok(())
    }

    /// The kept encrypted shares of the last rekey with `backup`, if any
    /// (the vault must be unsealed).
    pub fn rekey_backup(&self) -> Result<Option<serde_json::Value>, CoreError> {
        self.require_unsealed()?;
        Ok(self.backup_view().get_json(REKEY_BACKUP_KEY)?)
    }

    /// Forgets the kept encrypted shares.
    pub fn delete_rekey_backup(&self) -> Result<(), CoreError> {
        self.require_unsealed()?;
        self.backup_view().delete(REKEY_BACKUP_KEY)?;
        Ok(())
    }

    /// Where the verification of the new shares stands.
    pub fn rekey_verify_status(&self) -> Result<RekeyVerifyStatus, CoreError> {
        self.require_unsealed()?;
        let st = self.seal_state();
        let Some((r, v)) = st
            .rekey
            .as_ref()
            .and_then(|r| r.verification.as_ref().map(|v| (r, v)))
        else {
            return Err(bad("no rekey verification in progress"));
        };
        Ok(RekeyVerifyStatus {
            nonce: v.progress.attempt_nonce().to_string(),
            threshold: r.config.secret_threshold,
            shares: r.config.secret_shares,
            progress: v.progress.progress(),
        })
    }

    /// Collects new shares; once a threshold of them rebuilds the new
    /// unseal key, the rekey takes effect (one write) and the old shares
    /// stop working.
    pub fn rekey_verify_update(
        &self,
        share: SecretBytes,
        nonce: &str,
    ) -> Result<RekeyVerifyUpdate, CoreError> {
        self.require_unsealed()?;
        let tag = seal::share_set_tag(&share);
        let (new_key, config, vnonce) = {
            let mut st = self.seal_state();
            let Some(r) = st.rekey.as_mut() else {
                return Err(bad("no rekey verification in progress"));
            };
            let config = r.config.clone();
            let Some(v) = r.verification.as_mut() else {
                return Err(bad("no rekey verification in progress"));
            };
            let vnonce = v.progress.attempt_nonce().to_string();
            if !ct_eq(vnonce.as_bytes(), nonce.as_bytes()) {
                return Err(bad("incorrect nonce"));
            }
            if !ct_eq(tag.as_bytes(), v.share_tag.as_bytes()) {
                return Err(SealError::WrongShare.into());
            }
            match v.progress.add(share, config.secret_threshold as usize)? {
                None => {
                    return Ok(RekeyVerifyUpdate::Progress(RekeyVerifyStatus {
                        nonce: vnonce,
                        threshold: config.secret_threshold,
                        shares: config.secret_shares,
                        progress: v.progress.progress(),
                    }));
                }
                Some(k) if k == v.new_key => {}
                Some(_) => return Err(SealError::KeyMismatch.into()),
            }
            let Some(done) = st.rekey.take().and_then(|r| r.verification) else {
                return Err(bad("no rekey verification in progress"));
            };
            (done.new_key, config, vnonce)
        };
        self.barrier.rekey_verified(&new_key, &config, Some(tag))?;
        Ok(RekeyVerifyUpdate::Complete { nonce: vnonce })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::barrier::Barrier;
    use crate::core::CoreConfig;
    use crate::physical::InmemBackend;

    fn initialized(shares: u64, threshold: u64) -> (Arc<Core>, Vec<SecretBytes>) {
        let core = Core::new(
            Barrier::new(Arc::new(InmemBackend::new())),
            CoreConfig::default(),
        );
        let init = core
            .initialize(SealConfig::new(shares, threshold).expect("config"))
            .expect("init");
        (core, init.shares)
    }

    fn unseal_with(core: &Core, shares: &[SecretBytes]) -> Result<(), CoreError> {
        core.reset_unseal();
        for s in shares {
            core.submit_unseal_share(s.clone())?;
        }
        Ok(())
    }

    #[test]
    fn unseal_progress_counts_shares_and_resets_on_seal() {
        let (core, shares) = initialized(3, 2);
        let st = core.unseal_status().expect("status");
        assert!(st.initialized && st.sealed);
        assert_eq!((st.threshold, st.shares, st.progress), (2, 3, 0));
        assert_eq!(st.nonce, "");
        core.submit_unseal_share(shares[0].clone()).expect("first");
        let st = core.unseal_status().expect("status");
        assert_eq!(st.progress, 1);
        assert!(!st.nonce.is_empty());
        core.submit_unseal_share(shares[2].clone()).expect("second");
        let st = core.unseal_status().expect("status");
        assert!(!st.sealed);
        assert_eq!((st.progress, st.nonce.as_str()), (0, ""));
        core.seal();
        core.submit_unseal_share(shares[1].clone())
            .expect("after seal");
        core.seal();
        assert_eq!(core.unseal_status().expect("status").progress, 0);
    }

    #[test]
    fn rekey_needs_an_unsealed_vault_and_one_attempt_at_a_time() {
        let (core, shares) = initialized(1, 1);
        let config = SealConfig::new(2, 2).expect("config");
        assert!(matches!(
            core.rekey_init(config.clone(), false),
            Err(CoreError::Sealed)
        ));
        assert!(matches!(core.rekey_status(), Err(CoreError::Sealed)));
        unseal_with(&core, &shares).expect("unseal");
        assert_eq!(core.rekey_status().expect("status").attempt, None);
        let st = core.rekey_init(config.clone(), false).expect("init");
        let attempt = st.attempt.expect("started");
        assert_eq!((attempt.threshold, attempt.shares, st.required), (2, 2, 1));
        assert!(core.rekey_init(config, false).is_err());
        core.rekey_cancel().expect("cancel");
        assert_eq!(core.rekey_status().expect("status").attempt, None);
        // Sealing forgets a rekey in progress.
        core.rekey_init(SealConfig::new(2, 2).expect("config"), false)
            .expect("init");
        core.seal();
        unseal_with(&core, &shares).expect("unseal");
        assert_eq!(core.rekey_status().expect("status").attempt, None);
    }

    #[test]
    fn rekey_without_verification_replaces_the_shares() {
        let (core, old) = initialized(3, 2);
        unseal_with(&core, &old[..2]).expect("unseal");
        let st = core
            .rekey_init(SealConfig::new(2, 2).expect("config"), false)
            .expect("init");
        let nonce = st.attempt.expect("started").nonce;
        assert!(core.rekey_update(old[0].clone(), "wrong nonce").is_err());
        let RekeyUpdate::Progress(st) = core.rekey_update(old[0].clone(), &nonce).expect("1")
        else {
            panic!("complete after one of two shares");
        };
        assert_eq!(st.attempt.expect("started").progress, 1);
        let RekeyUpdate::Complete {
            nonce: done_nonce,
            shares: new,
            verification_nonce: None,
            ..
        } = core.rekey_update(old[1].clone(), &nonce).expect("2")
        else {
            panic!("not complete, or awaiting a verification nobody asked for");
        };
        assert_eq!(done_nonce, nonce);
        assert_eq!(new.len(), 2);
        assert_eq!(core.rekey_status().expect("status").attempt, None);
        core.seal();
        unseal_with(&core, &new).expect("new shares unseal");
        core.seal();
        // Once the new shares were used, the old ones are retired.
        assert!(unseal_with(&core, &old[..2]).is_err());
        assert!(core.is_sealed());
    }

    #[test]
    fn rekey_with_verification_changes_nothing_until_the_new_shares_are_proven() {
        let (core, old) = initialized(1, 1);
        unseal_with(&core, &old).expect("unseal");
        let st = core
            .rekey_init(SealConfig::new(3, 2).expect("config"), true)
            .expect("init");
        assert!(st.attempt.as_ref().expect("started").verification_required);
        assert!(core.rekey_verify_status().is_err());
        let nonce = st.attempt.expect("started").nonce;
        let RekeyUpdate::Complete {
            shares: new,
            verification_nonce: Some(vnonce),
            ..
        } = core.rekey_update(old[0].clone(), &nonce).expect("update")
        else {
            panic!("no verification awaited");
        };
        // While verification is awaited, no more old shares are taken.
        assert!(core.rekey_update(old[0].clone(), &nonce).is_err());
        let v = core.rekey_verify_status().expect("verify status");
        assert_eq!((v.nonce.as_str(), v.progress), (vnonce.as_str(), 0));
        // An old share is not one of the new set.
        assert!(core.rekey_verify_update(old[0].clone(), &vnonce).is_err());
        assert!(core.rekey_verify_update(new[0].clone(), "wrong").is_err());
        let RekeyVerifyUpdate::Progress(v) = core
            .rekey_verify_update(new[0].clone(), &vnonce)
            .expect("first new share")
        else {
            panic!("complete after one of two shares");
        };
        assert_eq!(v.progress, 1);
        // Not written yet: the old share still opens the vault.
        core.seal();
        unseal_with(&core, &old).expect("old shares before verification");
        assert!(
            core.rekey_verify_status().is_err(),
            "seal forgets the rekey"
        );

        let nonce = core
            .rekey_init(SealConfig::new(3, 2).expect("config"), true)
            .expect("init")
            .attempt
            .expect("started")
            .nonce;
        let RekeyUpdate::Complete {
            shares: new,
            verification_nonce: Some(vnonce),
            ..
        } = core.rekey_update(old[0].clone(), &nonce).expect("update")
        else {
            panic!("no verification awaited");
        };
        core.rekey_verify_update(new[1].clone(), &vnonce)
            .expect("first");
        assert_eq!(
            core.rekey_verify_update(new[2].clone(), &vnonce)
                .expect("second"),
            RekeyVerifyUpdate::Complete { nonce: vnonce }
        );
        assert_eq!(core.rekey_status().expect("status").attempt, None);
        core.seal();
        // Verified: the old set is retired at once.
        assert!(unseal_with(&core, &old).is_err());
        unseal_with(&core, &new[..2]).expect("new shares");
    }
}
