//! Turning a [`Snapshot`] into what the command or systemd reads: env-file
//! lines (`NAME='value'`, shell-quoted, which systemd's `EnvironmentFile=`
//! and `sh`'s `.` both read back exactly), JSON, and 0600 files written
//! atomically (a temporary file in the same folder, then a rename).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::secrets::Snapshot;
use crate::error::CliError;

/// `value` in single quotes, each `'` written as `'\''`.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// One `NAME='value'` line per variable.
pub fn env_file(snapshot: &Snapshot) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::new());
    for (name, value) in &snapshot.env {
        let quoted = Zeroizing::new(shell_quote(value.expose()));
        out.push_str(name);
        out.push('=');
        out.push_str(&quoted);
        out.push('\n');
    }
    out
}

/// `{"NAME": "value", …}`, indented.
pub fn json(snapshot: &Snapshot) -> Result<Zeroizing<String>, CliError> {
    let map: Map<String, Value> = snapshot
        .env
        .iter()
        .map(|(name, value)| (name.clone(), Value::String(value.expose().to_owned())))
        .collect();
    let mut value = Value::Object(map);
    let text = serde_json::to_string_pretty(&value)
        .map_err(|error| CliError::failed(format!("cannot encode JSON: {error}")));
    if let Value::Object(map) = &mut value {
        for v in map.values_mut() {
            if let Value::String(s) = v {
                zeroize::Zeroize::zeroize(s);
            }
        }
    }
    Ok(Zeroizing::new(text?))
}

/// Writes every file of the snapshot (mode 0600).
pub fn write_files(snapshot: &Snapshot) -> Result<(), CliError> {
    for (dest, content) in &snapshot.files {
        write_private(dest, content.expose().as_bytes()).map_err(|error| {
            CliError::failed(format!("cannot write {}: {error}", dest.display()))
        })?;
    }
    Ok(())
}

/// Replaces `path` with `content`, mode 0600, atomically.
fn write_private(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(".{name}.vault-rs-{}.tmp", std::process::id()));
    let _ = fs::remove_file(&temporary);
    let result = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)
        .and_then(|mut file| {
            file.write_all(content)?;
            file.sync_all()
        })
        .and_then(|()| fs::rename(&temporary, path));
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::SecretString;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("plain"), "'plain'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(
            shell_quote("$HOME `x` \"q\"\nline"),
            "'$HOME `x` \"q\"\nline'"
        );
        let snap = Snapshot {
            env: vec![("A".into(), SecretString::new("x y".into()))],
            files: vec![],
        };
        assert_eq!(env_file(&snap).as_str(), "A='x y'\n");
        let j = json(&snap).map(|s| s.to_string()).unwrap_or_default();
        assert!(j.contains("\"A\": \"x y\""), "{j}");
    }

    #[test]
    fn files_are_private_and_replaced() {
        let dir = std::env::temp_dir().join(format!("vault-rs-exec-render-{}", std::process::id()));
        let _ = fs::create_dir_all(&dir);
        let path = dir.join("secret.txt");
        assert!(fs::write(&path, "old").is_ok());
        let snap = Snapshot {
            env: vec![],
            files: vec![(path.clone(), SecretString::new("new".into()))],
        };
        assert!(write_files(&snap).is_ok());
        assert_eq!(fs::read_to_string(&path).ok().as_deref(), Some("new"));
        let mode = fs::metadata(&path)
            .map(|m| m.permissions().mode() & 0o777)
            .ok();
        assert_eq!(mode, Some(0o600));
        let _ = fs::remove_dir_all(&dir);
    }
}
