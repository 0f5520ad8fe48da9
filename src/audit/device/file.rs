//! The `file` device: appends to a file opened with `O_APPEND`, never
//! rewrites it, and reopens it by name on SIGHUP (log rotation).
//!
//! Options: `file_path` (required; `stdout` writes to standard output and
//! `discard` drops everything, as Vault), `mode` (octal, default `0600`;
//! `0000` leaves the permissions alone; a mode that lets others write is
//! refused), `fsync` (`batch`, `always`, `never`).
//!
//! Durability: with `fsync` `batch` or `always`, written lines are
//! `fdatasync`ed before any entry among them is acknowledged, and every
//! time the file is opened (created, or reopened after a rotation or a
//! failure) its directory is `fsync`ed before anything is written to it,
//! so an acknowledged entry survives a power cut.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{stdout::StdoutSink, Sink, Tail};
use crate::audit::error::AuditError;

/// How far back the tail is searched for the last lines.
const TAIL_CHUNK: u64 = 64 * 1024;

pub(super) fn from_options(o: &BTreeMap<String, String>) -> Result<Box<dyn Sink>, AuditError> {
    let path = o
        .get("file_path")
        .or_else(|| o.get("path"))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| AuditError::BadRequest("file_path is required".into()))?;
    let mode = parse_mode(o.get("mode").map(|s| s.trim()))?;
    Ok(match path.as_str() {
        "stdout" => Box::new(StdoutSink::new()),
        "discard" => Box::new(Discard(false)),
        _ => Box::new(FileSink {
            path: PathBuf::from(path),
            mode,
            file: None,
        }),
    })
}

/// The `mode` option: octal permission bits, at most `0777` and not
/// writable by others (an audit log anyone may rewrite proves nothing);
/// `0000` leaves the permissions alone; default `0600`.
fn parse_mode(m: Option<&str>) -> Result<Option<u32>, AuditError> {
    let m = match m {
        None | Some("") => return Ok(Some(0o600)),
        Some(m) => m,
    };
    let digits = m.strip_prefix("0o").unwrap_or(m);
    let v = if !digits.is_empty()
        && digits.len() <= 4
        && digits.bytes().all(|b| (b'0'..=b'7').contains(&b))
    {
        u32::from_str_radix(digits, 8).ok()
    } else {
        None
    };
    match v {
        Some(0) => Ok(None),
        Some(v) if v <= 0o777 && v & 0o002 == 0 => Ok(Some(v)),
        Some(v) if v <= 0o777 => Err(AuditError::BadRequest(format!(
            "option \"mode\": {v:04o} lets any user write the audit log; use a mode without the others' write bit, like 0600"
        ))),
        _ => Err(AuditError::BadRequest(
            "option \"mode\" must be an octal file mode like 0600 (at most 0777)".into(),
        )),
    }
}

/// Syncs the directory holding `path`, so that a file just created there
/// (or renamed into it) is still there after a power cut.
fn sync_parent(path: &Path) -> io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent)?.sync_all()
}

/// An append-only file.
pub(crate) struct FileSink {
    path: PathBuf,
    mode: Option<u32>,
    file: Option<File>,
}

impl Sink for FileSink {
    fn open(&mut self) -> io::Result<()> {
        let mut oo = OpenOptions::new();
        oo.read(true).append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            oo.mode(self.mode.unwrap_or(0o600));
        }
        let file = oo.open(&self.path)?;
        #[cfg(unix)]
        if let Some(mode) = self.mode {
            use std::os::unix::fs::PermissionsExt;
            let meta = file.metadata()?;
            if meta.is_file() && meta.permissions().mode() & 0o777 != mode {
                file.set_permissions(std::fs::Permissions::from_mode(mode))?;
            }
        }
        // The file may have just been created, or be a new file after a
        // rotation: its directory entry must be durable before an entry
        // written to it is acknowledged.
        if file.metadata()?.is_file() {
            sync_parent(&self.path)?;
        }
        self.file = Some(file);
        Ok(())
    }

    fn is_open(&self) -> bool {
        self.file.is_some()
    }

    fn close(&mut self) {
        self.file = None;
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.write_all(buf),
            None => Err(io::Error::new(io::ErrorKind::NotConnected, "file not open")),
        }
    }

    fn sync(&mut self) -> io::Result<()> {
        match &self.file {
            // Character devices (/dev/null, /dev/full) cannot be synced.
            Some(f) if f.metadata()?.is_file() => f.sync_data(),
            Some(_) => Ok(()),
            None => Err(io::Error::new(io::ErrorKind::NotConnected, "file not open")),
        }
    }

    fn tail(&mut self) -> io::Result<Tail> {
        let Some(f) = &self.file else {
            return Ok(Tail::Unknown);
        };
        let meta = f.metadata()?;
        if !meta.is_file() {
            return Ok(Tail::Unknown);
        }
        read_tail(f, meta.len())
    }

    fn reopens(&self) -> bool {
        true
    }
}

/// Reads backwards from `len` until the last two lines are in hand.
#[cfg(unix)]
fn read_tail(f: &File, len: u64) -> io::Result<Tail> {
    use std::os::unix::fs::FileExt;
    if len == 0 {
        return Ok(Tail::Empty);
    }
    let mut start = len;
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let from = start.saturating_sub(TAIL_CHUNK);
        let mut chunk = vec![0u8; (start - from) as usize];
        f.read_exact_at(&mut chunk, from)?;
        chunk.extend_from_slice(&buf);
        buf = chunk;
        start = from;
        let newlines = buf.iter().filter(|&&b| b == b'\n').count();
        if start == 0 || newlines >= 3 {
            break;
        }
    }
    if start > 0 {
        // Drop the (possibly cut) first line: start at a line boundary.
        let cut = buf
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| i + 1)
            .unwrap_or(0);
        buf.drain(..cut);
    }
    Ok(tail_of(&buf))
}

#[cfg(not(unix))]
fn read_tail(_f: &File, len: u64) -> io::Result<Tail> {
    Ok(if len == 0 { Tail::Empty } else { Tail::Unknown })
}

/// The tail of `bytes`, which start at a line boundary.
pub(crate) fn tail_of(bytes: &[u8]) -> Tail {
    if bytes.is_empty() {
        return Tail::Empty;
    }
    let line_start = |b: &[u8]| {
        b.iter()
            .rposition(|&c| c == b'\n')
            .map(|i| i + 1)
            .unwrap_or(0)
    };
    if let Some(body) = bytes.strip_suffix(b"\n") {
        let s = line_start(body);
        return Tail::Complete(body[s..].to_vec());
    }
    let s = line_start(bytes);
    let partial = bytes[s..].to_vec();
    let before = (s > 0).then(|| {
        let b = &bytes[..s - 1];
        b[line_start(b)..].to_vec()
    });
    Tail::Partial { partial, before }
}

/// `file_path = "discard"`: accepts and drops everything.
struct Discard(bool);

impl Sink for Discard {
    fn open(&mut self) -> io::Result<()> {
        self.0 = true;
        Ok(())
    }
    fn is_open(&self) -> bool {
        self.0
    }
    fn close(&mut self) {
        self.0 = false;
    }
    fn write_all(&mut self, _buf: &[u8]) -> io::Result<()> {
        Ok(())
    }
    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails() {
        assert_eq!(tail_of(b""), Tail::Empty);
        assert_eq!(tail_of(b"a\nb\n"), Tail::Complete(b"b".to_vec()));
        assert_eq!(tail_of(b"a\n"), Tail::Complete(b"a".to_vec()));
        assert_eq!(
            tail_of(b"a\nb\nc"),
            Tail::Partial {
                partial: b"c".to_vec(),
                before: Some(b"b".to_vec())
            }
        );
        assert_eq!(
            tail_of(b"c"),
            Tail::Partial {
                partial: b"c".to_vec(),
                before: None
            }
        );
    }

    #[test]
    fn modes() {
        assert_eq!(parse_mode(None).unwrap(), Some(0o600));
        assert_eq!(parse_mode(Some("")).unwrap(), Some(0o600));
        assert_eq!(parse_mode(Some("0640")).unwrap(), Some(0o640));
        assert_eq!(parse_mode(Some("600")).unwrap(), Some(0o600));
        assert_eq!(parse_mode(Some("0000")).unwrap(), None);
        for bad in [
            "0777", "0666", "0002", "1777", "999", "0x1ff", "-1", "rw", "00600",
        ] {
            assert!(parse_mode(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn opening_creates_the_file_with_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.log");
        let mut s = FileSink {
            path: path.clone(),
            mode: Some(0o640),
            file: None,
        };
        s.open().unwrap();
        s.write_all(b"x\n").unwrap();
        s.sync().unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o640
        );
        // A file in a directory that does not exist cannot be opened.
        let mut missing = FileSink {
            path: dir.path().join("no/such/dir.log"),
            mode: None,
            file: None,
        };
        assert!(missing.open().is_err());
    }

    #[test]
    fn file_tail_reads_long_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let long = "x".repeat(200_000);
        std::fs::write(&path, format!("first\n{long}\nlast\n")).unwrap();
        let mut opts = BTreeMap::new();
        opts.insert("file_path".to_string(), path.display().to_string());
        let mut s = FileSink {
            path: path.clone(),
            mode: Some(0o600),
            file: None,
        };
        s.open().unwrap();
        assert_eq!(s.tail().unwrap(), Tail::Complete(b"last".to_vec()));
        std::fs::write(&path, format!("first\n{long}\npart")).unwrap();
        match s.tail().unwrap() {
            Tail::Partial { partial, before } => {
                assert_eq!(partial, b"part");
                assert_eq!(before.unwrap().len(), long.len());
            }
            other => panic!("{other:?}"),
        }
        assert!(from_options(&opts).is_ok());
        assert!(from_options(&BTreeMap::new()).is_err());
    }
}
