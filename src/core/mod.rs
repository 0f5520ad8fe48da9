//! The core: the request pipeline and the vault's sealed/unsealed state.
//!
//! Owns: init, unseal progress, seal, and for every request the order
//! sealed? → token lookup → ACL check → route → backend → response. It
//! builds the unsealed state (mounts, token store, policies) from storage
//! and drops it (zeroizing keys) on seal.
//! Must not touch: HTTP types, physical storage (only through the barrier).

mod error;
pub mod metrics;
pub mod path;
#[cfg(test)]
mod path_props;
mod pipeline;
#[cfg(test)]
mod route_tables;
/// The pieces of the pipeline that system and auth handlers reuse.
pub(crate) mod pipeline_api {
    pub(crate) use super::pipeline::{authorize, Authenticated};
}
pub(crate) mod state;
pub(crate) mod sys_routes;
/// The wall-clock helpers, now in the backend contract ([`crate::sdk::time`]).
pub use crate::sdk::time;
mod wrapping;
/// The wrapping endpoints, for the system backend.
pub(crate) mod wrapping_api {
    pub(crate) use super::wrapping::handle;
}

use std::sync::{Arc, Mutex, RwLock};

/// The request/response contract lives in [`crate::sdk`]; re-exported here
/// for the pipeline and for callers of [`Core::handle`].
pub use crate::sdk::{AuthResponse, LeaseInfo, Operation, Request, Response};
pub use error::{ClientView, CoreError};
pub use state::Active;

use crate::auth::token::TokenParams;
use crate::barrier::Barrier;
use crate::crypto::{SecretBytes, SecretString};
use crate::seal::{self, SealConfig, UnsealProgress};

/// Settings the core needs from the server configuration.
#[derive(Clone, Debug)]
pub struct CoreConfig {
    pub default_lease_ttl: u64,
    pub max_lease_ttl: u64,
    pub cluster_name: String,
    /// Serve `sys/metrics` without a token (`telemetry` block).
    pub unauthenticated_metrics: bool,
    /// The address clients reach the vault at (`api_addr`): the issuer of
    /// identity tokens is `<api_addr>/v1/identity/oidc`.
    pub api_addr: Option<String>,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            default_lease_ttl: 768 * 3600,
            max_lease_ttl: 768 * 3600,
            cluster_name: "vault-rs".into(),
            unauthenticated_metrics: false,
            api_addr: None,
        }
    }
}

/// What `sys/init` returns, once.
pub struct InitResult {
    pub shares: Vec<SecretBytes>,
    pub root_token: SecretString,
}

/// An in-progress rekey: the new configuration and the old shares so far.
pub struct RekeyState {
    pub config: SealConfig,
    pub progress: UnsealProgress,
    /// `require_verification`: the new shares take effect only once a
    /// threshold of them is submitted to `sys/rekey/verify`.
    pub require_verification: bool,
    /// Set when the old shares are complete and verification is awaited.
    pub verification: Option<RekeyVerification>,
}

/// A completed rekey waiting for the operator to prove they hold the new
/// shares: nothing is written until then (the old shares keep working).
pub struct RekeyVerification {
    pub new_key: SecretBytes,
    pub share_tag: String,
    pub progress: UnsealProgress,
}

pub(crate) struct SealState {
    pub unseal: UnsealProgress,
    pub rekey: Option<RekeyState>,
}

/// The vault.
pub struct Core {
    barrier: Arc<Barrier>,
    config: CoreConfig,
    cluster_id: String,
    seal_state: Mutex<SealState>,
    /// Serialises `initialize` (two concurrent inits must not both succeed).
    init_lock: Mutex<()>,
    active: RwLock<Option<Arc<Active>>>,
    metrics: metrics::Metrics,
}

impl Core {
    pub fn new(barrier: Arc<Barrier>, config: CoreConfig) -> Arc<Core> {
        Arc::new(Core {
            barrier,
            config,
            cluster_id: uuid::Uuid::new_v4().to_string(),
            seal_state: Mutex::new(SealState {
                unseal: UnsealProgress::new(),
                rekey: None,
            }),
            init_lock: Mutex::new(()),
            active: RwLock::new(None),
            metrics: metrics::Metrics::default(),
        })
    }

    pub fn config(&self) -> &CoreConfig {
        &self.config
    }

    /// Request counters (updated by the HTTP layer).
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.metrics
    }

    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    pub fn barrier(&self) -> &Arc<Barrier> {
        &self.barrier
    }

    pub(crate) fn seal_state(&self) -> std::sync::MutexGuard<'_, SealState> {
        self.seal_state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The unsealed state, or [`CoreError::Sealed`].
    pub fn active(&self) -> Result<Arc<Active>, CoreError> {
        self.active
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or(CoreError::Sealed)
    }

    pub fn is_sealed(&self) -> bool {
        self.active
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_none()
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
        let _init = self.init_lock.lock().unwrap_or_else(|p| p.into_inner());
        if self.barrier.is_initialized()? {
            return Err(crate::barrier::BarrierError::AlreadyInitialized.into());
        }
        let key = seal::new_unseal_key();
        let shares = seal::split(&key, &config)?;
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
            root_token: result?,
        })
    }

    /// The configuration of the share set `share` belongs to; a share of
    /// no share set of this vault is refused (400) before any combining.
    pub(crate) fn config_for_share(&self, share: &SecretBytes) -> Result<SealConfig, CoreError> {
        if !self.barrier.is_initialized()? {
            return Err(CoreError::NotInitialized);
        }
        self.barrier
            .config_for_share(&seal::share_set_tag(share))?
            .ok_or_else(|| seal::SealError::WrongShare.into())
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
            Ok(crate::barrier::UnsealedWith::Current) => {}
            Ok(crate::barrier::UnsealedWith::Previous) => tracing::warn!(
                "unsealed with the key shares from before the last rekey: the new shares \
                 have not been used yet, so both share sets open the vault until they are"
            ),
            Err(crate::barrier::BarrierError::Crypto) => {
                return Err(seal::SealError::KeyMismatch.into())
            }
            Err(e) => return Err(e.into()),
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

    /// Seals: drops the unsealed state and every key.
    pub fn seal(&self) {
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
    }

    /// Creates a root token directly (dev mode: `--dev-root-token-id`).
    pub fn create_root_token(&self, id: Option<String>) -> Result<SecretString, CoreError> {
        let active = self.active()?;
        let (token, _) = active
            .tokens
            .create(TokenParams {
                policies: vec!["root".into()],
                display_name: "root".into(),
                path: "auth/token/root".into(),
                id,
                ..TokenParams::default()
            })
            .map_err(state::token_err)?;
        Ok(token)
    }

    /// Serves one request (blocking; call from a blocking context).
    pub fn handle(&self, req: Request) -> Result<Response, CoreError> {
        pipeline::handle(self, req)
    }

    /// Checks a request before its body is read (`req.data` is not
    /// consulted): `Err` is what [`Core::handle`] would answer anyway —
    /// the vault is sealed, or the path needs a token and `req` has no
    /// valid one — and the refusal is already in the audit log. `Ok` says
    /// nothing about the ACL: the request still goes through `handle`.
    /// Blocking (a token lookup reads storage).
    pub fn precheck(&self, req: &mut Request) -> Result<(), CoreError> {
        pipeline::precheck(self, req)
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        self.seal();
    }
}
