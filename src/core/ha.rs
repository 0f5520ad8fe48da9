//! High availability: one active node among several sharing storage
//! (PostgreSQL with `ha_enabled`), the others standby.
//!
//! Owns: the node's HA role (sealed, standby, active), the loop that takes,
//! renews and gives up the storage's HA lock ([`crate::barrier::HaLock`]),
//! the promotion of a standby (keyring re-read, then the whole unsealed
//! state — mounts, policies, tokens, leases, the scheduler — built afresh
//! from storage, so nothing another active changed is missed and no cache
//! is stale) and the demotion of an active (its unsealed state and
//! scheduler dropped before anything else may happen), step-down, and the
//! leader address standbys redirect to. Must not touch: HTTP types (the
//! HTTP layer asks [`Core::standby_redirect`]), physical storage (only the
//! lock through the barrier).
//!
//! Safety: an active renews its lock every [`HaLock::ttl`]/5; when a
//! renewal fails, or none has succeeded for half the TTL, it drops its
//! unsealed state at once and stops writing — before the lock can expire
//! and another node take it. Storage fences every write with the lock's
//! epoch besides, so even an active paused for longer than the TTL cannot
//! commit once it resumes.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::state::Active;
use super::{Core, CoreError};
use crate::barrier::{HaLock, LockHolder};

/// The HA state of a core on shared storage.
pub(crate) struct Ha {
    lock: Arc<dyn HaLock>,
    /// This process's id in the lock row.
    node_id: String,
    /// Unsealed (standby or active).
    unsealed: AtomicBool,
    /// Raised by every seal: a loop of an older generation stops.
    generation: AtomicU64,
    /// Held across every promotion, demotion and seal.
    transition: Mutex<()>,
    /// The active node as last read from the lock.
    leader: Mutex<Option<LockHolder>>,
    /// When this node became active (`sys/leader`'s `active_time`).
    active_since: Mutex<Option<time::OffsetDateTime>>,
    /// After a step-down, the lock is left to the others until then.
    quiet_until: Mutex<Option<Instant>>,
}

/// What `sys/leader` and `sys/health` show of the HA role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HaStatus {
    pub ha_enabled: bool,
    /// This node is the active one.
    pub is_self: bool,
    /// Unsealed but not active.
    pub standby: bool,
    /// The active node's `api_addr` ("" when unknown).
    pub leader_address: String,
    /// RFC 3339; the zero time unless this node is active.
    pub active_time: String,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `sys/` paths a standby serves itself; everything else is redirected.
const STANDBY_PATHS: [&str; 5] = [
    "sys/health",
    "sys/leader",
    "sys/seal-status",
    "sys/unseal",
    "sys/init",
];

impl Ha {
    pub(crate) fn new(lock: Arc<dyn HaLock>) -> Ha {
        Ha {
            lock,
            node_id: uuid::Uuid::new_v4().to_string(),
            unsealed: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            transition: Mutex::new(()),
            leader: Mutex::new(None),
            active_since: Mutex::new(None),
            quiet_until: Mutex::new(None),
        }
    }

    pub(crate) fn is_unsealed(&self) -> bool {
        self.unsealed.load(Ordering::SeqCst)
    }

    fn interval(&self) -> Duration {
        (self.lock.ttl() / 5).max(Duration::from_millis(200))
    }

    /// Takes the lock for a one-off write on a sealed node (`sys/init`):
    /// refused while another node is active.
    pub(crate) fn acquire_for_init(&self, api_addr: &str) -> Result<(), CoreError> {
        let taken = self
            .lock
            .try_acquire(&self.node_id, api_addr)
            .map_err(crate::barrier::BarrierError::from)?;
        match taken {
            Some(_) => Ok(()),
            None => Err(CoreError::BadRequest(
                "another node is active: initialize through it".into(),
            )),
        }
    }
}

impl Core {
    /// The HA role of this node (`ha_enabled: false` on single-node storage).
    pub fn ha_status(&self) -> HaStatus {
        let zero = "0001-01-01T00:00:00Z".to_string();
        let Some(ha) = &self.ha else {
            return HaStatus {
                ha_enabled: false,
                is_self: !self.is_sealed(),
                standby: false,
                leader_address: String::new(),
                active_time: zero,
            };
        };
        let is_self = self.active().is_ok();
        let leader_address = if is_self {
            self.config.api_addr.clone().unwrap_or_default()
        } else {
            lock(&ha.leader)
                .as_ref()
                .map(|l| l.api_addr.clone())
                .unwrap_or_default()
        };
        let active_time = lock(&ha.active_since)
            .filter(|_| is_self)
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or(zero);
        HaStatus {
            ha_enabled: true,
            is_self,
            standby: ha.is_unsealed() && !is_self,
            leader_address,
            active_time,
        }
    }

    /// For a standby: where a request on `path` must go instead
    /// (`Some(Ok(leader api_addr))`), or `Some(Err(()))` when no node is
    /// active; `None` when this node serves it.
    pub fn standby_redirect(&self, path: &str) -> Option<Result<String, ()>> {
        let ha = self.ha.as_ref()?;
        if !ha.is_unsealed() || self.active().is_ok() {
            return None;
        }
        let path = path.trim_end_matches('/');
        if STANDBY_PATHS.contains(&path) {
            return None;
        }
        Some(
            lock(&ha.leader)
                .as_ref()
                .filter(|l| l.holder != ha.node_id)
                .map(|l| l.api_addr.clone())
                .ok_or(()),
        )
    }

    /// HA: the unseal key was verified; this node becomes a standby and
    /// its loop competes for the lock.
    pub(crate) fn start_standby(&self) {
        let Some(ha) = &self.ha else { return };
        let generation = {
            let _t = lock(&ha.transition);
            ha.unsealed.store(true, Ordering::SeqCst);
            ha.generation.fetch_add(1, Ordering::SeqCst) + 1
        };
        let core = self.self_ref.clone();
        let spawned = std::thread::Builder::new()
            .name("ha-lock".into())
            .spawn(move || run(core, generation));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the HA loop: this node stays standby");
        }
    }

    /// HA part of sealing: stops the loop, drops the active state, gives
    /// the lock up. Returns the active state to stop, if any.
    pub(crate) fn ha_seal(&self) {
        let Some(ha) = &self.ha else { return };
        let _t = lock(&ha.transition);
        ha.generation.fetch_add(1, Ordering::SeqCst);
        ha.unsealed.store(false, Ordering::SeqCst);
        if let Some(a) = self.take_active() {
            a.stop();
        }
        if let Err(e) = ha.lock.release() {
            tracing::warn!(error = %e, "could not release the HA lock; it expires by itself");
        }
        *lock(&ha.active_since) = None;
    }

    /// `sys/step-down`: the active node gives up the lock and leaves it to
    /// the others for half a TTL, so another node takes over.
    pub fn step_down(&self) -> Result<(), CoreError> {
        let Some(ha) = &self.ha else {
            // Single node: nothing to hand over to (as Vault without HA).
            return Ok(());
        };
        // Long enough for the others' loops (every TTL/5) to take the lock,
        // short enough not to delay a later failover back to this node.
        *lock(&ha.quiet_until) = Some(Instant::now() + ha.lock.ttl() / 2);
        self.demote(ha, true);
        tracing::info!("stepped down: another node may take over");
        Ok(())
    }

    fn take_active(&self) -> Option<Arc<Active>> {
        self.active
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// Drops the active state (writes stop first), then releases or
    /// forgets the lock.
    fn demote(&self, ha: &Ha, release: bool) {
        let _t = lock(&ha.transition);
        if release {
            if let Err(e) = ha.lock.release() {
                tracing::warn!(error = %e, "could not release the HA lock; it expires by itself");
            }
        } else {
            ha.lock.forget();
        }
        if let Some(a) = self.take_active() {
            a.stop();
            tracing::warn!("no longer the active node: standing by");
        }
        *lock(&ha.active_since) = None;
    }

    /// Builds the unsealed state afresh from storage once the lock is held.
    fn promote(&self, ha: &Ha, generation: u64) -> Result<(), CoreError> {
        let _t = lock(&ha.transition);
        if ha.generation.load(Ordering::SeqCst) != generation {
            let _ = ha.lock.release();
            return Ok(());
        }
        let loaded = self
            .barrier
            .reload_keyring()
            .map_err(CoreError::from)
            .and_then(|()| Active::load(self));
        match loaded {
            Ok(active) => {
                let active = Arc::new(active);
                active.start();
                *self.active.write().unwrap_or_else(|p| p.into_inner()) = Some(active);
                *lock(&ha.active_since) = Some(time::OffsetDateTime::now_utc());
                tracing::info!("acquired the HA lock: this node is now active");
                Ok(())
            }
            Err(e) => {
                let _ = ha.lock.release();
                Err(e)
            }
        }
    }
}

/// The lock loop of one unseal (`generation`): stops when the vault is
/// sealed again or the core is dropped.
fn run(core: Weak<Core>, generation: u64) {
    let mut last_renewed: Option<Instant> = None;
    loop {
        let Some(c) = core.upgrade() else { return };
        let Some(ha) = &c.ha else { return };
        if ha.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        let interval = ha.interval();
        let api_addr = c.config.api_addr.clone().unwrap_or_default();
        if c.active().is_ok() {
            let started = Instant::now();
            match ha.lock.renew() {
                Ok(true) => last_renewed = Some(started),
                Ok(false) => {
                    tracing::warn!("the HA lock was lost");
                    c.demote(ha, false);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not renew the HA lock");
                    // Step down well before the lock can expire.
                    if last_renewed.is_none_or(|t| t.elapsed() >= ha.lock.ttl() / 2) {
                        c.demote(ha, false);
                    }
                }
            }
        } else {
            let quiet = lock(&ha.quiet_until).is_some_and(|t| Instant::now() < t);
            if !quiet {
                let started = Instant::now();
                match ha.lock.try_acquire(&ha.node_id, &api_addr) {
                    Ok(Some(_)) => {
                        last_renewed = Some(started);
                        if let Err(e) = c.promote(ha, generation) {
                            tracing::error!(error = %e, "could not take over as the active node");
                        }
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "could not reach the HA lock"),
                }
            }
            match ha.lock.holder() {
                Ok(h) => *lock(&ha.leader) = h,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the HA lock");
                    *lock(&ha.leader) = None;
                }
            }
        }
        drop(c);
        std::thread::sleep(interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::barrier::Barrier;
    use crate::core::{CoreConfig, Operation, Request};
    use crate::physical::pg_testing::TestPostgres;
    use crate::physical::PostgresBackend;
    use crate::seal::SealConfig;

    fn node(pg: &TestPostgres, table: &str, addr: &str) -> Arc<Core> {
        let backend = PostgresBackend::open(&pg.options(table, true)).expect("open");
        Core::new(
            Barrier::new(Arc::new(backend)),
            CoreConfig {
                api_addr: Some(addr.into()),
                ..CoreConfig::default()
            },
        )
    }

    fn wait_for(what: &str, f: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting: {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    #[test]
    fn a_standby_redirects_and_takes_over_with_fresh_state() {
        let Some(pg) = TestPostgres::start("core::ha::takeover") else {
            return;
        };
        let table = format!("ha_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let a = node(&pg, &table, "http://a:8200");
        let b = node(&pg, &table, "http://b:8200");
        let init = a
            .initialize(SealConfig::new(1, 1).expect("config"))
            .expect("init");
        let share = init.shares[0].clone();
        assert!(a.is_sealed());
        a.submit_unseal_share(share.clone()).expect("unseal a");
        wait_for("a active", || a.ha_status().is_self);
        b.submit_unseal_share(share.clone()).expect("unseal b");
        assert!(!b.is_sealed(), "a standby is unsealed");
        wait_for("b sees a", || {
            b.ha_status().leader_address == "http://a:8200"
        });
        let st = b.ha_status();
        assert!(st.ha_enabled && st.standby && !st.is_self);
        assert_eq!(
            b.standby_redirect("secret/data/x"),
            Some(Ok("http://a:8200".to_string()))
        );
        assert_eq!(b.standby_redirect("sys/health"), None);
        assert_eq!(a.standby_redirect("secret/data/x"), None);
        // The active rotates the keyring and issues a token; then hands over.
        a.barrier().rotate().expect("rotate");
        let mut create = Request::new(Operation::Update, "auth/token/create");
        create.client_token = Some(init.root_token.clone());
        let token = a
            .handle(create)
            .expect("create")
            .auth
            .expect("auth")
            .client_token;
        a.step_down().expect("step down");
        assert!(a.active().is_err(), "a stepped down at once");
        wait_for("b active", || b.ha_status().is_self);
        assert_eq!(b.barrier().key_status().expect("status").term, 2);
        let mut lookup = Request::new(Operation::Read, "auth/token/lookup-self");
        lookup.client_token = Some(token.clone());
        b.handle(lookup).expect("the new active knows the token");
        // A token revoked on the new active is refused there at once.
        let mut revoke = Request::new(Operation::Update, "auth/token/revoke-self");
        revoke.client_token = Some(token.clone());
        b.handle(revoke).expect("revoke");
        let mut again = Request::new(Operation::Read, "auth/token/lookup-self");
        again.client_token = Some(token);
        assert!(b.handle(again).is_err());
        wait_for("a sees b", || {
            a.ha_status().leader_address == "http://b:8200" && a.ha_status().standby
        });
        // Sealing the active hands over too.
        b.seal();
        wait_for("a active again", || a.ha_status().is_self);
        assert!(b.is_sealed());
    }
}
