//! sys/mounts and sys/auth (list, enable, disable, tune), sys/remount
//! (moving a mount) and sys/internal/ui/mounts.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde_json::{json, Map, Value};

use crate::core::pipeline::Authenticated;
use crate::core::state::{auth_backend_for, backend_for};
use crate::core::sys_routes::MountTable;
use crate::core::{Active, Core, CoreError};
use crate::logical::{fields, LogicalError};
use crate::router::{
    normalize_mount_path, BackendFactory, MountEntry, MountSet, MountTableError, Mounted,
};
use crate::sdk::{Operation, Request, Response};

const RESERVED: [&str; 5] = ["sys/", "auth/", "cubbyhole/", "identity/", "audit/"];

/// Which mount set a `sys/` path manages.
struct Target<'a> {
    set: &'a MountSet,
    factory: BackendFactory,
    /// "mounts" or "auth": the sys/ path segment.
    name: &'static str,
}

impl Target<'_> {
    /// Internal mount path ("auth/x/" for auth methods) from the canonical
    /// request path (the pipeline has removed any trailing '/' and refused
    /// empty segments; nothing is trimmed here).
    fn full(&self, rest: &str) -> Result<String, CoreError> {
        if rest.starts_with('/') || rest.ends_with('/') {
            return Err(mount_err(MountTableError::InvalidPath(rest.to_string())));
        }
        let p = normalize_mount_path(rest).map_err(mount_err)?;
        Ok(format!("{}{p}", self.set.prefix))
    }

    /// The path shown to users ("x/" for "auth/x/").
    fn shown<'p>(&self, path: &'p str) -> &'p str {
        path.strip_prefix(self.set.prefix).unwrap_or(path)
    }
}

impl Target<'_> {
    /// The mount set a route manages.
    fn of(active: &Active, table: MountTable) -> Target<'_> {
        match table {
            MountTable::Secrets => Target {
                set: &active.mounts,
                factory: backend_for,
                name: "mounts",
            },
            MountTable::Auth => Target {
                set: &active.auth_mounts,
                factory: auth_backend_for,
                name: "auth",
            },
        }
    }
}

/// `sys/mounts`, `sys/auth`: the list.
pub(super) fn list_route(
    active: &Active,
    req: &Request,
    table: MountTable,
) -> Result<Response, CoreError> {
    match req.operation {
        Operation::Read => Ok(list(&Target::of(active, table))),
        _ => Err(LogicalError::UnsupportedOperation.into()),
    }
}

/// `sys/mounts/:path`, `sys/auth/:path`: read, enable, disable.
pub(super) fn mount(
    active: &Active,
    req: &Request,
    table: MountTable,
    rest: &str,
) -> Result<Response, CoreError> {
    let target = Target::of(active, table);
    match req.operation {
        Operation::Create | Operation::Update => enable(active, &target, rest, &req.data),
        Operation::Delete => disable(active, &target, rest),
        Operation::Read => read_one(&target, rest),
        _ => Err(LogicalError::UnsupportedOperation.into()),
    }
}

/// `sys/mounts/:path/tune`, `sys/auth/:path/tune`.
pub(super) fn tune_route(
    core: &Core,
    active: &Active,
    req: &Request,
    table: MountTable,
    mount: &str,
) -> Result<Response, CoreError> {
    let target = Target::of(active, table);
    match req.operation {
        Operation::Read => read_tune(core, &target, mount),
        Operation::Create | Operation::Update => tune(&target, mount, &req.data),
        _ => Err(LogicalError::UnsupportedOperation.into()),
    }
}

/// `sys/remount`: move a mount and its data.
pub(super) fn remount_route(active: &Active, req: &Request) -> Result<Response, CoreError> {
    match req.operation {
        Operation::Create | Operation::Update => remount(active, &req.data),
        _ => Err(LogicalError::UnsupportedOperation.into()),
    }
}

/// `sys/remount/status/:id`.
pub(super) fn remount_status_route(
    active: &Active,
    req: &Request,
    id: &str,
) -> Result<Response, CoreError> {
    match req.operation {
        Operation::Read => remount_status(active, id),
        _ => Err(LogicalError::UnsupportedOperation.into()),
    }
}

fn mount_err(e: MountTableError) -> CoreError {
    match e {
        MountTableError::Storage(b) => b.into(),
        other => CoreError::BadRequest(other.to_string()),
    }
}

fn list(t: &Target<'_>) -> Response {
    let mut m = Map::new();
    for mounted in t.set.snapshot().all() {
        m.insert(
            t.shown(&mounted.entry.path).to_string(),
            mounted.entry.to_json(),
        );
    }
    if t.name == "mounts" {
        m.insert(
            "sys/".into(),
            builtin_json(
                "sys/",
                "system",
                "system endpoints used for control, policy and debugging",
            ),
        );
    } else {
        m.insert(
            "token/".into(),
            builtin_json("token/", "token", "token based credentials"),
        );
    }
    if t.name == "auth" {
        for v in m.values_mut() {
            with_token_type(v);
        }
    }
    // Vault also returns the mounts at the top level of the body.
    Response::data_top_level(m)
}

/// Auth mounts also report the kind of token they issue (clients such as
/// vaultrs require the field).
fn with_token_type(mount: &mut Value) {
    if let Some(cfg) = mount.get_mut("config").and_then(Value::as_object_mut) {
        cfg.insert("token_type".into(), json!("default-service"));
    }
}

fn builtin_json(path: &str, kind: &str, description: &str) -> Value {
    let mut e = MountEntry::new(path, kind, description);
    e.uuid = kind.into();
    e.accessor = format!("{kind}_0");
    e.to_json()
}

/// `sys/mounts/:path` or `sys/auth/:path`: one mount, in the shape of
/// `sys/mounts` and, as Vault, repeated at the top level. No mount there
/// is a 400 in Vault's words.
fn read_one(t: &Target<'_>, rest: &str) -> Result<Response, CoreError> {
    let path = t.full(rest)?;
    let router = t.set.snapshot();
    let Some(m) = router.get(&path) else {
        let shown = t.shown(&path);
        return Err(CoreError::BadRequest(if t.name == "auth" {
            format!("No auth engine at {shown}")
        } else {
            format!("No secret engine mount at {shown}")
        }));
    };
    let mut out = m.entry.to_json();
    if t.name == "auth" {
        with_token_type(&mut out);
    }
    Ok(Response::data_top_level(obj(out)))
}

fn parse_config(data: &Map<String, Value>, entry: &mut MountEntry) -> Result<(), CoreError> {
    if let Some(cfg) = fields::opt_object(data, "config")? {
        if let Some(t) = fields::opt_duration(&cfg, "default_lease_ttl")? {
            entry.config.default_lease_ttl = t;
        }
        if let Some(t) = fields::opt_duration(&cfg, "max_lease_ttl")? {
            entry.config.max_lease_ttl = t;
        }
    }
    Ok(())
}

/// A mount's default TTL may not exceed its max TTL (when both are set).
fn check_ttls(e: &MountEntry) -> Result<(), CoreError> {
    let (d, m) = (e.config.default_lease_ttl, e.config.max_lease_ttl);
    if d != 0 && m != 0 && d > m {
        return Err(CoreError::BadRequest(
            "default_lease_ttl cannot be greater than max_lease_ttl".into(),
        ));
    }
    Ok(())
}

fn parse_options(data: &Map<String, Value>) -> Result<Map<String, Value>, CoreError> {
    let out: Map<String, Value> = fields::opt_options(data, "options")?
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    if let Some(v) = out.get("version").and_then(Value::as_str) {
        if !matches!(v, "1" | "2") {
            return Err(CoreError::BadRequest(
                "options.version must be \"1\" or \"2\"".into(),
            ));
        }
    }
    Ok(out)
}

fn enable(
    active: &Active,
    t: &Target<'_>,
    rest: &str,
    data: &Map<String, Value>,
) -> Result<Response, CoreError> {
    let path = t.full(rest)?;
    let reserved = if t.name == "mounts" {
        &RESERVED[..]
    } else {
        &["auth/token/"][..]
    };
    if reserved.iter().any(|r| path.starts_with(r)) {
        return Err(CoreError::BadRequest(format!(
            "cannot mount at reserved path \"{}\"",
            t.shown(&path)
        )));
    }
    let kind = fields::req_string(data, "type")?;
    let description = fields::opt_string(data, "description")?.unwrap_or_default();
    let mut entry = MountEntry::new(&path, &kind, &description);
    // As Vault: a kv mount enabled without options keeps `{}` (version 1
    // is implied), so its tune shows no options.
    entry.options = parse_options(data)?;
    entry.local = fields::opt_bool(data, "local")?.unwrap_or(false);
    entry.seal_wrap = fields::opt_bool(data, "seal_wrap")?.unwrap_or(false);
    parse_config(data, &mut entry)?;
    check_ttls(&entry)?;
    if t.name == "mounts" && matches!(kind.as_str(), "cubbyhole" | "system" | "identity") {
        return Err(CoreError::BadRequest(format!(
            "only one instance of \"{kind}\" is allowed"
        )));
    }
    let ctx = active.mount_context(&entry);
    let backend =
        (t.factory)(&ctx).ok_or_else(|| mount_err(MountTableError::UnknownType(kind.clone())))?;
    active.adopt(backend.as_ref());
    let storage = ctx.storage;
    let added = t.set.update(|router| {
        if router.conflicts(&path) {
            return Err(mount_err(MountTableError::Conflict(
                t.shown(&path).to_string(),
            )));
        }
        router.insert(Mounted {
            entry,
            backend,
            storage,
        });
        Ok(Some(path.clone()))
    })?;
    if let Some(m) = added.and_then(|p| t.set.snapshot().get(&p).cloned()) {
        crate::core::scheduler::setup(&m);
    }
    Ok(Response::empty())
}

fn disable(active: &Active, t: &Target<'_>, rest: &str) -> Result<Response, CoreError> {
    let path = t.full(rest)?;
    let protected = if t.name == "mounts" {
        &RESERVED[..]
    } else {
        &["auth/token/"][..]
    };
    if protected.iter().any(|r| path == *r) {
        return Err(CoreError::BadRequest(format!(
            "cannot unmount \"{}\"",
            t.shown(&path)
        )));
    }
    let removed = t
        .set
        .update(|router| Ok::<_, CoreError>(router.remove(&path)))?;
    let Some(removed) = removed else {
        // Vault answers 204 for a path that is not mounted.
        return Ok(Response::empty());
    };
    // Revoke everything the mount issued (tokens of an auth method).
    for id in active.expiration.ids_under(path.trim_end_matches('/'))? {
        if let Some(e) = active.expiration.lookup(&id)? {
            active.revoke_lease(&e)?;
        }
    }
    removed.backend.cleanup();
    removed.storage.clear()?;
    active.lockout.forget_mount(&removed.entry.accessor);
    Ok(Response::empty())
}

fn read_tune(core: &Core, t: &Target<'_>, rest: &str) -> Result<Response, CoreError> {
    let c = core.config();
    let user = normalize_mount_path(rest).map_err(mount_err)?;
    let mut out = if (t.name == "mounts" && user == "sys/")
        || (t.name == "auth" && user == "token/")
    {
        let mut out = json!({"default_lease_ttl": c.default_lease_ttl, "max_lease_ttl": c.max_lease_ttl, "force_no_cache": false, "description": ""});
        if t.name == "mounts" {
            out["passthrough_request_headers"] = json!(["Accept"]);
        }
        out
    } else {
        let path = t.full(rest)?;
        let router = t.set.snapshot();
        let m = router
            .get(&path)
            .ok_or_else(|| mount_err(MountTableError::NotMounted(user.clone())))?;
        let e = &m.entry;
        let mut out = json!({
            "default_lease_ttl": if e.config.default_lease_ttl == 0 { c.default_lease_ttl } else { e.config.default_lease_ttl },
            "max_lease_ttl": if e.config.max_lease_ttl == 0 { c.max_lease_ttl } else { e.config.max_lease_ttl },
            "force_no_cache": false,
            "description": e.description,
        });
        if !e.options.is_empty() {
            out["options"] = Value::Object(e.options.clone());
        }
        // Vault shows an auth mount's lockout settings once they are tuned.
        if let (Some(cfg), Value::Object(fields)) = (&e.config.user_lockout_config, &mut out) {
            use crate::core::lockout::LockoutSettings;
            if let Value::Object(lockout) = cfg.to_json() {
                fields.extend(lockout);
            }
        }
        out
    };
    // An auth method's tune names the kind of token it issues.
    if t.name == "auth" {
        out["token_type"] = json!("default-service");
    }
    Ok(Response::data_top_level(obj(out)))
}

/// Tune's `user_lockout_config` (auth mounts only, as in Vault).
fn tune_lockout(
    t: &Target<'_>,
    entry: &mut MountEntry,
    data: &Map<String, Value>,
) -> Result<(), CoreError> {
    use crate::core::lockout::LockoutSettings;
    let Some(v) = data.get("user_lockout_config") else {
        return Ok(());
    };
    if t.name != "auth" {
        return Err(CoreError::BadRequest(
            "user_lockout_config is only for auth methods".into(),
        ));
    }
    let Value::Object(fields) = v else {
        return Err(CoreError::BadRequest(
            "user_lockout_config: expected an object".into(),
        ));
    };
    let mut cfg = entry.config.user_lockout_config.clone().unwrap_or_default();
    cfg.apply(fields).map_err(CoreError::BadRequest)?;
    entry.config.user_lockout_config = Some(cfg);
    Ok(())
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn tune(t: &Target<'_>, rest: &str, data: &Map<String, Value>) -> Result<Response, CoreError> {
    let path = t.full(rest)?;
    let upgraded = t.set.update(|router| {
        let Some(m) = router.remove(&path) else {
            return Err(mount_err(MountTableError::NotMounted(
                t.shown(&path).to_string(),
            )));
        };
        let mut m = Mounted::clone(&m);
        if let Some(v) = fields::opt_duration(data, "default_lease_ttl")? {
            m.entry.config.default_lease_ttl = v;
        }
        if let Some(v) = fields::opt_duration(data, "max_lease_ttl")? {
            m.entry.config.max_lease_ttl = v;
        }
        if let Some(d) = fields::opt_string(data, "description")? {
            m.entry.description = d;
        }
        tune_lockout(t, &mut m.entry, data)?;
        check_ttls(&m.entry)?;
        let options = parse_options(data)?;
        let kv = crate::logical::kv::serves_kind(&m.entry.kind);
        let upgrade = kv
            && m.entry.kv_version() == "1"
            && options.get("version").and_then(Value::as_str) == Some("2");
        let downgrade = kv
            && m.entry.kv_version() == "2"
            && options.get("version").and_then(Value::as_str) == Some("1");
        if downgrade {
            return Err(CoreError::BadRequest(
                "cannot downgrade a kv mount from version 2 to 1".into(),
            ));
        }
        for (k, v) in options {
            m.entry.options.insert(k, v);
        }
        if upgrade {
            let kv = m
                .backend
                .as_any()
                .and_then(|b| b.downcast_ref::<crate::logical::kv::KvBackend>())
                .ok_or_else(|| CoreError::Internal("a kv mount without the kv engine".into()))?;
            kv.upgrade_v1_to_v2(&m.storage)?;
        }
        router.insert(m);
        Ok(Some(upgrade))
    })?;
    let mut r = Response::empty();
    if upgraded == Some(true) {
        // Vault answers an upgrade with a notice (200), not a bare 204.
        r.warnings.push(
            "Upgrading mount from version 1 to version 2. This mount will be unavailable \
             for a brief period and will resume service shortly."
                .into(),
        );
    }
    Ok(r)
}

/// `sys/internal/ui/mounts/:path`: the mount serving `path`, for a token
/// that may use that mount (some capability on or below its path, as
/// Vault's preflight check); others get 403, as if it did not exist to them.
pub(super) fn ui_mount(
    active: &Active,
    rest: &str,
    auth: &Authenticated,
) -> Result<Response, CoreError> {
    let router = active.router();
    // Routing only: "secret" names the mount "secret/".
    let full = format!("{rest}/");
    // No mount there: the same 403 as a mount the token may not use (Vault's
    // preflight check), so the answer tells nothing of what is mounted.
    let (m, _) = router.route(&full).ok_or(CoreError::PermissionDenied)?;
    let e = &m.entry;
    if !auth.acl.has_mount_access(&e.path) {
        return Err(CoreError::PermissionDenied);
    }
    // The shape of sys/mounts, with the mount's path.
    let mut out = obj(e.to_json());
    out.insert("path".into(), json!(e.path));
    if e.options.is_empty() {
        out.insert("options".into(), Value::Null);
    }
    Ok(Response::data(out))
}

/// The outcome of one `sys/remount`, kept for `sys/remount/status/:id`.
#[derive(Clone, Debug)]
struct Migration {
    id: String,
    source: String,
    target: String,
}

/// The latest mount moves of this unsealed state (as Vault, in memory: an
/// id names a move made since the last unseal).
#[derive(Debug, Default)]
pub(crate) struct Migrations(Mutex<VecDeque<Migration>>);

/// How many finished moves `sys/remount/status` remembers.
const MIGRATIONS_KEPT: usize = 100;

impl Migrations {
    fn record(&self, m: Migration) {
        let mut q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() == MIGRATIONS_KEPT {
            q.pop_front();
        }
        q.push_back(m);
    }

    fn get(&self, id: &str) -> Option<Migration> {
        let q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        q.iter().find(|m| m.id == id).cloned()
    }
}

/// Paths no move may take a mount from or to (nor from or to below them).
const UNMOVABLE: [&str; 5] = ["sys/", "cubbyhole/", "identity/", "audit/", "auth/token/"];

/// `sys/remount {from, to}`: moves a secrets engine, or an auth method
/// (`auth/…` to `auth/…`), with all its data. A mount's storage is bound
/// to its uuid, not its path, so the move is one change of the mount
/// table: persisted before the new path serves, and nothing is copied.
/// The leases issued under the old path are revoked (as Vault).
/// Done at once; the answer's migration id reports it as a success.
fn remount(active: &Active, data: &Map<String, Value>) -> Result<Response, CoreError> {
    let from = fields::req_string(data, "from")?;
    let to = fields::req_string(data, "to")?;
    let src = normalize_mount_path(from.trim_matches('/')).map_err(mount_err)?;
    let dst = normalize_mount_path(to.trim_matches('/')).map_err(mount_err)?;
    let auth = match (src.starts_with("auth/"), dst.starts_with("auth/")) {
        (true, true) => true,
        (false, false) => false,
        (true, false) => {
            return Err(CoreError::BadRequest(
                "cannot remount auth mount to non-auth mount".into(),
            ))
        }
        (false, true) => {
            return Err(CoreError::BadRequest(
                "cannot remount non-auth mount to auth mount".into(),
            ))
        }
    };
    for p in [&src, &dst] {
        if UNMOVABLE.iter().any(|r| p.starts_with(r)) {
            return Err(CoreError::BadRequest(format!(
                "cannot remount \"{p}\": a reserved path"
            )));
        }
        if p.as_str() == "auth/" {
            return Err(CoreError::BadRequest(format!("invalid mount path \"{p}\"")));
        }
    }
    if src == dst {
        return Err(CoreError::BadRequest(format!(
            "cannot remount \"{src}\" onto itself"
        )));
    }
    let set = if auth {
        &active.auth_mounts
    } else {
        &active.mounts
    };
    if set.snapshot().get(&src).is_none() {
        return Err(CoreError::BadRequest(format!(
            "no matching mount at \"{src}\""
        )));
    }
    set.update(|router| {
        let Some(m) = router.get(&src).cloned() else {
            return Err(CoreError::BadRequest(format!(
                "no matching mount at \"{src}\""
            )));
        };
        router.remove(&src);
        if router.conflicts(&dst) {
            return Err(CoreError::BadRequest(format!(
                "path already in use at \"{dst}\""
            )));
        }
        let mut moved = Mounted::clone(&m);
        moved.entry.path = dst.clone();
        router.insert(moved);
        Ok(Some(()))
    })?;
    let id = uuid::Uuid::new_v4().to_string();
    tracing::info!(migration_id = %id, from = %src, to = %dst, "mount moved");
    // The leases of the old path name a path nothing serves any more.
    // Revoked once the move is done, so that none is issued there after.
    for lease_id in active.expiration.ids_under(src.trim_end_matches('/'))? {
        if let Some(e) = active.expiration.lookup(&lease_id)? {
            active.revoke_lease(&e)?;
        }
    }
    active.migrations.record(Migration {
        id: id.clone(),
        source: src,
        target: dst,
    });
    let mut r = Response::data_top_level(obj(json!({ "migration_id": id })));
    r.warnings.push(
        "Mount move has been queued. Progress will be reported in Vault's server log, \
         tagged with the returned migration_id"
            .into(),
    );
    Ok(r)
}

/// `sys/remount/status/:migration_id`.
fn remount_status(active: &Active, id: &str) -> Result<Response, CoreError> {
    let m = active.migrations.get(id).ok_or_else(|| {
        CoreError::BadRequest(format!(
            "Did not find migration info for migration id \"{id}\""
        ))
    })?;
    Ok(Response::json(json!({
        "migration_id": m.id,
        "migration_info": {
            "source_mount": m.source,
            "target_mount": m.target,
            "status": "success",
        },
    })))
}
