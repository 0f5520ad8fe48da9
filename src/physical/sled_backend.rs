//! sled 0.34 on local disk, the default backend.
//!
//! Durability: sled does not persist an insert until `flush()`, and its
//! `flush()` only issues `sync_file_range`. Every write here is applied as
//! one sled batch, then goes through [`GroupCommit`]: the batch leader runs
//! sled's flush, then `fdatasync`/`fsync` of every file of the data
//! directory it touched ([`DataFiles`]), then records the commit in the
//! integrity file. A write is acknowledged only after all three, and
//! concurrent writers share them.
//!
//! Integrity: each batch also writes the commit record (sequence, entry
//! count); [`super::integrity`] compares it with the integrity file at open
//! and refuses a damaged or truncated store.
//!
//! Failures: sled makes any I/O error sticky until it is reopened. A failed
//! sled write or flush (a full disk) degrades the backend: writes fail,
//! reads keep working and see the last durable value of every key the
//! failed writes touched; the next write once enough space is free reopens
//! sled in place, checks it against the integrity file and writes back the
//! durable values of those keys, so a write answered with an error is not
//! performed. A failed sync of the data files is different: data the kernel
//! had accepted may be lost, so the backend refuses every write until the
//! process restarts (fsync errors are not retried).
//!
//! Owns: the sled handle, the write ordering, the health state. Must not
//! touch: values (opaque bytes), keys' meaning, any layer above.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, RwLock};
use std::time::Duration;

use sled::IVec;

use super::files::DataFiles;
use super::group_commit::GroupCommit;
use super::integrity::{self, Commit, FileState, IntegrityFile, RECORD_KEY};
use super::{next_child, Backend, PhysicalError, TxnOp};

/// Free space needed before a degraded backend reopens sled: sled writes a
/// segment and a snapshot while opening.
const MIN_FREE_TO_REOPEN: u64 = 8 << 20;

/// One write of a batch: `None` deletes.
type Op = (Vec<u8>, Option<Vec<u8>>);

/// The values keys had before a batch changed them (`None`: absent).
type Before = Vec<(Vec<u8>, Option<IVec>)>;

pub struct SledBackend {
    dir: PathBuf,
    /// Bytes of sled's page cache (kept for reopening).
    cache_capacity: u64,
    engine: RwLock<Option<sled::Db>>,
    writer: Mutex<Writer>,
    files: Mutex<Files>,
    health: Mutex<Health>,
    commits: GroupCommit,
}

struct Files {
    data: DataFiles,
    integrity: IntegrityFile,
}

/// The write side: the last applied commit and, per commit not yet durable,
/// the previous values of the keys it touched.
struct Writer {
    commit: Commit,
    pending: BTreeMap<u64, Before>,
}

#[derive(Clone)]
enum Health {
    Healthy,
    /// A sled write or flush failed; recoverable by reopening.
    Degraded(String),
    /// A sync of the data files failed; writes refused until restart.
    Failed(String),
}

fn io(e: sled::Error) -> PhysicalError {
    PhysicalError::Io(e.to_string())
}

/// The message of `e` without its kind's prefix.
fn detail(e: &PhysicalError) -> String {
    match e {
        PhysicalError::Io(m)
        | PhysicalError::Open(m)
        | PhysicalError::Failed(m)
        | PhysicalError::Corrupt(m) => m.clone(),
        other => other.to_string(),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn utf8(k: &[u8]) -> Result<&str, PhysicalError> {
    std::str::from_utf8(k).map_err(|_| PhysicalError::Io("non-UTF-8 key in storage".into()))
}

/// Default bytes of sled's page cache (sled's own default is 1 GiB).
pub const DEFAULT_CACHE_CAPACITY: u64 = 64 * 1024 * 1024;

/// Opens sled at `dir` with a `cache_capacity`-byte page cache. sled's own
/// errors are reported with the directory; a panic inside sled's recovery
/// (which happens on some damaged logs) is reported as damage.
pub(crate) fn open_sled(dir: &Path, cache_capacity: u64) -> Result<sled::Db, PhysicalError> {
    let name = dir.display();
    let opened = std::panic::catch_unwind(AssertUnwindSafe(|| {
        sled::Config::new()
            .path(dir)
            .cache_capacity(cache_capacity)
            .open()
    }));
    match opened {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(sled::Error::Corruption { .. })) => Err(PhysicalError::Corrupt(format!(
            "{name}: sled reports a corrupt log (check: sled recovery)"
        ))),
        Ok(Err(e)) => Err(PhysicalError::Open(format!("{name}: {e}"))),
        Err(_) => Err(PhysicalError::Corrupt(format!(
            "{name}: sled failed while recovering its log (check: sled recovery)"
        ))),
    }
}

/// The commit record of `db` and the number of entries it holds, reading
/// every key (and, with `values`, every value).
pub(crate) fn inspect(
    dir: &Path,
    db: &sled::Db,
    values: bool,
) -> Result<(Option<Commit>, u64, u64), PhysicalError> {
    let damaged = |what: String| {
        PhysicalError::Corrupt(format!(
            "{}: {what} (check: entries readable)",
            dir.display()
        ))
    };
    let record = match db.get(RECORD_KEY) {
        Ok(None) => None,
        Ok(Some(raw)) => Some(
            Commit::decode(&raw)
                .ok_or_else(|| damaged("the commit record is malformed".to_string()))?,
        ),
        Err(e) => return Err(damaged(format!("sled cannot read the commit record: {e}"))),
    };
    let mut count = 0u64;
    let mut bytes = 0u64;
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        for item in db.iter() {
            let (k, v) = item.map_err(|e| damaged(format!("sled cannot read an entry: {e}")))?;
            if k.first() == Some(&0xFF) {
                continue;
            }
            if std::str::from_utf8(&k).is_err() {
                return Err(damaged("a key is not UTF-8".to_string()));
            }
            count += 1;
            if values {
                bytes += v.len() as u64;
            }
        }
        Ok(())
    }));
    match result {
        Ok(r) => r?,
        Err(_) => return Err(damaged("sled failed while reading entries".to_string())),
    }
    Ok((record, count, bytes))
}

impl SledBackend {
    /// Opens (or creates) the database directory at `path`, refusing it when
    /// it fails an integrity check; sled's page cache holds at most
    /// [`DEFAULT_CACHE_CAPACITY`] bytes.
    pub fn open(path: &Path) -> Result<Self, PhysicalError> {
        Self::open_with_cache(path, DEFAULT_CACHE_CAPACITY)
    }

    /// [`SledBackend::open`] with a page cache of `cache_capacity` bytes
    /// (the `cache_capacity` setting of the `sled` storage stanza).
    pub fn open_with_cache(path: &Path, cache_capacity: u64) -> Result<Self, PhysicalError> {
        if path.exists() && !path.is_dir() {
            return Err(PhysicalError::Open(format!(
                "{}: not a directory",
                path.display()
            )));
        }
        integrity::check_conf(path)?;
        let file_state = integrity::read_file(path)?;
        let db = open_sled(path, cache_capacity)?;
        let (record, counted, _) = inspect(path, &db, false)?;
        let commit = integrity::compare(path, record, counted, &file_state)?;
        let name = path.display();
        if record.is_none() {
            if counted > 0 {
                tracing::info!(
                    "storage at {name} has no commit record yet; recording {counted} entries"
                );
            }
            db.insert(RECORD_KEY, &commit.encode()[..]).map_err(io)?;
            db.flush().map_err(io)?;
        }
        let open_err = |e: std::io::Error| PhysicalError::Open(format!("{name}: {e}"));
        let data = DataFiles::open(path).map_err(open_err)?;
        let integrity = IntegrityFile::open(path, &file_state, commit).map_err(open_err)?;
        tracing::info!(
            "storage opened at {name}: commit sequence {}, {} entries",
            commit.seq,
            commit.entries
        );
        Ok(SledBackend {
            dir: path.to_path_buf(),
            cache_capacity,
            engine: RwLock::new(Some(db)),
            writer: Mutex::new(Writer {
                commit,
                pending: BTreeMap::new(),
            }),
            files: Mutex::new(Files { data, integrity }),
            health: Mutex::new(Health::Healthy),
            commits: GroupCommit::default(),
        })
    }

    fn health(&self) -> Health {
        lock(&self.health).clone()
    }

    /// A sled write or flush failed: refuse writes until sled is reopened.
    fn degrade(&self, why: String) {
        let mut h = lock(&self.health);
        if let Health::Healthy = *h {
            tracing::warn!(
                "storage write failed at {}: {why}; reads continue, writes resume once sled is reopened",
                self.dir.display()
            );
            *h = Health::Degraded(why);
        }
    }

    /// A sync failed: refuse every write until restart.
    fn fail(&self, why: String) -> PhysicalError {
        let mut h = lock(&self.health);
        if !matches!(*h, Health::Failed(_)) {
            tracing::error!(
                "storage sync failed at {}: {why}; data may be lost, refusing every write until restart",
                self.dir.display()
            );
            *h = Health::Failed(why.clone());
        }
        PhysicalError::Failed(why)
    }

    /// Ok when writes may proceed, reopening a degraded sled first.
    fn ensure_writable(&self) -> Result<(), PhysicalError> {
        match self.health() {
            Health::Healthy => Ok(()),
            Health::Failed(why) => Err(PhysicalError::Failed(why)),
            Health::Degraded(why) => self.recover(&why),
        }
    }

    /// Reopens sled after a failed write: sled keeps any I/O error until it
    /// is reopened. Every acknowledged write was synced, so the reopened
    /// store holds it; the integrity check proves that. The keys touched by
    /// writes that failed get their durable values back.
    fn recover(&self, why: &str) -> Result<(), PhysicalError> {
        let name = self.dir.display();
        let free = fs2::available_space(&self.dir).unwrap_or(0);
        if free < MIN_FREE_TO_REOPEN {
            return Err(PhysicalError::Io(format!(
                "writes are suspended after a failed write ({why}); they resume once {} MiB are free at {name}",
                MIN_FREE_TO_REOPEN >> 20
            )));
        }
        let mut engine = self.engine.write().unwrap_or_else(|p| p.into_inner());
        match self.health() {
            Health::Healthy => return Ok(()),
            Health::Failed(why) => return Err(PhysicalError::Failed(why)),
            Health::Degraded(_) => {}
        }
        let mut files = lock(&self.files);
        // A writeback error of anything written so far shows here.
        if let Err(e) = files.data.sync() {
            return Err(self.fail(format!("fdatasync of {name}/db: {e}")));
        }
        // sled holds a lock on its log until every handle is gone.
        *engine = None;
        let mut attempt = 0;
        let db = loop {
            match open_sled(&self.dir, self.cache_capacity) {
                Ok(db) => break db,
                Err(PhysicalError::Open(m)) if attempt < 20 => {
                    tracing::debug!("reopening storage: {m}");
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(PhysicalError::Corrupt(m)) => {
                    return Err(self.fail(format!("reopened store is damaged: {m}")))
                }
                Err(e) => return Err(e),
            }
        };
        let (record, counted, _) = inspect(&self.dir, &db, false)
            .map_err(|e| self.fail(format!("reopened store is damaged: {e}")))?;
        let durable = FileState::Valid(files.integrity.last(), 0);
        let commit = integrity::compare(&self.dir, record, counted, &durable)
            .map_err(|e| self.fail(format!("reopened store is damaged: {e}")))?;
        *engine = Some(db);
        let db = engine.as_ref().ok_or_else(|| self.unavailable())?;
        let mut w = lock(&self.writer);
        w.commit = commit;
        let mut seen = BTreeSet::new();
        let mut rollback: Vec<Op> = Vec::new();
        for before in w.pending.values() {
            for (k, v) in before {
                if seen.insert(k.clone()) {
                    rollback.push((k.clone(), v.as_ref().map(|v| v.to_vec())));
                }
            }
        }
        if !rollback.is_empty() {
            // On failure the backend stays degraded and keeps what it needs
            // to try again.
            apply(db, &mut w, rollback)?;
            db.flush().map_err(io)?;
            if let Err(e) = files.data.sync() {
                return Err(self.fail(format!("fdatasync of {name}/db: {e}")));
            }
        }
        if let Err(e) = files.integrity.record(w.commit) {
            return Err(self.fail(format!("integrity file of {name}: {e}")));
        }
        w.pending.clear();
        *lock(&self.health) = Health::Healthy;
        tracing::info!(
            "storage at {name} reopened after a failed write: commit sequence {}, writes resumed",
            w.commit.seq
        );
        Ok(())
    }

    /// Applies `ops` as one batch and waits until it is durable.
    fn write(&self, ops: Vec<Op>) -> Result<(), PhysicalError> {
        self.ensure_writable()?;
        let engine = self.engine.read().unwrap_or_else(|p| p.into_inner());
        let db = engine.as_ref().ok_or_else(|| self.unavailable())?;
        {
            let mut w = lock(&self.writer);
            if let Err(e) = apply(db, &mut w, ops) {
                self.degrade(detail(&e));
                return Err(e);
            }
        }
        self.commits.commit(|| self.sync_batch(db))
    }

    /// The group commit's flush: sled's flush, then the syncs, then the
    /// integrity file.
    fn sync_batch(&self, db: &sled::Db) -> Result<(), PhysicalError> {
        let target = lock(&self.writer).commit;
        if let Err(e) = db.flush() {
            let e = io(e);
            self.degrade(detail(&e));
            return Err(e);
        }
        let mut files = lock(&self.files);
        if let Err(e) = files.data.sync() {
            return Err(self.fail(format!("fdatasync of {}/db: {e}", self.dir.display())));
        }
        if let Err(e) = files.integrity.record(target) {
            return Err(self.fail(format!("integrity file of {}: {e}", self.dir.display())));
        }
        drop(files);
        let mut w = lock(&self.writer);
        w.pending = w.pending.split_off(&(target.seq + 1));
        Ok(())
    }

    fn unavailable(&self) -> PhysicalError {
        PhysicalError::Io(format!(
            "storage at {} is being reopened after a failed write",
            self.dir.display()
        ))
    }

    /// While writes are failing: the durable value of every key a failed
    /// (not yet rolled back) write touched.
    fn overlay(&self) -> Option<HashMap<Vec<u8>, Option<IVec>>> {
        if let Health::Healthy = self.health() {
            return None;
        }
        let w = lock(&self.writer);
        let mut map = HashMap::new();
        for before in w.pending.values() {
            for (k, v) in before {
                map.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        Some(map)
    }

    /// Runs `f` on the open sled, reopening it first if a recovery left it
    /// closed.
    fn read<T>(
        &self,
        f: impl Fn(&sled::Db) -> Result<T, PhysicalError>,
    ) -> Result<T, PhysicalError> {
        {
            let engine = self.engine.read().unwrap_or_else(|p| p.into_inner());
            if let Some(db) = engine.as_ref() {
                return f(db);
            }
        }
        self.ensure_writable()?;
        let engine = self.engine.read().unwrap_or_else(|p| p.into_inner());
        f(engine.as_ref().ok_or_else(|| self.unavailable())?)
    }

    /// Every key under `prefix`, as the durable state shows it.
    fn keys_under(&self, prefix: &str) -> Result<Vec<String>, PhysicalError> {
        let mut keys: BTreeSet<Vec<u8>> = self.read(|db| {
            let mut out = BTreeSet::new();
            for item in db.scan_prefix(prefix.as_bytes()) {
                let (k, _) = item.map_err(io)?;
                if k.first() != Some(&0xFF) {
                    out.insert(k.to_vec());
                }
            }
            Ok(out)
        })?;
        if let Some(overlay) = self.overlay() {
            for (k, v) in overlay {
                if !k.starts_with(prefix.as_bytes()) {
                    continue;
                }
                match v {
                    Some(_) => keys.insert(k),
                    None => keys.remove(&k),
                };
            }
        }
        keys.into_iter()
            .map(|k| utf8(&k).map(str::to_string))
            .collect()
    }
}

/// Applies `ops` and the next commit record as one sled batch, recording
/// the previous values of the keys in `w.pending`.
fn apply(db: &sled::Db, w: &mut Writer, ops: Vec<Op>) -> Result<(), PhysicalError> {
    let mut batch = sled::Batch::default();
    let mut exists: HashMap<Vec<u8>, bool> = HashMap::new();
    let mut before = Vec::new();
    let mut entries = w.commit.entries;
    for (k, v) in ops {
        let existed = match exists.get(&k) {
            Some(e) => *e,
            None => {
                let old = db.get(&k).map_err(io)?;
                let e = old.is_some();
                before.push((k.clone(), old));
                e
            }
        };
        match v {
            Some(v) => {
                if !existed {
                    entries += 1;
                }
                batch.insert(k.as_slice(), v);
                exists.insert(k, true);
            }
            None => {
                if existed {
                    entries -= 1;
                }
                batch.remove(k.as_slice());
                exists.insert(k, false);
            }
        }
    }
    let next = Commit {
        seq: w.commit.seq + 1,
        entries,
    };
    batch.insert(RECORD_KEY, &next.encode()[..]);
    w.pending.insert(next.seq, before);
    db.apply_batch(batch).map_err(io)?;
    w.commit = next;
    Ok(())
}

impl Backend for SledBackend {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PhysicalError> {
        if let Some(overlay) = self.overlay() {
            if let Some(v) = overlay.get(key.as_bytes()) {
                return Ok(v.as_ref().map(|v| v.to_vec()));
            }
        }
        self.read(|db| Ok(db.get(key.as_bytes()).map_err(io)?.map(|v| v.to_vec())))
    }

    fn put(&self, key: &str, value: &[u8]) -> Result<(), PhysicalError> {
        self.write(vec![(key.as_bytes().to_vec(), Some(value.to_vec()))])
    }

    fn delete(&self, key: &str) -> Result<(), PhysicalError> {
        self.write(vec![(key.as_bytes().to_vec(), None)])
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, PhysicalError> {
        if let Health::Healthy = self.health() {
            return self.read(|db| {
                let mut out = Vec::new();
                let mut cursor = prefix.to_string();
                while let Some(item) = db.range(cursor.as_bytes()..).next() {
                    let (k, _) = item.map_err(io)?;
                    if k.first() == Some(&0xFF) {
                        break;
                    }
                    let Some((child, next)) = next_child(prefix, utf8(&k)?) else {
                        break;
                    };
                    out.push(child);
                    cursor = next;
                }
                Ok(out)
            });
        }
        // Degraded: derive the children from the durable keys.
        let mut out: Vec<String> = Vec::new();
        for key in self.keys_under(prefix)? {
            if let Some((child, _)) = next_child(prefix, &key) {
                out.push(child);
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    fn scan(&self, prefix: &str) -> Result<Vec<String>, PhysicalError> {
        self.keys_under(prefix)
    }

    fn transaction(&self, ops: Vec<TxnOp>) -> Result<(), PhysicalError> {
        if ops.is_empty() {
            return self.ensure_writable();
        }
        self.write(
            ops.into_iter()
                .map(|op| match op {
                    TxnOp::Put(k, v) => (k.into_bytes(), Some(v)),
                    TxnOp::Delete(k) => (k.into_bytes(), None),
                })
                .collect(),
        )
    }

    fn flush(&self) -> Result<(), PhysicalError> {
        self.ensure_writable()?;
        let engine = self.engine.read().unwrap_or_else(|p| p.into_inner());
        let db = engine.as_ref().ok_or_else(|| self.unavailable())?;
        self.commits.commit(|| self.sync_batch(db))
    }

    fn kind(&self) -> &'static str {
        "sled"
    }

    /// Holds the writer (no batch is applied meanwhile) while copying every
    /// entry, then waits for a flush, so the copy is one commit's state and
    /// durable. Writers wait for the copy, not for the caller's use of it.
    fn export(&self) -> Result<Vec<(String, Vec<u8>)>, PhysicalError> {
        self.ensure_writable()?;
        let engine = self.engine.read().unwrap_or_else(|p| p.into_inner());
        let db = engine.as_ref().ok_or_else(|| self.unavailable())?;
        let entries = {
            let _writer = lock(&self.writer);
            let mut out = Vec::new();
            for item in db.iter() {
                let (k, v) = item.map_err(io)?;
                if k.first() == Some(&0xFF) {
                    continue;
                }
                out.push((utf8(&k)?.to_string(), v.to_vec()));
            }
            out
        };
        self.commits.commit(|| self.sync_batch(db))?;
        Ok(entries)
    }
}

#[cfg(test)]
mod tests;
