//! Integrity of the on-disk store: the commit record kept inside sled, the
//! `integrity` file beside it, and the check that compares them at open.
//!
//! Every sled batch written by [`super::SledBackend`] also writes the
//! commit record (a reserved key outside the UTF-8 key space): a sequence
//! number that grows by one per batch and the number of entries. After each
//! sync of the data files the same pair is written to the `integrity` file,
//! which holds two checksummed slots written alternately, so a torn write
//! leaves the other slot intact. At open, a store whose sequence is behind
//! the file, whose entry count differs from what it holds, or that looks
//! empty while the file says otherwise is refused: sled truncates its log at
//! a damaged record, and serving what is left would answer "not found" for
//! data that was lost.
//!
//! Owns: the record and file formats and the open-time comparison. Must not
//! touch: keys, values (only counted), or any layer above.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::PhysicalError;

/// The reserved sled key of the commit record. It starts with 0xFF, a byte
/// no UTF-8 string contains, so no backend key can collide with it and it
/// sorts after every one of them.
pub(crate) const RECORD_KEY: &[u8] = b"\xffvault-rs/commit";

/// Name of the integrity file inside the data directory.
pub(crate) const FILE_NAME: &str = "integrity";

const MAGIC: &[u8; 8] = b"VRSINTG1";
const SLOT_LEN: usize = 32;

/// The commit sequence and entry count of a store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Commit {
    pub(crate) seq: u64,
    pub(crate) entries: u64,
}

impl Commit {
    pub(crate) fn encode(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.seq.to_le_bytes());
        out[8..].copy_from_slice(&self.entries.to_le_bytes());
        out
    }

    pub(crate) fn decode(raw: &[u8]) -> Option<Commit> {
        if raw.len() != 16 {
            return None;
        }
        let seq = u64::from_le_bytes(raw[..8].try_into().ok()?);
        let entries = u64::from_le_bytes(raw[8..].try_into().ok()?);
        Some(Commit { seq, entries })
    }

    fn slot(&self) -> [u8; SLOT_LEN] {
        let mut out = [0u8; SLOT_LEN];
        out[..8].copy_from_slice(MAGIC);
        out[8..24].copy_from_slice(&self.encode());
        let crc = crc32fast::hash(&out[..24]);
        out[24..28].copy_from_slice(&crc.to_le_bytes());
        out
    }

    fn from_slot(raw: &[u8]) -> Option<Commit> {
        if raw.len() < 28 || &raw[..8] != MAGIC {
            return None;
        }
        let crc = u32::from_le_bytes(raw[24..28].try_into().ok()?);
        if crc32fast::hash(&raw[..24]) != crc {
            return None;
        }
        Commit::decode(&raw[8..24])
    }
}

/// The integrity file, open for writing.
pub(crate) struct IntegrityFile {
    file: File,
    next_slot: u64,
    last: Commit,
}

/// What the integrity file of a data directory says.
pub(crate) enum FileState {
    Absent,
    Valid(Commit, u64),
}

pub(crate) fn file_path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// Reads the integrity file: its newest valid slot and the slot to write
/// next. A file that exists but has no valid slot is damage, not absence.
pub(crate) fn read_file(dir: &Path) -> Result<FileState, PhysicalError> {
    let path = file_path(dir);
    let mut raw = Vec::new();
    match File::open(&path) {
        Ok(mut f) => f
            .read_to_end(&mut raw)
            .map_err(|e| PhysicalError::Io(format!("{}: {e}", path.display())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileState::Absent),
        Err(e) => return Err(PhysicalError::Open(format!("{}: {e}", path.display()))),
    };
    let slots: Vec<Option<Commit>> = (0..2)
        .map(|i| {
            raw.get(i * SLOT_LEN..(i + 1) * SLOT_LEN)
                .and_then(Commit::from_slot)
        })
        .collect();
    match (slots[0], slots[1]) {
        (None, None) => Err(PhysicalError::Corrupt(format!(
            "{}: the integrity file has no valid slot (check: integrity file checksum)",
            path.display()
        ))),
        (Some(a), None) => Ok(FileState::Valid(a, 1)),
        (None, Some(b)) => Ok(FileState::Valid(b, 0)),
        (Some(a), Some(b)) if a.seq >= b.seq => Ok(FileState::Valid(a, 1)),
        (Some(_), Some(b)) => Ok(FileState::Valid(b, 0)),
    }
}

impl IntegrityFile {
    /// Opens the file for writing, creating it (and syncing the directory)
    /// when absent, then records `commit` in it durably.
    pub(crate) fn open(dir: &Path, state: &FileState, commit: Commit) -> std::io::Result<Self> {
        let path = file_path(dir);
        let created = matches!(state, FileState::Absent);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        let (next_slot, last) = match state {
            FileState::Absent => (0, Commit::default()),
            FileState::Valid(c, next) => (*next, *c),
        };
        let mut me = IntegrityFile {
            file,
            next_slot,
            last,
        };
        if created {
            // Both slots, so the file never has a missing half.
            me.file.write_all_at(&commit.slot(), 0)?;
            me.file.write_all_at(&commit.slot(), SLOT_LEN as u64)?;
            me.file.sync_all()?;
            sync_dir(dir)?;
            me.last = commit;
        } else {
            me.record(commit)?;
        }
        Ok(me)
    }

    /// The commit last recorded.
    pub(crate) fn last(&self) -> Commit {
        self.last
    }

    /// Writes `commit` to the next slot and syncs it. Skips the write when
    /// nothing changed since the last one.
    pub(crate) fn record(&mut self, commit: Commit) -> std::io::Result<()> {
        if commit == self.last {
            return Ok(());
        }
        let offset = self.next_slot * SLOT_LEN as u64;
        self.file.write_all_at(&commit.slot(), offset)?;
        self.file.sync_data()?;
        self.next_slot ^= 1;
        self.last = commit;
        Ok(())
    }
}

/// Syncs a directory, making the creation and renames of its entries durable.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Checks sled's `conf` file before sled reads it: sled treats a short file
/// as absent (and rewrites it) and reports a damaged one as "created using a
/// sled version earlier than 0.29".
pub(crate) fn check_conf(dir: &Path) -> Result<(), PhysicalError> {
    let path = dir.join("conf");
    let raw = match std::fs::read(&path) {
        Ok(raw) => raw,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(PhysicalError::Open(format!("{}: {e}", path.display()))),
    };
    let corrupt = || {
        PhysicalError::Corrupt(format!(
            "{}: sled's configuration file is corrupt (check: conf checksum)",
            path.display()
        ))
    };
    if raw.len() <= 8 {
        return Err(corrupt());
    }
    let (body, crc) = raw.split_at(raw.len() - 4);
    let crc = u32::from_le_bytes(crc.try_into().map_err(|_| corrupt())?);
    if crc32fast::hash(body) != crc {
        return Err(corrupt());
    }
    Ok(())
}

/// Compares the commit record found in sled (and the entries counted) with
/// the integrity file. Returns the commit to continue from.
pub(crate) fn compare(
    dir: &Path,
    record: Option<Commit>,
    counted: u64,
    file: &FileState,
) -> Result<Commit, PhysicalError> {
    let name = dir.display();
    let refuse = |check: &str, detail: String| {
        Err(PhysicalError::Corrupt(format!(
            "{name}: {detail} (check: {check}); the data directory is damaged or truncated and is not opened; run `vault-rs operator verify-storage --data-dir {name}` and restore it from a backup"
        )))
    };
    match (record, file) {
        (None, FileState::Absent) => Ok(Commit {
            seq: 0,
            entries: counted,
        }),
        (Some(r), FileState::Absent) => refuse(
            "integrity file present",
            format!(
                "the store holds commit sequence {} but its integrity file is missing",
                r.seq
            ),
        ),
        (None, FileState::Valid(f, _)) if f.seq == 0 && counted == 0 => Ok(Commit::default()),
        (None, FileState::Valid(f, _)) if counted == 0 => refuse(
            "store empty",
            format!(
                "the store looks empty but the integrity file records commit sequence {} with {} entries",
                f.seq, f.entries
            ),
        ),
        (None, FileState::Valid(f, _)) => refuse(
            "commit record",
            format!(
                "the store's commit record is missing ({counted} entries readable, the integrity file records sequence {} with {} entries)",
                f.seq, f.entries
            ),
        ),
        (Some(r), FileState::Valid(f, _)) => {
            if r.seq < f.seq {
                return refuse(
                    "commit sequence",
                    format!(
                        "the store is at commit sequence {} but the integrity file records {} as durable: committed writes are missing",
                        r.seq, f.seq
                    ),
                );
            }
            if r.entries != counted {
                return refuse(
                    "entry count",
                    format!(
                        "the store's commit record counts {} entries but {counted} are present",
                        r.entries
                    ),
                );
            }
            if r.seq == f.seq && r.entries != f.entries {
                return refuse(
                    "entry count",
                    format!(
                        "at commit sequence {} the store counts {} entries but the integrity file records {}",
                        r.seq, r.entries, f.entries
                    ),
                );
            }
            Ok(r)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_slot_falls_back_to_the_other() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = IntegrityFile::open(
            dir.path(),
            &FileState::Absent,
            Commit { seq: 1, entries: 1 },
        )
        .unwrap();
        f.record(Commit { seq: 2, entries: 2 }).unwrap();
        f.record(Commit { seq: 3, entries: 3 }).unwrap();
        let FileState::Valid(c, next) = read_file(dir.path()).unwrap() else {
            panic!("absent")
        };
        assert_eq!(c.seq, 3);
        // Tear the newest slot: the older one is used.
        let path = file_path(dir.path());
        let mut raw = std::fs::read(&path).unwrap();
        let newest = (next ^ 1) as usize * SLOT_LEN;
        raw[newest + 10] ^= 0x40;
        std::fs::write(&path, &raw).unwrap();
        let FileState::Valid(c, _) = read_file(dir.path()).unwrap() else {
            panic!("absent")
        };
        assert_eq!(c, Commit { seq: 2, entries: 2 });
        // Both torn: damage, not absence.
        std::fs::write(&path, [0u8; 64]).unwrap();
        let err = read_file(dir.path()).err().unwrap();
        assert!(err.to_string().contains("no valid slot"), "{err}");
    }

    #[test]
    fn compare_refuses_every_kind_of_loss() {
        let dir = Path::new("/data");
        let file = FileState::Valid(Commit { seq: 9, entries: 5 }, 0);
        let ok = compare(dir, Some(Commit { seq: 9, entries: 5 }), 5, &file).unwrap();
        assert_eq!(ok.seq, 9);
        // Ahead of the file (crash between the sled sync and the file write).
        compare(
            dir,
            Some(Commit {
                seq: 10,
                entries: 6,
            }),
            6,
            &file,
        )
        .unwrap();
        for (record, counted, check) in [
            (Some(Commit { seq: 8, entries: 5 }), 5, "commit sequence"),
            (Some(Commit { seq: 9, entries: 5 }), 4, "entry count"),
            (Some(Commit { seq: 9, entries: 4 }), 4, "entry count"),
            (None, 0, "store empty"),
            (None, 3, "commit record"),
        ] {
            let err = compare(dir, record, counted, &file)
                .err()
                .unwrap()
                .to_string();
            assert!(err.contains(check) && err.contains("/data"), "{err}");
        }
        let err = compare(
            dir,
            Some(Commit { seq: 1, entries: 0 }),
            0,
            &FileState::Absent,
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("integrity file is missing"));
    }
}
