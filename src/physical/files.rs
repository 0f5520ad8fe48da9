//! Syncing sled's data directory with `fdatasync`/`fsync`.
//!
//! sled 0.34's `flush()` writes its log with `sync_file_range`, which
//! flushes neither the drive's write cache nor a growing file's metadata,
//! and never syncs the directory or its blob files. [`DataFiles::sync`]
//! runs after each flush: `fdatasync` of the log (`db`), `fsync` of every
//! file that appeared since the last sync (blobs, snapshots, `conf`) and of
//! the directories that gained entries.
//!
//! The log's descriptor stays open for the backend's lifetime: a writeback
//! error is reported once to each open descriptor, so a long-lived one sees
//! every error since the store was opened, even one sled's own background
//! `fsync` hit first.
//!
//! Owns: file descriptors and directory listings of the data directory.
//! Must not touch: file contents.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};

use super::integrity::sync_dir;

pub(crate) struct DataFiles {
    dir: PathBuf,
    log: File,
    top: BTreeSet<OsString>,
    blobs: BTreeSet<OsString>,
}

fn names(dir: &Path) -> std::io::Result<BTreeSet<OsString>> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.map(|e| e.file_name())).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(e) => Err(e),
    }
}

impl DataFiles {
    /// Opens the log of the sled directory `dir` and makes everything
    /// already in it durable.
    pub(crate) fn open(dir: &Path) -> std::io::Result<Self> {
        let log = File::open(dir.join("db"))?;
        let mut me = DataFiles {
            dir: dir.to_path_buf(),
            log,
            top: BTreeSet::new(),
            blobs: BTreeSet::new(),
        };
        me.sync()?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            // The data directory itself may just have been created.
            sync_dir(parent)?;
        }
        Ok(me)
    }

    /// Makes every write sled has flushed durable.
    pub(crate) fn sync(&mut self) -> std::io::Result<()> {
        self.log.sync_data()?;
        let blob_dir = self.dir.join("blobs");
        let blobs = names(&blob_dir)?;
        if blobs != self.blobs {
            for name in blobs.difference(&self.blobs) {
                match File::open(blob_dir.join(name)) {
                    Ok(f) => f.sync_all()?,
                    // Removed by sled's cleaner meanwhile.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            sync_dir(&blob_dir)?;
            self.blobs = blobs;
        }
        let top = names(&self.dir)?;
        if top != self.top {
            for name in top.difference(&self.top) {
                let path = self.dir.join(name);
                if path.is_file() {
                    match File::open(&path) {
                        Ok(f) => f.sync_all()?,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            sync_dir(&self.dir)?;
            self.top = top;
        }
        Ok(())
    }
}
