//! Group commit: concurrent writers share one flush.
//!
//! A writer that has inserted its data calls [`GroupCommit::commit`]; it
//! returns once a flush that *started after* the call has completed. If no
//! flush is running the caller runs one itself (the leader); otherwise it
//! waits, and the next leader's flush covers every writer that arrived
//! meanwhile. Durability costs one fsync per batch, not per request.

use std::sync::{Condvar, Mutex, MutexGuard};

use super::PhysicalError;

#[derive(Default)]
struct State {
    /// Number of flushes started so far.
    started: u64,
    /// Highest flush number finished so far.
    completed: u64,
    running: bool,
    /// Flush number of the last failed flush and its message.
    failed: Option<(u64, String)>,
}

#[derive(Default)]
pub(crate) struct GroupCommit {
    state: Mutex<State>,
    done: Condvar,
}

impl GroupCommit {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until a flush started after this call has finished, running
    /// `flush` as leader when nobody else is.
    pub(crate) fn commit<F>(&self, flush: F) -> Result<(), PhysicalError>
    where
        F: Fn() -> Result<(), PhysicalError>,
    {
        let mut st = self.lock();
        let target = st.started + 1;
        loop {
            if st.completed >= target {
                return match &st.failed {
                    Some((n, msg)) if *n >= target => Err(PhysicalError::Io(msg.clone())),
                    _ => Ok(()),
                };
            }
            if st.running {
                st = self.done.wait(st).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            st.running = true;
            st.started += 1;
            let mine = st.started;
            drop(st);
            let result = flush();
            st = self.lock();
            st.running = false;
            st.completed = mine;
            if let Err(e) = &result {
                st.failed = Some((mine, e.to_string()));
            }
            self.done.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn concurrent_writers_share_flushes() {
        let gc = Arc::new(GroupCommit::default());
        let flushes = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::new();
        for _ in 0..16 {
            let gc = gc.clone();
            let flushes = flushes.clone();
            handles.push(std::thread::spawn(move || {
                for _ in 0..50 {
                    gc.commit(|| {
                        flushes.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_micros(200));
                        Ok(())
                    })
                    .unwrap();
                }
            }));
        }
        for h in handles {
            h.join().unwrap();
        }
        let n = flushes.load(Ordering::SeqCst);
        assert!((1..=16 * 50).contains(&n), "flushes: {n}");
    }

    #[test]
    fn a_failed_flush_fails_its_writers() {
        let gc = GroupCommit::default();
        let err = gc.commit(|| Err(PhysicalError::Io("disk full".into())));
        assert!(err.is_err());
        assert!(gc.commit(|| Ok(())).is_ok());
    }
}
