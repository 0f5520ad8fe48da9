//! `vault-rs operator snapshot …`: save a running vault's snapshot
//! (`GET sys/storage/snapshot`), restore one into it (`POST
//! sys/storage/snapshot`, or `snapshot-force` for another vault's) or
//! offline into a stopped server's data directory, and inspect a file.
//!
//! A snapshot holds the store as the barrier wrote it (still encrypted,
//! the seal record still wrapped by the unseal shares), so inspect and the
//! offline restore need no key or token; every restore checks the whole
//! file (format, SHA-256, signature, key order, a complete vault) before
//! anything is written. The file is written 0600, through a temporary
//! file renamed into place.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::json;
use vault_rs::barrier::snapshot::{self, Snapshot, SnapshotHeader};

use crate::client::Method;
use crate::commands::Context;
use crate::error::{CliError, CmdResult, EXIT_OK};

/// `operator snapshot <command>`.
#[derive(Subcommand)]
pub enum SnapshotCommand {
    /// Save a snapshot of the running vault to FILE (sudo).
    Save(SaveArgs),
    /// Print a snapshot's header (time, key term, entry count, checksum) after checking it.
    Inspect(InspectArgs),
    /// Restore a snapshot into the running vault (sudo; it is sealed
    /// after), or with --data-dir into a stopped server's storage.
    Restore(RestoreArgs),
}

/// `operator snapshot save FILE`.
#[derive(Args)]
pub struct SaveArgs {
    /// Where to write the snapshot (replaced if it exists).
    file: PathBuf,
}

/// `operator snapshot inspect FILE`.
#[derive(Args)]
pub struct InspectArgs {
    /// The snapshot file.
    file: PathBuf,
}

/// `operator snapshot restore FILE [--force | --data-dir DIR]`.
#[derive(Args)]
pub struct RestoreArgs {
    /// The snapshot file.
    file: PathBuf,
    /// Offline: the `path` of a stopped server's sled storage (the
    /// directory may be empty or new) instead of the running vault.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Accept a snapshot taken by another vault (the running vault's data
    /// is replaced by that vault's: unseal with its shares).
    #[arg(long, conflicts_with = "data_dir")]
    force: bool,
}

pub fn run(ctx: &Context, command: SnapshotCommand) -> CmdResult {
    match command {
        SnapshotCommand::Save(args) => save(ctx, &args.file),
        SnapshotCommand::Inspect(args) => inspect(ctx, &args.file),
        SnapshotCommand::Restore(args) => match &args.data_dir {
            Some(dir) => restore_offline(&args.file, dir),
            None => restore_online(ctx, &args.file, args.force),
        },
    }
}

fn read(file: &Path) -> Result<Snapshot, CliError> {
    let f = File::open(file)
        .map_err(|e| CliError::failed(format!("cannot open {}: {e}", file.display())))?;
    Snapshot::read(&mut BufReader::new(f))
        .map_err(|e| CliError::failed(format!("{}: {e}", file.display())))
}

fn print_header(ctx: &Context, header: &SnapshotHeader, entries: usize) {
    let info = &header.info;
    if !ctx.output.is_table() {
        let body = json!({
            "format_version": info.format_version,
            "created_time": info.created_time,
            "keyring_term": info.keyring_term,
            "storage_type": info.storage_type,
            "entry_count": entries,
            "body_bytes": info.body_bytes,
            "body_sha256": info.body_sha256,
            "public_key": info.public_key,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&body).unwrap_or_default()
        );
        return;
    }
    println!("Key               Value");
    println!("---               -----");
    println!("Format Version    {}", info.format_version);
    println!("Created Time      {}", info.created_time);
    println!("Keyring Term      {}", info.keyring_term);
    println!("Storage Type      {}", info.storage_type);
    println!("Entries           {entries}");
    println!("Body Bytes        {}", info.body_bytes);
    println!("SHA-256           {}", info.body_sha256);
    println!("Signing Key       {}", info.public_key);
}

fn inspect(ctx: &Context, file: &Path) -> CmdResult {
    let snap = read(file)?;
    print_header(ctx, &snap.header, snap.len());
    Ok(EXIT_OK)
}

fn save(ctx: &Context, file: &Path) -> CmdResult {
    let bytes = ctx
        .client()?
        .send_bytes(Method::Get, "sys/storage/snapshot", None)?;
    // Checked before it is kept: a damaged transfer is not a backup.
    let snap = Snapshot::read(&mut &bytes[..])
        .map_err(|e| CliError::failed(format!("the server sent an unusable snapshot: {e}")))?;
    write_private(file, &bytes)?;
    println!(
        "saved a snapshot of {} entries to {} (sha256 {})",
        snap.len(),
        file.display(),
        snap.header.info.body_sha256
    );
    Ok(EXIT_OK)
}

/// Writes `bytes` to `file` with mode 0600 via a temporary file in the
/// same directory, synced and renamed into place.
fn write_private(file: &Path, bytes: &[u8]) -> Result<(), CliError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let fail =
        |e: std::io::Error| CliError::failed(format!("cannot write {}: {e}", file.display()));
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = file
        .file_name()
        .ok_or_else(|| CliError::usage(format!("{} is not a file name", file.display())))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(".partial");
    let tmp = dir.join(tmp_name);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(fail)?;
    let written = f.write_all(bytes).and_then(|()| f.sync_all());
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e));
    }
    std::fs::rename(&tmp, file).map_err(fail)?;
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn restore_online(ctx: &Context, file: &Path, force: bool) -> CmdResult {
    // Checked here too, so a bad file is refused without a round trip.
    read(file)?;
    let bytes = std::fs::read(file)
        .map_err(|e| CliError::failed(format!("cannot read {}: {e}", file.display())))?;
    let path = if force {
        "sys/storage/snapshot-force"
    } else {
        "sys/storage/snapshot"
    };
    ctx.client()?.send_bytes(Method::Post, path, Some(bytes))?;
    println!(
        "snapshot restored; the vault is sealed: unseal it with the shares of the snapshot's vault"
    );
    Ok(EXIT_OK)
}

fn restore_offline(file: &Path, dir: &Path) -> CmdResult {
    let snap = read(file)?;
    let entries = snap.len();
    let backend = vault_rs::physical::SledBackend::open(dir).map_err(|e| {
        CliError::failed(format!(
            "cannot open storage at {} (is the server stopped?): {e}",
            dir.display()
        ))
    })?;
    snapshot::restore_offline(&backend, snap)
        .map_err(|e| CliError::failed(format!("restore into {} failed: {e}", dir.display())))?;
    println!(
        "restored {entries} entries into {}; start the server and unseal it with the shares of the snapshot's vault",
        dir.display()
    );
    Ok(EXIT_OK)
}
