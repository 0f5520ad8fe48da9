//! The declared routes of the system backend (`sys/`) and of the token
//! store (`auth/token/`): every path they serve, with its operations,
//! whether it needs `sudo`, and whether it is served without a token (the
//! seal lifecycle, response unwrapping).
//!
//! Owns: the two tables ([`SYS`], [`TOKEN`]), their typed routes
//! ([`SysRoute`], [`TokenRoute`]: what the handlers dispatch on, as
//! engines do), Vault's root-protected paths ([`SYS_ROOT`],
//! [`TOKEN_ROOT`], for requests no row serves), and the decisions read
//! from them: 404 for an unknown path and 405 for a wrong operation
//! ([`sys_route`], [`token_route`]), `sudo` ([`sys_sudo`],
//! [`token_sudo`]), and what needs no token ([`sys_seal_lifecycle`],
//! [`sys_unauthenticated`]). Must not touch: the handlers themselves; a
//! row names paths, it serves nothing. Patterns are relative to the
//! backend's mount (`sys/`, `auth/token/`), in the syntax of
//! [`crate::sdk::route`] (`prefix*` is Vault's special-path glob).

use crate::sdk::route::{self, Matched, RouteError, ALL_OPERATIONS};
use crate::sdk::{Operation, Route};

use Operation::{Create, Delete, List, Read, Update};

const WRITE: &[Operation] = &[Create, Update];

const WRITES: &[Operation] = &[
    Operation::Create,
    Operation::Update,
    Operation::Patch,
    Operation::Delete,
];

// The patterns of `sys/`, named once: the table lists them, [`sys_typed`]
// maps a matched one to its [`SysRoute`].
const INIT: &str = "init";
const SEAL_STATUS: &str = "seal-status";
const UNSEAL: &str = "unseal";
const HEALTH: &str = "health";
const LEADER: &str = "leader";
const REKEY_INIT: &str = "rekey/init";
const REKEY_UPDATE: &str = "rekey/update";
const REKEY_VERIFY: &str = "rekey/verify";
const REKEY_BACKUP: &str = "rekey/backup";
const GENERATE_ROOT_ATTEMPT: &str = "generate-root/attempt";
const GENERATE_ROOT_UPDATE: &str = "generate-root/update";
const GENERATE_ROOT_TOKEN_ATTEMPT: &str = "generate-root-token/attempt";
const GENERATE_ROOT_TOKEN_UPDATE: &str = "generate-root-token/update";
const SEAL: &str = "seal";
const ROTATE: &str = "rotate";
const STEP_DOWN: &str = "step-down";
const ROTATE_KEYRING: &str = "rotate/keyring";
const REMOUNT: &str = "remount";
const REMOUNT_STATUS: &str = "remount/status/:id+";
const KEY_STATUS: &str = "key-status";
const METRICS: &str = "metrics";
const SNAPSHOT: &str = "storage/snapshot";
const SNAPSHOT_FORCE: &str = "storage/snapshot-force";
const MOUNTS: &str = "mounts";
const MOUNTS_READ: &str = "mounts/:path*";
const MOUNTS_WRITE: &str = "mounts/:path+";
const AUTH: &str = "auth";
const AUTH_READ: &str = "auth/:path*";
const AUTH_WRITE: &str = "auth/:path+";
const UI_MOUNT: &str = "internal/ui/mounts/:path*";
const POLICIES: &str = "policies/acl";
const POLICIES_FOLDER: &str = "policies/acl/";
const POLICY: &str = "policies/acl/:name*";
const AUDIT: &str = "audit";
const AUDIT_DEVICE: &str = "audit/:path*";
const AUDIT_HASH: &str = "audit-hash/:path*";
const WRAPPING_LOOKUP: &str = "wrapping/lookup";
const WRAPPING_UNWRAP: &str = "wrapping/unwrap";
const WRAPPING_WRAP: &str = "wrapping/wrap";
const WRAPPING_REWRAP: &str = "wrapping/rewrap";
const LEASES_LOOKUP: &str = "leases/lookup";
const LEASES_LIST: &str = "leases/lookup/:prefix*";
const LEASES_RENEW: &str = "leases/renew";
const LEASES_RENEW_ID: &str = "leases/renew/:lease_id*";
const LEASES_REVOKE: &str = "leases/revoke";
const LEASES_REVOKE_ID: &str = "leases/revoke/:lease_id*";
const LEASES_REVOKE_PREFIX: &str = "leases/revoke-prefix/:prefix*";
const RENEW: &str = "renew";
const RENEW_ID: &str = "renew/:lease_id+";
const REVOKE: &str = "revoke";
const REVOKE_ID: &str = "revoke/:lease_id+";
const REVOKE_PREFIX: &str = "revoke-prefix/:prefix+";
const CAPABILITIES: &str = "capabilities";
const CAPABILITIES_SELF: &str = "capabilities-self";
const CAPABILITIES_ACCESSOR: &str = "capabilities-accessor";
pub(crate) const DEV_CLOCK: &str = "dev/clock";
const LOCKED_USERS: &str = "locked-users";
const LOCKED_USERS_UNLOCK: &str = "locked-users/:accessor/unlock/:alias+";

/// `sys/`: every path the system backend serves. A path may have two
/// rows when only some of its operations need `sudo` (reading a mount
/// does not, changing it does); no two rows serving one operation match
/// one path. A `:name*` capture where a `:name+` would do makes LIST on an
/// entry (`sys/audit/file/`) a known path asked for the wrong operation
/// (405), as before.
pub(crate) const SYS: &[Route] = &[
    // the seal lifecycle, served without a token, sealed or not
    Route::new(INIT, &[Read, Create, Update]).unauthenticated(),
    Route::new(SEAL_STATUS, &[Read]).unauthenticated(),
    Route::new(UNSEAL, WRITE).unauthenticated(),
    Route::new(HEALTH, &[Read]).unauthenticated(),
    Route::new(LEADER, &[Read]).unauthenticated(),
    Route::new(REKEY_INIT, &[Read, Create, Update, Delete]).unauthenticated(),
    Route::new(REKEY_UPDATE, WRITE).unauthenticated(),
    Route::new(REKEY_VERIFY, &[Read, Create, Update, Delete]).unauthenticated(),
    // the encrypted shares a rekey with `backup` kept: a token is needed
    Route::new(REKEY_BACKUP, &[Read, Delete]).sudo(),
    // refused unless `enable_unauthenticated_access` names "generate-root"
    Route::new(GENERATE_ROOT_ATTEMPT, &[Read, Create, Update, Delete]).unauthenticated(),
    Route::new(GENERATE_ROOT_UPDATE, WRITE).unauthenticated(),
    // the authenticated form of the same flow
    Route::new(GENERATE_ROOT_TOKEN_ATTEMPT, &[Read, Create, Update, Delete]).sudo(),
    Route::new(GENERATE_ROOT_TOKEN_UPDATE, WRITE).sudo(),
    Route::new(SEAL, WRITE).sudo(),
    // hand the active role to another node (HA)
    Route::new(STEP_DOWN, WRITE).sudo(),
    Route::new(ROTATE, WRITE).sudo(),
    Route::new(ROTATE_KEYRING, WRITE).sudo(),
    // moving a mount with its data (Vault's root path `remount`)
    Route::new(REMOUNT, WRITE).sudo(),
    Route::new(REMOUNT_STATUS, &[Read]),
    Route::new(KEY_STATUS, &[Read]).sudo(),
    // without a token too when the `telemetry` block says so
    Route::new(METRICS, &[Read]),
    // snapshots: the whole store out, or replaced
    Route::new(SNAPSHOT, &[Read, Create, Update]).sudo(),
    Route::new(SNAPSHOT_FORCE, WRITE).sudo(),
    // secrets engines and auth methods: `:path/tune` is the mount's tuning
    Route::new(MOUNTS, &[Read]),
    Route::new(MOUNTS_READ, &[Read]),
    Route::new(MOUNTS_WRITE, &[Create, Update, Delete]).sudo(),
    Route::new(AUTH, &[Read]),
    Route::new(AUTH_READ, &[Read]),
    Route::new(AUTH_WRITE, &[Create, Update, Delete]).sudo(),
    // the mount serving a path, for a token that may use it (the handler
    // checks that, not the ACL of this path)
    Route::new(UI_MOUNT, &[Read]),
    // `sys/policy/…` is rewritten to these before routing
    Route::new(POLICIES, &[Read]),
    Route::list(POLICIES_FOLDER),
    Route::new(POLICY, &[Read, Create, Update, Delete]),
    // `:path/public-key` is the key that signs a device's checkpoints;
    // `:path/entries` (read) searches a file device's log and
    // `:path/verify` (write) verifies its chain: suffixes of the device
    // row (a device path cannot end in them), typed in `sys_typed`
    Route::new(AUDIT, &[Read]).sudo(),
    Route::new(AUDIT_DEVICE, &[Read, Create, Update, Delete]).sudo(),
    Route::new(AUDIT_HASH, WRITE).sudo(),
    // any holder of a wrapping token may look it up and unwrap it
    Route::new(WRAPPING_LOOKUP, &[Read, Create, Update]).unauthenticated(),
    Route::new(WRAPPING_UNWRAP, WRITE).unauthenticated(),
    Route::new(WRAPPING_WRAP, WRITE),
    Route::new(WRAPPING_REWRAP, WRITE),
    Route::new(LEASES_LOOKUP, WRITE),
    Route::new(LEASES_LIST, &[List]).sudo(),
    Route::new(LEASES_RENEW, WRITE),
    Route::new(LEASES_RENEW_ID, WRITE),
    Route::new(LEASES_REVOKE, WRITE),
    Route::new(LEASES_REVOKE_ID, WRITE),
    Route::new(LEASES_REVOKE_PREFIX, WRITE).sudo(),
    // the legacy lease paths
    Route::new(RENEW, WRITE),
    Route::new(RENEW_ID, WRITE),
    Route::new(REVOKE, WRITE),
    Route::new(REVOKE_ID, WRITE),
    Route::new(REVOKE_PREFIX, WRITE).sudo(),
    Route::new(CAPABILITIES, WRITE),
    Route::new(CAPABILITIES_SELF, WRITE),
    Route::new(CAPABILITIES_ACCESSOR, WRITE),
    // a manual clock's controls (dev servers only; root is checked too)
    Route::new(DEV_CLOCK, &[Read, Create, Update]).sudo(),
    // who is locked out of an auth method, and lifting it
    Route::new(LOCKED_USERS, &[Read]).sudo(),
    Route::new(LOCKED_USERS_UNLOCK, WRITE).sudo(),
];

/// `sys/`: Vault's root-protected paths (its special `root` paths), for
/// a request no row of [`SYS`] serves: a token without `sudo` is refused
/// there before it learns that the path or operation is not served. The
/// rows of [`SYS`] agree with it (tested).
const SYS_ROOT: &[Route] = &[
    Route::new("seal", ALL_OPERATIONS),
    Route::new("rotate", ALL_OPERATIONS),
    Route::new("step-down", ALL_OPERATIONS),
    Route::new("rotate/keyring", ALL_OPERATIONS),
    Route::new("remount", ALL_OPERATIONS),
    Route::new("key-status", ALL_OPERATIONS),
    // enabling, tuning and disabling mounts; reading them needs no sudo
    Route::new("mounts/*", WRITES),
    Route::new("auth/*", WRITES),
    // `audit`, `audit/:path`, `audit-hash/:path`
    Route::new("audit*", ALL_OPERATIONS),
    Route::new("leases/revoke-prefix*", ALL_OPERATIONS),
    Route::new("leases/revoke-force*", ALL_OPERATIONS),
    Route::new("leases/lookup*", &[Operation::List]),
    Route::new("revoke-prefix*", ALL_OPERATIONS),
    Route::new("raw", ALL_OPERATIONS),
    Route::new("raw/*", ALL_OPERATIONS),
    Route::new("storage/*", ALL_OPERATIONS),
    Route::new("generate-root-token/*", ALL_OPERATIONS),
    Route::new("rekey/backup", ALL_OPERATIONS),
    Route::new("dev/clock", ALL_OPERATIONS),
    Route::new("locked-users", ALL_OPERATIONS),
    Route::new("locked-users/*", ALL_OPERATIONS),
];

/// Which mount table a `sys/mounts…` or `sys/auth…` route manages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MountTable {
    /// Secrets engines (`sys/mounts`).
    Secrets,
    /// Auth methods (`sys/auth`).
    Auth,
}

/// A `sys/` request's route, typed: what the handlers dispatch on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SysRoute<'p> {
    Init,
    SealStatus,
    Unseal,
    Health,
    Leader,
    RekeyInit,
    RekeyUpdate,
    RekeyVerify,
    /// The encrypted shares kept by a rekey with `backup` (sudo).
    RekeyBackup,
    /// `generate-root/*` (token-less, when allowed).
    GenerateRootAttempt,
    GenerateRootUpdate,
    /// `generate-root-token/*` (sudo).
    GenerateRootTokenAttempt,
    GenerateRootTokenUpdate,
    Seal,
    Rotate,
    KeyStatus,
    Metrics,
    Snapshot,
    SnapshotForce,
    /// The list of a mount table.
    Mounts(MountTable),
    /// One mount (read, enable, disable); the path as the client named it.
    Mount(MountTable, &'p str),
    /// One mount's tuning.
    MountTune(MountTable, &'p str),
    /// `internal/ui/mounts/:path`.
    UiMount(&'p str),
    /// The list of ACL policies.
    Policies,
    Policy(&'p str),
    AuditDevices,
    AuditDevice(&'p str),
    AuditPublicKey(&'p str),
    /// Search a file device's log (`:path/entries`).
    AuditEntries(&'p str),
    /// Verify a file device's log (`:path/verify`).
    AuditVerify(&'p str),
    AuditHash(&'p str),
    WrappingLookup,
    WrappingUnwrap,
    WrappingWrap,
    WrappingRewrap,
    LeaseLookup,
    /// LIST of the leases under a prefix.
    LeaseList(&'p str),
    /// Renew a lease named in the path, or (`None`) in the body.
    LeaseRenew(Option<&'p str>),
    LeaseRevoke(Option<&'p str>),
    LeaseRevokePrefix(&'p str),
    Capabilities,
    CapabilitiesSelf,
    CapabilitiesAccessor,
    DevClock,
    /// Hand the active role to another node.
    StepDown,
    /// Move a mount (`sys/remount`).
    Remount,
    /// How a move went.
    RemountStatus(&'p str),
    /// The aliases locked out of auth mounts.
    LockedUsers,
    /// Lift one lockout: (mount accessor, alias).
    LockedUsersUnlock(&'p str, &'p str),
}

impl SysRoute<'_> {
    /// Served before the vault is unsealed, without a token: the seal
    /// lifecycle (the `unauthenticated` rows other than unwrapping).
    pub(crate) fn seal_lifecycle(&self) -> bool {
        matches!(
            self,
            SysRoute::Init
                | SysRoute::SealStatus
                | SysRoute::Unseal
                | SysRoute::Health
                | SysRoute::Leader
                | SysRoute::RekeyInit
                | SysRoute::RekeyUpdate
                | SysRoute::RekeyVerify
                | SysRoute::GenerateRootAttempt
                | SysRoute::GenerateRootUpdate
        )
    }
}

/// The name of a mount or device captured as `path/tune` or
/// `path/public-key`, as Vault's `(?P<path>.+?)/tune` reads it.
fn split_suffix<'p>(captured: &'p str, suffix: &str) -> Option<&'p str> {
    captured.strip_suffix(suffix)
}

/// The typed route of a matched `sys/` row.
fn sys_typed<'p>(m: &Matched<'_, 'p>) -> Option<SysRoute<'p>> {
    let mount = |table, path: &'p str| match split_suffix(path, "/tune") {
        // `sys/mounts/auth/<path>/tune` is how Vault's CLI tunes an auth
        // method: the same as `sys/auth/<path>/tune`.
        Some(name) if table == MountTable::Secrets && name.starts_with("auth/") => {
            SysRoute::MountTune(MountTable::Auth, &name["auth/".len()..])
        }
        Some(name) => SysRoute::MountTune(table, name),
        None => SysRoute::Mount(table, path),
    };
    let lease = |id: &'p str| Some(id).filter(|i| !i.is_empty());
    Some(match m.pattern() {
        INIT => SysRoute::Init,
        SEAL_STATUS => SysRoute::SealStatus,
        UNSEAL => SysRoute::Unseal,
        HEALTH => SysRoute::Health,
        LEADER => SysRoute::Leader,
        REKEY_INIT => SysRoute::RekeyInit,
        REKEY_UPDATE => SysRoute::RekeyUpdate,
        REKEY_VERIFY => SysRoute::RekeyVerify,
        REKEY_BACKUP => SysRoute::RekeyBackup,
        GENERATE_ROOT_ATTEMPT => SysRoute::GenerateRootAttempt,
        GENERATE_ROOT_UPDATE => SysRoute::GenerateRootUpdate,
        GENERATE_ROOT_TOKEN_ATTEMPT => SysRoute::GenerateRootTokenAttempt,
        GENERATE_ROOT_TOKEN_UPDATE => SysRoute::GenerateRootTokenUpdate,
        SEAL => SysRoute::Seal,
        ROTATE | ROTATE_KEYRING => SysRoute::Rotate,
        STEP_DOWN => SysRoute::StepDown,
        REMOUNT => SysRoute::Remount,
        REMOUNT_STATUS => SysRoute::RemountStatus(m.get("id")),
        KEY_STATUS => SysRoute::KeyStatus,
        METRICS => SysRoute::Metrics,
        SNAPSHOT => SysRoute::Snapshot,
        SNAPSHOT_FORCE => SysRoute::SnapshotForce,
        MOUNTS => SysRoute::Mounts(MountTable::Secrets),
        MOUNTS_READ | MOUNTS_WRITE => mount(MountTable::Secrets, m.get("path")),
        AUTH => SysRoute::Mounts(MountTable::Auth),
        AUTH_READ | AUTH_WRITE => mount(MountTable::Auth, m.get("path")),
        UI_MOUNT => SysRoute::UiMount(m.get("path")),
        POLICIES | POLICIES_FOLDER => SysRoute::Policies,
        POLICY => SysRoute::Policy(m.get("name")),
        AUDIT => SysRoute::AuditDevices,
        AUDIT_DEVICE => {
            let path = m.get("path");
            if let Some(dev) = split_suffix(path, "/public-key") {
                SysRoute::AuditPublicKey(dev)
            } else if let Some(dev) = split_suffix(path, "/entries") {
                SysRoute::AuditEntries(dev)
            } else if let Some(dev) = split_suffix(path, "/verify") {
                SysRoute::AuditVerify(dev)
            } else {
                SysRoute::AuditDevice(path)
            }
        }
        AUDIT_HASH => SysRoute::AuditHash(m.get("path")),
        WRAPPING_LOOKUP => SysRoute::WrappingLookup,
        WRAPPING_UNWRAP => SysRoute::WrappingUnwrap,
        WRAPPING_WRAP => SysRoute::WrappingWrap,
        WRAPPING_REWRAP => SysRoute::WrappingRewrap,
        LEASES_LOOKUP => SysRoute::LeaseLookup,
        LEASES_LIST => SysRoute::LeaseList(m.get("prefix")),
        LEASES_RENEW | RENEW => SysRoute::LeaseRenew(None),
        LEASES_RENEW_ID | RENEW_ID => SysRoute::LeaseRenew(lease(m.get("lease_id"))),
        LEASES_REVOKE | REVOKE => SysRoute::LeaseRevoke(None),
        LEASES_REVOKE_ID | REVOKE_ID => SysRoute::LeaseRevoke(lease(m.get("lease_id"))),
        LEASES_REVOKE_PREFIX | REVOKE_PREFIX => SysRoute::LeaseRevokePrefix(m.get("prefix")),
        CAPABILITIES => SysRoute::Capabilities,
        CAPABILITIES_SELF => SysRoute::CapabilitiesSelf,
        CAPABILITIES_ACCESSOR => SysRoute::CapabilitiesAccessor,
        DEV_CLOCK => SysRoute::DevClock,
        LOCKED_USERS => SysRoute::LockedUsers,
        LOCKED_USERS_UNLOCK => SysRoute::LockedUsersUnlock(m.get("accessor"), m.get("alias")),
        _ => return None,
    })
}

/// The route of `op` on `sys/<path>`: 404 for a path no row matches, 405
/// for an operation its rows do not serve.
pub(crate) fn sys_route(path: &str, op: Operation) -> Result<SysRoute<'_>, RouteError> {
    let m = route::find(SYS, path, op)?;
    sys_typed(&m).ok_or(RouteError::UnsupportedPath)
}

/// The route of `sys/<path>` whatever the operation, with its row: the
/// row serving `op` if one does, else the first row matching the path
/// (whose `serves(op)` then says no).
pub(crate) fn sys_lookup(path: &str, op: Operation) -> Option<(SysRoute<'_>, &'static Route)> {
    let m = route::lookup(SYS, path)?;
    let route = m.route;
    if let Ok(found) = route::find(SYS, path, op) {
        return sys_typed(&found).map(|r| (r, found.route));
    }
    sys_typed(&m).map(|r| (r, route))
}

/// Whether the full `path` is one of `sys/rekey/{init,update,verify}`
/// (served without a token only when the configuration says so).
pub(crate) fn sys_rekey(path: &str) -> bool {
    path.strip_prefix("sys/")
        .and_then(|p| route::lookup(SYS, p.strip_suffix('/').unwrap_or(p)))
        .and_then(|m| sys_typed(&m))
        .is_some_and(|r| {
            matches!(
                r,
                SysRoute::RekeyInit | SysRoute::RekeyUpdate | SysRoute::RekeyVerify
            )
        })
}

/// Whether the full `path` is a route that changes who can open the vault
/// without a token (rekey, token-less root generation): served before
/// authentication, and audited like any request once the vault is
/// unsealed.
pub(crate) fn sys_share_flow(path: &str) -> bool {
    path.strip_prefix("sys/")
        .and_then(|p| route::lookup(SYS, p.strip_suffix('/').unwrap_or(p)))
        .and_then(|m| sys_typed(&m))
        .is_some_and(|r| {
            matches!(
                r,
                SysRoute::RekeyInit
                    | SysRoute::RekeyUpdate
                    | SysRoute::RekeyVerify
                    | SysRoute::GenerateRootAttempt
                    | SysRoute::GenerateRootUpdate
            )
        })
}

// The patterns of `auth/token/`.
const CREATE: &str = "create";
const CREATE_ORPHAN: &str = "create-orphan";
const CREATE_ROLE: &str = "create/:role+";
const LOOKUP_SELF: &str = "lookup-self";
const LOOKUP: &str = "lookup";
const LOOKUP_ACCESSOR: &str = "lookup-accessor";
const RENEW_SELF: &str = "renew-self";
const TOKEN_RENEW: &str = "renew";
const RENEW_ACCESSOR: &str = "renew-accessor";
const REVOKE_SELF: &str = "revoke-self";
const TOKEN_REVOKE: &str = "revoke";
const REVOKE_ACCESSOR: &str = "revoke-accessor";
const REVOKE_ORPHAN: &str = "revoke-orphan";
const ACCESSORS: &str = "accessors/";
const ROLES: &str = "roles/";
const ROLE: &str = "roles/:name*";
const TIDY: &str = "tidy";

/// `auth/token/`: every path the token store serves. `roles/:name*` (not
/// `+`) makes LIST on a role a known path asked for the wrong operation.
pub(crate) const TOKEN: &[Route] = &[
    Route::new(CREATE, WRITE),
    Route::new(CREATE_ORPHAN, WRITE),
    Route::new(CREATE_ROLE, WRITE),
    Route::new(LOOKUP_SELF, &[Read, Create, Update]),
    Route::new(LOOKUP, WRITE),
    Route::new(LOOKUP_ACCESSOR, WRITE),
    Route::new(RENEW_SELF, WRITE),
    Route::new(TOKEN_RENEW, WRITE),
    Route::new(RENEW_ACCESSOR, WRITE),
    Route::new(REVOKE_SELF, WRITE),
    Route::new(TOKEN_REVOKE, WRITE),
    Route::new(REVOKE_ACCESSOR, WRITE),
    Route::new(REVOKE_ORPHAN, WRITE).sudo(),
    Route::list(ACCESSORS).sudo(),
    Route::list(ROLES),
    Route::new(ROLE, &[Read, Create, Update, Delete]),
    Route::new(TIDY, WRITE),
];

/// `auth/token/`: Vault's root-protected paths of the token store (see
/// [`SYS_ROOT`]).
const TOKEN_ROOT: &[Route] = &[
    Route::new("accessors*", ALL_OPERATIONS),
    Route::new("revoke-orphan*", ALL_OPERATIONS),
];

/// An `auth/token/` request's route, typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenRoute<'p> {
    Create,
    CreateOrphan,
    CreateWithRole(&'p str),
    LookupSelf,
    Lookup,
    LookupAccessor,
    RenewSelf,
    Renew,
    RenewAccessor,
    RevokeSelf,
    Revoke,
    RevokeAccessor,
    RevokeOrphan,
    Accessors,
    Roles,
    Role(&'p str),
    Tidy,
}

fn token_typed<'p>(m: &Matched<'_, 'p>) -> Option<TokenRoute<'p>> {
    Some(match m.pattern() {
        CREATE => TokenRoute::Create,
        CREATE_ORPHAN => TokenRoute::CreateOrphan,
        CREATE_ROLE => TokenRoute::CreateWithRole(m.get("role")),
        LOOKUP_SELF => TokenRoute::LookupSelf,
        LOOKUP => TokenRoute::Lookup,
        LOOKUP_ACCESSOR => TokenRoute::LookupAccessor,
        RENEW_SELF => TokenRoute::RenewSelf,
        TOKEN_RENEW => TokenRoute::Renew,
        RENEW_ACCESSOR => TokenRoute::RenewAccessor,
        REVOKE_SELF => TokenRoute::RevokeSelf,
        TOKEN_REVOKE => TokenRoute::Revoke,
        REVOKE_ACCESSOR => TokenRoute::RevokeAccessor,
        REVOKE_ORPHAN => TokenRoute::RevokeOrphan,
        ACCESSORS => TokenRoute::Accessors,
        ROLES => TokenRoute::Roles,
        ROLE => TokenRoute::Role(m.get("name")),
        TIDY => TokenRoute::Tidy,
        _ => return None,
    })
}

/// The route of `op` on `auth/token/<path>` (404/405 as [`sys_route`]).
pub(crate) fn token_route(path: &str, op: Operation) -> Result<TokenRoute<'_>, RouteError> {
    let m = route::find(TOKEN, path, op)?;
    token_typed(&m).ok_or(RouteError::UnsupportedPath)
}

/// Whether `op` on `path` needs sudo: the flag of the row serving it, or,
/// when none does, whether `root` (Vault's root paths) names it.
fn sudo(table: &[Route], root: &[Route], path: &str, op: Operation) -> bool {
    match route::find(table, path, op) {
        Ok(m) => m.route.sudo,
        Err(_) => root
            .iter()
            .any(|r| r.serves(op) && r.matches(path).is_some()),
    }
}

/// Whether `op` on `sys/<path>` (`path` relative to `sys/`) needs sudo.
pub(crate) fn sys_sudo(path: &str, op: Operation) -> bool {
    sudo(SYS, SYS_ROOT, path, op)
}

/// Whether `op` on `auth/token/<path>` needs sudo.
pub(crate) fn token_sudo(path: &str, op: Operation) -> bool {
    sudo(TOKEN, TOKEN_ROOT, path, op)
}

/// Whether a request on the full `path` (`sys/...`) may be made without
/// a token once the vault is unsealed: the `unauthenticated` rows other
/// than the seal lifecycle (response unwrapping).
pub(crate) fn sys_unauthenticated(path: &str) -> bool {
    path.strip_prefix("sys/").is_some_and(|p| {
        route::lookup(SYS, p).is_some_and(|m| {
            m.route.unauthenticated && sys_typed(&m).is_some_and(|r| !r.seal_lifecycle())
        })
    })
}

/// Whether the full `path` is one of the seal lifecycle's (served without
/// a token, sealed or not, whatever the operation: a wrong one is refused
/// there, not for want of a token). A LIST names the path with a trailing
/// `/`, and is one of those wrong operations (Vault's 405).
pub(crate) fn sys_seal_lifecycle(path: &str) -> bool {
    path.strip_prefix("sys/").is_some_and(|p| {
        route::lookup(SYS, p.strip_suffix('/').unwrap_or(p)).is_some_and(|m| {
            m.route.unauthenticated && sys_typed(&m).is_some_and(|r| r.seal_lifecycle())
        })
    })
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
            || path == "rotate/keyring"
            || path == "key-status"
            || (changes && (path.starts_with("mounts/") || path.starts_with("auth/")))
            || path == "remount"
            || path.starts_with("audit")
            || path.starts_with("leases/revoke-prefix")
            || path.starts_with("revoke-prefix")
            || (op == List && path.starts_with("leases/lookup"))
            || path.starts_with("leases/revoke-force")
            || path == "raw"
            || path.starts_with("raw/")
            || path.starts_with("storage/")
            || path == "rekey/backup"
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
        "rotate/keyring",
        "remount",
        "remount/status/x",
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
        "rekey/backup",
        "rekey/init",
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

    /// `table`'s rows that serve `op`.
    fn serving(table: &[Route], op: Operation) -> Vec<Route> {
        table.iter().filter(|r| r.serves(op)).copied().collect()
    }

    /// Paths a pattern stands for: each capture as one segment, as
    /// several, and (for a rest capture) as a folder.
    fn instances(pattern: &str) -> Vec<String> {
        ["x", "a/b", "a/"]
            .iter()
            .map(|v| {
                pattern
                    .split('/')
                    .map(|seg| if seg.starts_with(':') { *v } else { seg })
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .collect()
    }

    #[test]
    fn no_two_rows_serve_one_operation_on_one_path() {
        for table in [SYS, TOKEN] {
            for op in ALL_OPERATIONS {
                assert_eq!(
                    route::overlaps(&serving(table, *op)),
                    Vec::<String>::new(),
                    "{op:?}"
                );
            }
        }
    }

    #[test]
    fn rows_sharing_a_path_agree_on_being_open() {
        // `lookup` (whatever the operation) decides what needs no token:
        // every row matching a path must say the same.
        for table in [SYS, TOKEN] {
            for r in table {
                for path in instances(r.pattern) {
                    for other in table.iter().filter(|o| o.matches(&path).is_some()) {
                        assert_eq!(
                            other.unauthenticated, r.unauthenticated,
                            "{} and {} on {path}",
                            r.pattern, other.pattern
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn every_row_is_reachable_and_typed() {
        for r in SYS {
            assert!(!r.operations.is_empty(), "{}", r.pattern);
            for op in r.operations {
                let path = &instances(r.pattern)[0];
                let m = route::find(SYS, path, *op)
                    .unwrap_or_else(|e| panic!("sys/{path} {op:?}: {e}"));
                assert_eq!(m.pattern(), r.pattern, "{op:?} sys/{path}");
                assert!(sys_typed(&m).is_some(), "{}", r.pattern);
                assert!(sys_route(path, *op).is_ok(), "{}", r.pattern);
            }
        }
        for r in TOKEN {
            assert!(!r.operations.is_empty(), "{}", r.pattern);
            for op in r.operations {
                let path = &instances(r.pattern)[0];
                let m = route::find(TOKEN, path, *op)
                    .unwrap_or_else(|e| panic!("auth/token/{path} {op:?}: {e}"));
                assert_eq!(m.pattern(), r.pattern, "{op:?} auth/token/{path}");
                assert!(token_typed(&m).is_some(), "{}", r.pattern);
                assert!(token_route(path, *op).is_ok(), "{}", r.pattern);
            }
        }
    }

    #[test]
    fn the_sudo_rows_agree_with_the_root_paths() {
        for (table, root) in [(SYS, SYS_ROOT), (TOKEN, TOKEN_ROOT)] {
            for r in table {
                for path in instances(r.pattern) {
                    for op in r.operations {
                        if r.matches(&path).is_none() {
                            continue;
                        }
                        let listed = root
                            .iter()
                            .any(|g| g.serves(*op) && g.matches(&path).is_some());
                        assert_eq!(r.sudo, listed, "{op:?} {path} ({})", r.pattern);
                    }
                }
            }
        }
    }

    #[test]
    fn typed_routes_carry_their_captures() {
        let sys = |p, op| sys_route(p, op);
        assert_eq!(
            sys("mounts/secret", Update),
            Ok(SysRoute::Mount(MountTable::Secrets, "secret"))
        );
        assert_eq!(
            sys("mounts/a/b/tune", Read),
            Ok(SysRoute::MountTune(MountTable::Secrets, "a/b"))
        );
        // a mount named "tune" is a mount, not the tuning of ""
        assert_eq!(
            sys("auth/tune", Delete),
            Ok(SysRoute::Mount(MountTable::Auth, "tune"))
        );
        assert_eq!(sys("auth", Read), Ok(SysRoute::Mounts(MountTable::Auth)));
        assert_eq!(
            sys("audit/file/public-key", Read),
            Ok(SysRoute::AuditPublicKey("file"))
        );
        assert_eq!(sys("audit/file", Update), Ok(SysRoute::AuditDevice("file")));
        assert_eq!(
            sys("audit/a/b/entries", Read),
            Ok(SysRoute::AuditEntries("a/b"))
        );
        assert_eq!(
            sys("audit/f/verify", Update),
            Ok(SysRoute::AuditVerify("f"))
        );
        // a device named like a suffix is a device
        assert_eq!(
            sys("audit/verify", Update),
            Ok(SysRoute::AuditDevice("verify"))
        );
        assert!(sys_sudo("audit/f/entries", Read));
        assert!(sys_sudo("audit/f/verify", Update));
        assert_eq!(sys("audit-hash/f", Update), Ok(SysRoute::AuditHash("f")));
        assert_eq!(sys("policies/acl/", List), Ok(SysRoute::Policies));
        assert_eq!(sys("policies/acl", Read), Ok(SysRoute::Policies));
        assert_eq!(sys("policies/acl/app", Read), Ok(SysRoute::Policy("app")));
        assert_eq!(
            sys("leases/lookup/auth/token/", List),
            Ok(SysRoute::LeaseList("auth/token/"))
        );
        assert_eq!(sys("leases/lookup/", List), Ok(SysRoute::LeaseList("")));
        assert_eq!(sys("leases/renew", Update), Ok(SysRoute::LeaseRenew(None)));
        assert_eq!(
            sys("renew/auth/x/1", Update),
            Ok(SysRoute::LeaseRenew(Some("auth/x/1")))
        );
        assert_eq!(
            sys("leases/revoke/a/b", Update),
            Ok(SysRoute::LeaseRevoke(Some("a/b")))
        );
        assert_eq!(
            sys("revoke-prefix/auth/token", Update),
            Ok(SysRoute::LeaseRevokePrefix("auth/token"))
        );
        assert_eq!(
            sys("internal/ui/mounts/secret/a", Read),
            Ok(SysRoute::UiMount("secret/a"))
        );
        assert_eq!(
            token_route("create/web", Update),
            Ok(TokenRoute::CreateWithRole("web"))
        );
        assert_eq!(
            token_route("roles/web", Delete),
            Ok(TokenRoute::Role("web"))
        );
        assert_eq!(token_route("roles/", List), Ok(TokenRoute::Roles));
        assert_eq!(token_route("accessors/", List), Ok(TokenRoute::Accessors));
    }

    #[test]
    fn unknown_paths_are_404_and_wrong_operations_405() {
        for (path, op) in [
            ("nonsense", Read),
            ("", Read),
            ("rekey", Read),
            ("mountsx", Read),
            ("auditx", Read),
            ("leases/x", Update),
            ("internal/ui/mounts", Read),
            ("seal/", List),
            ("metrics/x", Read),
        ] {
            assert_eq!(
                sys_route(path, op),
                Err(RouteError::UnsupportedPath),
                "{op:?} sys/{path}"
            );
        }
        for (path, op) in [
            ("seal", Read),
            ("seal-status", Update),
            ("mounts", Update),
            ("mounts/secret", Patch),
            // LIST on an entry: the path is known, listing it is not
            ("mounts/secret/", List),
            ("policies/acl/app/", List),
            ("audit/", List),
            ("audit-hash/file", Read),
            ("leases/lookup", Read),
            ("leases/lookup/a", Update),
            ("wrapping/wrap", Read),
            ("capabilities-self", Read),
            ("storage/snapshot-force", Read),
            ("internal/ui/mounts/secret", Update),
            ("internal/ui/mounts/secret/", List),
        ] {
            assert_eq!(
                sys_route(path, op),
                Err(RouteError::UnsupportedOperation),
                "{op:?} sys/{path}"
            );
        }
        assert_eq!(
            token_route("nonsense", Read),
            Err(RouteError::UnsupportedPath)
        );
        assert_eq!(
            token_route("lookup/x", Read),
            Err(RouteError::UnsupportedPath)
        );
        assert_eq!(
            token_route("create/", List),
            Err(RouteError::UnsupportedPath)
        );
        assert_eq!(
            token_route("create", Read),
            Err(RouteError::UnsupportedOperation)
        );
        assert_eq!(
            token_route("roles/web/", List),
            Err(RouteError::UnsupportedOperation)
        );
        assert_eq!(
            token_route("accessors/", Read),
            Err(RouteError::UnsupportedOperation)
        );
    }

    #[test]
    fn the_seal_lifecycle_is_served_without_a_token_and_nothing_else() {
        for p in [
            "init",
            "seal-status",
            "unseal",
            "health",
            "leader",
            "rekey/init",
            "rekey/update",
            "rekey/verify",
            "generate-root/attempt",
            "generate-root/update",
        ] {
            assert!(sys_seal_lifecycle(&format!("sys/{p}")), "{p}");
            assert!(!sys_unauthenticated(&format!("sys/{p}")), "{p}");
        }
        // The path a LIST names (trailing `/`): refused there with 405, as
        // Vault's raw handlers do, not for want of a token.
        assert!(sys_seal_lifecycle("sys/leader/"));
        assert!(sys_share_flow("sys/rekey/init/"));
        assert!(sys_share_flow("sys/rekey/verify"));
        assert!(sys_rekey("sys/rekey/init") && sys_rekey("sys/rekey/update/"));
        assert!(!sys_rekey("sys/rekey/backup") && !sys_rekey("sys/generate-root/update"));
        assert!(sys_share_flow("sys/generate-root/update"));
        assert!(!sys_share_flow("sys/generate-root-token/update"));
        assert!(!sys_share_flow("sys/rekey/backup"));
        assert!(!sys_share_flow("sys/init"));
        for p in [
            "sys/wrapping/unwrap",
            "sys/seal",
            "sys/generate-root-token/attempt",
            "sys/init/x",
            "sys/init//",
            "sys/rekey/backup",
            "init",
        ] {
            assert!(!sys_seal_lifecycle(p), "{p}");
        }
        let open: Vec<&str> = SYS
            .iter()
            .filter(|r| r.unauthenticated)
            .map(|r| r.pattern)
            .collect();
        assert_eq!(
            open,
            [
                INIT,
                SEAL_STATUS,
                UNSEAL,
                HEALTH,
                LEADER,
                REKEY_INIT,
                REKEY_UPDATE,
                REKEY_VERIFY,
                GENERATE_ROOT_ATTEMPT,
                GENERATE_ROOT_UPDATE,
                WRAPPING_LOOKUP,
                WRAPPING_UNWRAP
            ]
        );
        assert!(TOKEN.iter().all(|r| !r.unauthenticated));
    }

    /// Every `sys/` and `auth/token/` request the HTTP API document names,
    /// as (operation, path as the client sends it).
    const DOCUMENTED: &[(Operation, &str)] = &[
        (Read, "sys/init"),
        (Update, "sys/init"),
        (Read, "sys/seal-status"),
        (Update, "sys/unseal"),
        (Update, "sys/seal"),
        (Read, "sys/health"),
        (Read, "sys/leader"),
        (Read, "sys/mounts"),
        (Update, "sys/mounts/secret"),
        (Delete, "sys/mounts/secret"),
        (Read, "sys/mounts/secret/tune"),
        (Update, "sys/mounts/secret/tune"),
        (Read, "sys/internal/ui/mounts/secret"),
        (Read, "sys/auth"),
        (Update, "sys/auth/approle"),
        (Delete, "sys/auth/approle"),
        (List, "sys/policies/acl/"),
        (Read, "sys/policies/acl/app"),
        (Update, "sys/policies/acl/app"),
        (Delete, "sys/policies/acl/app"),
        (Read, "sys/policy"),
        (Read, "sys/policy/app"),
        (Update, "sys/policy/app"),
        (Delete, "sys/policy/app"),
        (Update, "sys/capabilities-self"),
        (Update, "sys/capabilities"),
        (Update, "sys/capabilities-accessor"),
        (Read, "sys/audit"),
        (Update, "sys/audit/file"),
        (Delete, "sys/audit/file"),
        (Update, "sys/audit-hash/file"),
        (Read, "sys/audit/file/public-key"),
        (Read, "sys/audit/file/entries"),
        (Update, "sys/audit/file/verify"),
        (Update, "sys/rotate"),
        (Read, "sys/key-status"),
        (Update, "sys/rekey/init"),
        (Update, "sys/rekey/update"),
        (Read, "sys/rekey/init"),
        (Delete, "sys/rekey/init"),
        (Update, "sys/leases/lookup"),
        (Update, "sys/leases/renew"),
        (Update, "sys/leases/revoke"),
        (Update, "sys/leases/revoke-prefix/auth/token"),
        (List, "sys/leases/lookup/auth/token/"),
        (Update, "sys/wrapping/wrap"),
        (Update, "sys/wrapping/unwrap"),
        (Update, "sys/wrapping/lookup"),
        (Update, "sys/wrapping/rewrap"),
        (Read, "sys/metrics"),
        (Update, "auth/token/create"),
        (Update, "auth/token/create-orphan"),
        (Update, "auth/token/create/web"),
        (Read, "auth/token/lookup-self"),
        (Update, "auth/token/lookup"),
        (Update, "auth/token/lookup-accessor"),
        (Update, "auth/token/renew"),
        (Update, "auth/token/renew-self"),
        (Update, "auth/token/renew-accessor"),
        (Update, "auth/token/revoke"),
        (Update, "auth/token/revoke-self"),
        (Update, "auth/token/revoke-accessor"),
        (Update, "auth/token/revoke-orphan"),
        (Read, "auth/token/roles/web"),
        (Update, "auth/token/roles/web"),
        (Delete, "auth/token/roles/web"),
        (List, "auth/token/roles/"),
        (List, "auth/token/accessors/"),
        (Update, "auth/token/tidy"),
    ];

    #[test]
    fn every_documented_request_has_a_row() {
        for (op, spelled) in DOCUMENTED {
            // as the pipeline sees it (`sys/policy/…` is an alias)
            let path = crate::core::path::canonicalize(*op, spelled).unwrap().path;
            let found = if let Some(p) = path.strip_prefix("sys/") {
                sys_route(p, *op).map(|_| ())
            } else {
                token_route(path.strip_prefix("auth/token/").unwrap(), *op).map(|_| ())
            };
            assert_eq!(found, Ok(()), "{op:?} {spelled}");
        }
    }
}
