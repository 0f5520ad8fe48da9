//! The background thread that revokes due leases while the vault is unsealed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Something that can revoke what is due (the unsealed core state).
pub trait Expirer: Send + Sync + 'static {
    /// Revokes every due lease; returns how many were handled.
    fn expire_due(&self) -> usize;
}

const TICK: Duration = Duration::from_millis(250);

/// Starts the ticker; it stops when `stop` is set or `target` is dropped.
pub fn spawn_ticker<T: Expirer>(target: Weak<T>, stop: Arc<AtomicBool>) {
    let spawned = std::thread::Builder::new()
        .name("vault-rs-expiration".into())
        .spawn(move || loop {
            std::thread::sleep(TICK);
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let Some(t) = target.upgrade() else { return };
            t.expire_due();
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the expiration thread");
    }
}
