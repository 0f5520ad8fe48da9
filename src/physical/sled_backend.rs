//! sled 0.34 on local disk, the default backend.
//!
//! sled does not persist an insert until `flush()`; every write here goes
//! through [`GroupCommit`] so it is acknowledged only after a flush that
//! started after the insert, and concurrent writers share that flush.

use std::path::Path;

use super::group_commit::GroupCommit;
use super::{next_child, Backend, PhysicalError, TxnOp};

pub struct SledBackend {
    db: sled::Db,
    commits: GroupCommit,
}

fn io(e: sled::Error) -> PhysicalError {
    PhysicalError::Io(e.to_string())
}

impl SledBackend {
    /// Opens (or creates) the database directory at `path`.
    pub fn open(path: &Path) -> Result<Self, PhysicalError> {
        let db = sled::Config::new()
            .path(path)
            .open()
            .map_err(|e| PhysicalError::Open(format!("{}: {e}", path.display())))?;
        Ok(SledBackend {
            db,
            commits: GroupCommit::default(),
        })
    }

    fn durable(&self) -> Result<(), PhysicalError> {
        self.commits
            .commit(|| self.db.flush().map(|_| ()).map_err(io))
    }

    fn keys_under(&self, prefix: &str) -> Result<Vec<String>, PhysicalError> {
        let mut out = Vec::new();
        for item in self.db.scan_prefix(prefix.as_bytes()) {
            let (k, _) = item.map_err(io)?;
            match String::from_utf8(k.to_vec()) {
                Ok(s) => out.push(s),
                Err(_) => return Err(PhysicalError::Io("non-UTF-8 key in storage".into())),
            }
        }
        Ok(out)
    }
}

impl Backend for SledBackend {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PhysicalError> {
        Ok(self.db.get(key.as_bytes()).map_err(io)?.map(|v| v.to_vec()))
    }

    fn put(&self, key: &str, value: &[u8]) -> Result<(), PhysicalError> {
        self.db.insert(key.as_bytes(), value).map_err(io)?;
        self.durable()
    }

    fn delete(&self, key: &str) -> Result<(), PhysicalError> {
        self.db.remove(key.as_bytes()).map_err(io)?;
        self.durable()
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, PhysicalError> {
        let mut out = Vec::new();
        let mut cursor = prefix.to_string();
        while let Some(item) = self.db.range(cursor.as_bytes()..).next() {
            let (k, _) = item.map_err(io)?;
            let key = std::str::from_utf8(&k)
                .map_err(|_| PhysicalError::Io("non-UTF-8 key in storage".into()))?;
            let Some((child, next)) = next_child(prefix, key) else {
                break;
            };
            out.push(child);
            cursor = next;
        }
        Ok(out)
    }

    fn scan(&self, prefix: &str) -> Result<Vec<String>, PhysicalError> {
        self.keys_under(prefix)
    }

    fn transaction(&self, ops: Vec<TxnOp>) -> Result<(), PhysicalError> {
        let mut batch = sled::Batch::default();
        for op in ops {
            match op {
                TxnOp::Put(k, v) => batch.insert(k.as_bytes(), v),
                TxnOp::Delete(k) => batch.remove(k.as_bytes()),
            }
        }
        self.db.apply_batch(batch).map_err(io)?;
        self.durable()
    }

    fn flush(&self) -> Result<(), PhysicalError> {
        self.db.flush().map(|_| ()).map_err(io)
    }

    fn kind(&self) -> &'static str {
        "sled"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformance() {
        let dirs = std::sync::Mutex::new(Vec::new());
        super::super::testing::run_all(&|| {
            let dir = tempfile::tempdir().unwrap();
            let b = SledBackend::open(dir.path()).unwrap();
            dirs.lock().unwrap().push(dir);
            Box::new(b)
        });
    }

    #[test]
    fn data_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let b = SledBackend::open(dir.path()).unwrap();
            b.put("a/b", b"v").unwrap();
        }
        let b = SledBackend::open(dir.path()).unwrap();
        assert_eq!(b.get("a/b").unwrap().as_deref(), Some(&b"v"[..]));
    }

    #[test]
    fn open_on_a_file_is_a_clear_error() {
        let f = tempfile::NamedTempFile::new().unwrap();
        let err = SledBackend::open(f.path()).err().unwrap();
        assert!(err.to_string().starts_with("cannot open storage"));
    }
}
