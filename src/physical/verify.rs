//! Offline verification of a sled data directory, for
//! `vault-rs operator verify-storage` (the server must be stopped: sled
//! locks its log).
//!
//! Runs the checks the backend runs at open, plus reading every value, and
//! reports each one instead of stopping at the first failure.
//!
//! Owns: the report. Must not touch: values beyond counting their bytes;
//! it never writes an entry.

use std::path::Path;

use super::integrity::{self, FileState};
use super::sled_backend::{inspect, open_sled, DEFAULT_CACHE_CAPACITY};
use super::PhysicalError;

/// One check and its outcome.
#[derive(Debug, Clone)]
pub struct StorageCheck {
    /// What was checked.
    pub name: &'static str,
    /// Whether it passed.
    pub ok: bool,
    /// What was found.
    pub detail: String,
}

/// The outcome of [`verify_storage`].
#[derive(Debug, Clone, Default)]
pub struct StorageReport {
    pub checks: Vec<StorageCheck>,
}

impl StorageReport {
    /// True when every check passed.
    pub fn is_clean(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    fn push(&mut self, name: &'static str, outcome: Result<String, String>) -> bool {
        let ok = outcome.is_ok();
        let detail = match outcome {
            Ok(d) | Err(d) => d,
        };
        self.checks.push(StorageCheck { name, ok, detail });
        ok
    }
}

/// Checks the sled data directory `dir`. An error means it could not be
/// examined at all (missing, not a sled directory, in use).
pub fn verify_storage(dir: &Path) -> Result<StorageReport, PhysicalError> {
    if !dir.is_dir() {
        return Err(PhysicalError::Open(format!(
            "{}: not a directory",
            dir.display()
        )));
    }
    if !dir.join("db").is_file() {
        return Err(PhysicalError::Open(format!(
            "{}: not a sled data directory (no `db` file)",
            dir.display()
        )));
    }
    let mut report = StorageReport::default();
    report.push(
        "conf checksum",
        integrity::check_conf(dir)
            .map(|()| "sled's configuration file is intact".to_string())
            .map_err(|e| e.to_string()),
    );
    let file = match integrity::read_file(dir) {
        Ok(FileState::Absent) => {
            report.push(
                "integrity file",
                Ok("absent (a store from before the integrity file; the server creates it at its next start)".into()),
            );
            Some(FileState::Absent)
        }
        Ok(FileState::Valid(c, next)) => {
            report.push(
                "integrity file",
                Ok(format!(
                    "commit sequence {} with {} entries recorded as durable",
                    c.seq, c.entries
                )),
            );
            Some(FileState::Valid(c, next))
        }
        Err(e) => {
            report.push("integrity file", Err(e.to_string()));
            None
        }
    };
    let db = match open_sled(dir, DEFAULT_CACHE_CAPACITY) {
        Ok(db) => {
            report.push("sled opens", Ok("sled recovered its log".into()));
            db
        }
        Err(PhysicalError::Open(m)) if m.contains("could not acquire lock") => {
            return Err(PhysicalError::Open(format!(
                "{}: the store is in use; stop the server first",
                dir.display()
            )))
        }
        Err(e) => {
            report.push("sled opens", Err(e.to_string()));
            return Ok(report);
        }
    };
    let (record, counted) = match inspect(dir, &db, true) {
        Ok((record, counted, bytes)) => {
            report.push(
                "entries readable",
                Ok(format!("{counted} entries, {bytes} bytes of values")),
            );
            (record, counted)
        }
        Err(e) => {
            report.push("entries readable", Err(e.to_string()));
            return Ok(report);
        }
    };
    if let Some(file) = file {
        report.push(
            "commit sequence and entry count",
            integrity::compare(dir, record, counted, &file)
                .map(|c| {
                    format!(
                        "the store is at commit sequence {} with {} entries",
                        c.seq, c.entries
                    )
                })
                .map_err(|e| e.to_string()),
        );
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physical::{Backend, SledBackend};

    #[test]
    fn a_clean_store_passes_and_a_damaged_one_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        {
            let b = SledBackend::open(&data).unwrap();
            for i in 0..50 {
                b.put(&format!("k/{i}"), &[i as u8; 40]).unwrap();
            }
        }
        let report = verify_storage(&data).unwrap();
        assert!(report.is_clean(), "{report:?}");
        assert!(report
            .checks
            .iter()
            .any(|c| c.detail.contains("50 entries")));
        // In use: refused, not reported as damage.
        {
            let _b = SledBackend::open(&data).unwrap();
            let err = verify_storage(&data).err().unwrap();
            assert!(err.to_string().contains("stop the server"), "{err}");
        }
        let failed = |data: &Path| -> Vec<&'static str> {
            let report = verify_storage(data).unwrap();
            assert!(!report.is_clean());
            report
                .checks
                .iter()
                .filter(|c| !c.ok)
                .map(|c| c.name)
                .collect()
        };
        // A missing integrity file.
        let saved = std::fs::read(integrity::file_path(&data)).unwrap();
        std::fs::remove_file(integrity::file_path(&data)).unwrap();
        assert_eq!(failed(&data), ["commit sequence and entry count"]);
        std::fs::write(integrity::file_path(&data), saved).unwrap();
        assert!(verify_storage(&data).unwrap().is_clean());
        // A damaged conf: sled cannot open it either.
        let conf = data.join("conf");
        let mut raw = std::fs::read(&conf).unwrap();
        raw[3] ^= 1;
        std::fs::write(&conf, raw).unwrap();
        assert_eq!(failed(&data), ["conf checksum", "sled opens"]);
    }
}
