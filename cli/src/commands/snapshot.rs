//! `vault-rs operator snapshot …`: inspect a snapshot file, and restore one
//! offline into a stopped server's data directory.
//!
//! A snapshot holds the store as the barrier wrote it (still encrypted,
//! the seal record still wrapped by the unseal shares), so neither command
//! needs a key or a token; both check the whole file (format, SHA-256,
//! signature, key order, a complete vault) before anything is written.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::json;
use vault_rs::barrier::snapshot::{self, Snapshot, SnapshotHeader};

use crate::commands::Context;
use crate::error::{CliError, CmdResult, EXIT_OK};

/// `operator snapshot <command>`.
#[derive(Subcommand)]
pub enum SnapshotCommand {
    /// Print a snapshot's header (time, key term, entry count, checksum) after checking it.
    Inspect(InspectArgs),
    /// Replace a stopped server's storage with a snapshot (offline).
    Restore(RestoreArgs),
}

/// `operator snapshot inspect FILE`.
#[derive(Args)]
pub struct InspectArgs {
    /// The snapshot file.
    file: PathBuf,
}

/// `operator snapshot restore FILE --data-dir DIR`.
#[derive(Args)]
pub struct RestoreArgs {
    /// The snapshot file.
    file: PathBuf,
    /// The `path` of the server's sled storage (the server must be stopped;
    /// the directory may be empty or new).
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
}

pub fn run(ctx: &Context, command: SnapshotCommand) -> CmdResult {
    match command {
        SnapshotCommand::Inspect(args) => inspect(ctx, &args.file),
        SnapshotCommand::Restore(args) => restore(&args.file, &args.data_dir),
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

fn restore(file: &Path, dir: &Path) -> CmdResult {
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
