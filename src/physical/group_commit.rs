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
    /// Flush number of the last failed flush and its error.
    failed: Option<(u64, PhysicalError)>,
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
                    Some((n, e)) if *n >= target => Err(e.clone()),
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
                st.failed = Some((mine, e.clone()));
            }
            self.done.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    /// Every event (insert, flush start, flush end, acknowledgement) gets a
    /// number from one counter, so their order is known exactly.
    #[test]
    fn concurrent_writers_share_flushes_that_started_after_their_insert() {
        const WRITERS: usize = 32;
        const ROUNDS: usize = 20;
        let gc = Arc::new(GroupCommit::default());
        let clock = Arc::new(AtomicU64::new(0));
        let flushes = Arc::new(Mutex::new(Vec::<(u64, u64)>::new()));
        let start = Arc::new(std::sync::Barrier::new(WRITERS));
        let mut handles = Vec::new();
        for _ in 0..WRITERS {
            let (gc, clock, flushes, start) =
                (gc.clone(), clock.clone(), flushes.clone(), start.clone());
            handles.push(std::thread::spawn(move || {
                start.wait();
                let mut writes = Vec::new();
                for _ in 0..ROUNDS {
                    let inserted = clock.fetch_add(1, Ordering::SeqCst);
                    gc.commit(|| {
                        let began = clock.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(1));
                        let ended = clock.fetch_add(1, Ordering::SeqCst);
                        flushes.lock().unwrap().push((began, ended));
                        Ok(())
                    })
                    .unwrap();
                    let acked = clock.fetch_add(1, Ordering::SeqCst);
                    writes.push((inserted, acked));
                }
                writes
            }));
        }
        let writes: Vec<(u64, u64)> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        let flushes = flushes.lock().unwrap().clone();
        // Flushes never overlap.
        let mut sorted = flushes.clone();
        sorted.sort();
        for pair in sorted.windows(2) {
            assert!(pair[0].1 < pair[1].0, "overlapping flushes {pair:?}");
        }
        // Each write is acknowledged after a flush that began after it.
        for (inserted, acked) in &writes {
            assert!(
                flushes
                    .iter()
                    .any(|(began, ended)| began > inserted && ended < acked),
                "write inserted at {inserted} acknowledged at {acked} without a later flush"
            );
        }
        // Batching: far fewer flushes than writes.
        let total = WRITERS * ROUNDS;
        assert!(
            flushes.len() * 4 <= total,
            "{} flushes for {total} writes",
            flushes.len()
        );
    }

    #[test]
    fn a_failed_flush_fails_its_writers() {
        let gc = GroupCommit::default();
        let err = gc.commit(|| Err(PhysicalError::Io("disk full".into())));
        assert!(err.is_err());
        assert!(gc.commit(|| Ok(())).is_ok());
    }
}
