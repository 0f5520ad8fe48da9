//! The declared special routes of the system backend (`sys/`) and of the
//! token store (`auth/token/`): which of their paths are root-protected
//! (`sudo`) and which `sys/` paths the pipeline serves without a token
//! (response unwrapping). Vault calls these the backends' special paths.
//!
//! Owns: the two tables ([`SYS`], [`TOKEN`]) and the decisions read from
//! them ([`sys_sudo`], [`token_sudo`], [`sys_unauthenticated`]). The ACL
//! check of `sys/` and `auth/token/` requests asks here whether `sudo` is
//! needed. Must not touch: the handlers themselves; a row names paths, it
//! serves nothing. Patterns are relative to the backend's mount (`sys/`,
//! `auth/token/`), in the syntax of [`crate::sdk::route`] (`prefix*` is
//! Vault's special-path glob).

use crate::sdk::route::{self, ALL_OPERATIONS};
use crate::sdk::{Operation, Route};

const WRITES: &[Operation] = &[
    Operation::Create,
    Operation::Update,
    Operation::Patch,
    Operation::Delete,
];

/// `sys/`: Vault's root-protected system paths, and the response-wrapping
/// paths any holder of a wrapping token may use.
pub(crate) const SYS: &[Route] = &[
    Route::new("seal", ALL_OPERATIONS).sudo(),
    Route::new("step-down", ALL_OPERATIONS).sudo(),
    Route::new("rotate", ALL_OPERATIONS).sudo(),
    Route::new("key-status", ALL_OPERATIONS).sudo(),
    // enabling, tuning and disabling mounts; reading them needs no sudo
    Route::new("mounts/*", WRITES).sudo(),
    Route::new("auth/*", WRITES).sudo(),
    // `audit`, `audit/:path`, `audit-hash/:path`
    Route::new("audit*", ALL_OPERATIONS).sudo(),
    Route::new("leases/revoke-prefix*", ALL_OPERATIONS).sudo(),
    Route::new("leases/revoke-force*", ALL_OPERATIONS).sudo(),
    Route::new("leases/lookup*", &[Operation::List]).sudo(),
    Route::new("revoke-prefix*", ALL_OPERATIONS).sudo(),
    Route::new("raw", ALL_OPERATIONS).sudo(),
    Route::new("raw/*", ALL_OPERATIONS).sudo(),
    // snapshots: the whole store out, or replaced
    Route::new("storage/*", ALL_OPERATIONS).sudo(),
    // a new root token from unseal shares (the authenticated form)
    Route::new("generate-root-token/*", ALL_OPERATIONS).sudo(),
    // a manual clock's controls (dev servers only; root is checked too)
    Route::new("dev/clock", ALL_OPERATIONS).sudo(),
    Route::new("wrapping/lookup", ALL_OPERATIONS).unauthenticated(),
    Route::new("wrapping/unwrap", ALL_OPERATIONS).unauthenticated(),
];

/// `auth/token/`: the accessor endpoints and orphan revocation.
pub(crate) const TOKEN: &[Route] = &[
    Route::new("accessors*", ALL_OPERATIONS).sudo(),
    Route::new("revoke-orphan*", ALL_OPERATIONS).sudo(),
];

/// Whether some row of `table` that serves `op` on `path` says `flag`.
fn any(table: &[Route], path: &str, op: Operation, flag: fn(&Route) -> bool) -> bool {
    table
        .iter()
        .any(|r| flag(r) && r.serves(op) && r.matches(path).is_some())
}

/// Whether `op` on `sys/<path>` (`path` relative to `sys/`) needs sudo.
pub(crate) fn sys_sudo(path: &str, op: Operation) -> bool {
    any(SYS, path, op, |r| r.sudo)
}

/// Whether `op` on `auth/token/<path>` needs sudo.
pub(crate) fn token_sudo(path: &str, op: Operation) -> bool {
    any(TOKEN, path, op, |r| r.sudo)
}

/// Whether a request on the full `path` (`sys/...`) may be made without
/// a token.
pub(crate) fn sys_unauthenticated(path: &str) -> bool {
    path.strip_prefix("sys/")
        .is_some_and(|p| route::lookup(SYS, p).is_some_and(|m| m.route.unauthenticated))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Operation::*;

    /// The list these tables replace, kept as the reference they must
    /// agree with on every path and operation.
    fn reference_sys(path: &str, op: Operation) -> bool {
        let changes = op.is_write();
        path == "seal"
            || path == "step-down"
            || path == "rotate"
            || path == "key-status"
            || (changes && (path.starts_with("mounts/") || path.starts_with("auth/")))
            || path.starts_with("audit")
            || path.starts_with("leases/revoke-prefix")
            || path.starts_with("revoke-prefix")
            || (op == List && path.starts_with("leases/lookup"))
            || path.starts_with("leases/revoke-force")
            || path == "raw"
            || path.starts_with("raw/")
            || path.starts_with("storage/")
            || path.starts_with("generate-root-token/")
            || path == "dev/clock"
    }

    const SYS_PATHS: &[&str] = &[
        "",
        "seal",
        "seal-status",
        "sealx",
        "rotate",
        "rotate/config",
        "key-status",
        "mounts",
        "mounts/",
        "mounts/secret",
        "mounts/secret/tune",
        "auth",
        "auth/approle",
        "auth/approle/tune",
        "audit",
        "audit/",
        "audit/file",
        "audit-hash/file",
        "auditx",
        "leases/lookup",
        "leases/lookup/",
        "leases/lookup/a/b/",
        "leases/revoke",
        "leases/revoke-prefix/auth/x",
        "leases/revoke-force/auth/x",
        "revoke-prefix/x",
        "revoke",
        "raw",
        "raw/",
        "raw/core/x",
        "rawx",
        "policies/acl/x",
        "internal/ui/mounts/secret",
        "wrapping/unwrap",
        "storage/snapshot",
        "storage/snapshot-force",
        "storagex",
        "generate-root-token/attempt",
        "generate-root/attempt",
        "dev/clock",
        "dev/clockx",
    ];

    #[test]
    fn the_sys_table_says_what_the_sudo_list_said() {
        for p in SYS_PATHS {
            for op in ALL_OPERATIONS {
                assert_eq!(sys_sudo(p, *op), reference_sys(p, *op), "{op:?} sys/{p}");
            }
        }
    }

    #[test]
    fn token_sudo_paths() {
        for op in ALL_OPERATIONS {
            assert!(token_sudo("accessors/", *op));
            assert!(token_sudo("revoke-orphan", *op));
            assert!(!token_sudo("revoke", *op));
            assert!(!token_sudo("create-orphan", *op));
            assert!(!token_sudo("lookup-accessor", *op));
        }
    }

    #[test]
    fn only_unwrapping_is_open() {
        assert!(sys_unauthenticated("sys/wrapping/lookup"));
        assert!(sys_unauthenticated("sys/wrapping/unwrap"));
        assert!(!sys_unauthenticated("sys/wrapping/wrap"));
        assert!(!sys_unauthenticated("sys/wrapping/rewrap"));
        assert!(!sys_unauthenticated("wrapping/unwrap"));
        assert!(!sys_unauthenticated("sys/wrapping/unwrap/x"));
        assert!(!sys_unauthenticated("sys/seal"));
    }

    #[test]
    fn no_two_rows_match_one_path() {
        assert_eq!(route::overlaps(SYS), Vec::<String>::new());
        assert_eq!(route::overlaps(TOKEN), Vec::<String>::new());
    }
}
