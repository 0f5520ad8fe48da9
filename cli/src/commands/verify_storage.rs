//! `vault-rs operator verify-storage --data-dir DIR`: checks a stopped
//! server's sled data directory offline (sled opens, every entry reads, the
//! commit sequence and entry count match the integrity file) and reports
//! what is damaged. Exit 0 when clean, 1 otherwise. Needs no server, no
//! token and no unseal key; reads no value beyond counting its bytes.

use std::path::PathBuf;

use clap::Args;

use crate::error::{CliError, CmdResult, EXIT_OK};

/// `operator verify-storage`.
#[derive(Args)]
pub struct VerifyStorageArgs {
    /// The `path` of the server's sled storage (the server must be stopped).
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
}

pub fn run(args: VerifyStorageArgs) -> CmdResult {
    let dir = args.data_dir;
    let report = vault_rs::physical::verify_storage(&dir)
        .map_err(|e| CliError::failed(format!("cannot verify {}: {e}", dir.display())))?;
    for check in &report.checks {
        let mark = if check.ok { "ok" } else { "FAILED" };
        println!("{mark:<7}{}: {}", check.name, check.detail);
    }
    if report.is_clean() {
        println!("storage at {} is intact", dir.display());
        Ok(EXIT_OK)
    } else {
        let failed: Vec<&str> = report
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.name)
            .collect();
        Err(CliError::failed(format!(
            "storage at {} is damaged (failed: {}); restore it from a backup",
            dir.display(),
            failed.join(", ")
        )))
    }
}
