//! Snapshots taken on schedule (`snapshot { interval, path, retain }` in
//! the server configuration), by the core's scheduler.
//!
//! Owns: when the next one is due, writing it as a file (mode 0600,
//! through a synced temporary file renamed into place, then the directory
//! synced) named `vault-rs-<unix seconds>.snap`, and deleting the oldest
//! beyond `retain`. The snapshot itself (format, signature, consistency)
//! is the barrier's. Must not touch: anything but its own directory.
//! A failure is logged and retried at the next interval; it never stops
//! the scheduler.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::barrier::Barrier;
use crate::config::SnapshotConfig;

const PREFIX: &str = "vault-rs-";
const SUFFIX: &str = ".snap";

/// The schedule of one unsealed state.
pub(crate) struct SnapshotSchedule {
    config: SnapshotConfig,
    /// Unix seconds when the next snapshot is due (the first: one interval
    /// after unseal).
    next: Mutex<Option<i64>>,
}

impl SnapshotSchedule {
    pub(crate) fn new(config: SnapshotConfig) -> SnapshotSchedule {
        SnapshotSchedule {
            config,
            next: Mutex::new(None),
        }
    }

    /// Called by every scheduler pass: takes a snapshot when one is due.
    /// Returns the file written, if any.
    pub(crate) fn run(&self, barrier: &Barrier, now: i64) -> Option<PathBuf> {
        let interval = i64::try_from(self.config.interval).unwrap_or(i64::MAX);
        {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let due = *next.get_or_insert(now.saturating_add(interval));
            if now < due {
                return None;
            }
            *next = Some(now.saturating_add(interval));
        }
        match write_snapshot(barrier, &self.config.path, now) {
            Ok(file) => {
                prune(&self.config.path, self.config.retain);
                tracing::info!(file = %file.display(), "scheduled snapshot written");
                Some(file)
            }
            Err(e) => {
                tracing::warn!(dir = %self.config.path.display(), error = %e, "scheduled snapshot failed");
                None
            }
        }
    }
}

fn write_snapshot(barrier: &Barrier, dir: &Path, now: i64) -> Result<PathBuf, String> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| e.to_string())?;
    let file = dir.join(format!("{PREFIX}{now:012}{SUFFIX}"));
    let tmp = dir.join(format!(".{PREFIX}{now:012}{SUFFIX}.partial"));
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| e.to_string())?;
        barrier.snapshot(&mut f).map_err(|e| e.to_string())?;
        f.flush().map_err(|e| e.to_string())?;
        f.sync_all().map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, &file).map_err(|e| e.to_string())?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| e.to_string())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(file)
}

/// The scheduled snapshots in `dir`, oldest first.
pub(crate) fn list(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(SUFFIX))
        })
        .collect();
    files.sort();
    files
}

fn prune(dir: &Path, retain: usize) {
    let files = list(dir);
    let excess = files.len().saturating_sub(retain);
    for old in &files[..excess] {
        if let Err(e) = std::fs::remove_file(old) {
            tracing::warn!(file = %old.display(), error = %e, "cannot delete an old snapshot");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::barrier::snapshot::Snapshot;
    use crate::physical::InmemBackend;
    use crate::seal::{new_unseal_key, SealConfig};
    use std::sync::Arc;

    #[test]
    fn due_snapshots_are_written_readable_and_pruned() {
        let barrier = Barrier::new(Arc::new(InmemBackend::new()));
        barrier
            .initialize(&new_unseal_key(), &SealConfig::new(1, 1).unwrap())
            .unwrap();
        barrier.mark_initialized().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snaps");
        let s = SnapshotSchedule::new(SnapshotConfig {
            interval: 60,
            path: path.clone(),
            retain: 2,
        });
        // Not due at unseal, nor before one interval.
        assert_eq!(s.run(&barrier, 1000), None);
        assert_eq!(s.run(&barrier, 1059), None);
        for t in [1060, 1120, 1180] {
            let f = s.run(&barrier, t).expect("due");
            let snap = Snapshot::read(&mut File::open(&f).unwrap()).unwrap();
            assert!(!snap.is_empty());
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        // Only the newest two remain.
        let names: Vec<String> = list(&path)
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            ["vault-rs-000000001120.snap", "vault-rs-000000001180.snap"]
        );
        // A sealed barrier fails the snapshot, logged, and the schedule goes on.
        barrier.seal();
        assert_eq!(s.run(&barrier, 1240), None);
        assert_eq!(list(&path).len(), 2);
    }
}
