//! sys/mounts and sys/auth (list, enable, disable, tune) and
//! sys/internal/ui/mounts.

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
    core: &Core,
    active: &Active,
    req: &Request,
    table: MountTable,
) -> Result<Response, CoreError> {
    match req.operation {
        Operation::Read => Ok(list(core, &Target::of(active, table))),
        _ => Err(LogicalError::UnsupportedOperation.into()),
    }
}

/// `sys/mounts/:path`, `sys/auth/:path`: read, enable, disable.
pub(super) fn mount(
    core: &Core,
    active: &Active,
    req: &Request,
    table: MountTable,
    rest: &str,
) -> Result<Response, CoreError> {
    let target = Target::of(active, table);
    match req.operation {
        Operation::Create | Operation::Update => enable(active, &target, rest, &req.data),
        Operation::Delete => disable(active, &target, rest),
        Operation::Read => read_one(core, &target, rest),
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

fn mount_err(e: MountTableError) -> CoreError {
    match e {
        MountTableError::Storage(b) => b.into(),
        other => CoreError::BadRequest(other.to_string()),
    }
}

fn list(core: &Core, t: &Target<'_>) -> Response {
    let c = core.config();
    let mut m = Map::new();
    for mounted in t.set.snapshot().all() {
        m.insert(
            t.shown(&mounted.entry.path).to_string(),
            mounted.entry.to_json(c.default_lease_ttl, c.max_lease_ttl),
        );
    }
    if t.name == "mounts" {
        m.insert(
            "sys/".into(),
            builtin_json(
                core,
                "sys/",
                "system",
                "system endpoints used for control, policy and debugging",
            ),
        );
    } else {
        m.insert(
            "token/".into(),
            builtin_json(core, "token/", "token", "token based credentials"),
        );
    }
    if t.name == "auth" {
        // Auth mounts also report the kind of token they issue (clients
        // such as vaultrs require the field).
        for v in m.values_mut() {
            if let Some(cfg) = v.get_mut("config").and_then(Value::as_object_mut) {
                cfg.insert("token_type".into(), json!("default-service"));
            }
        }
    }
    // Vault also returns the mounts at the top level of the body.
    Response::data_top_level(m)
}

fn builtin_json(core: &Core, path: &str, kind: &str, description: &str) -> Value {
    let mut e = MountEntry::new(path, kind, description);
    e.uuid = kind.into();
    e.accessor = format!("{kind}_0");
    e.to_json(core.config().default_lease_ttl, core.config().max_lease_ttl)
}

fn read_one(core: &Core, t: &Target<'_>, rest: &str) -> Result<Response, CoreError> {
    let path = t.full(rest)?;
    let router = t.set.snapshot();
    let m = router.get(&path).ok_or(LogicalError::NotFound)?;
    let c = core.config();
    Ok(Response::json(
        m.entry.to_json(c.default_lease_ttl, c.max_lease_ttl),
    ))
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
    entry.options = parse_options(data)?;
    if kind == "kv" && !entry.options.contains_key("version") {
        entry.options.insert("version".into(), json!("1"));
    }
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
    if (t.name == "mounts" && user == "sys/") || (t.name == "auth" && user == "token/") {
        return Ok(Response::json(
            json!({"default_lease_ttl": c.default_lease_ttl, "max_lease_ttl": c.max_lease_ttl, "force_no_cache": false, "description": ""}),
        ));
    }
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
    t.set.update(|router| {
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
        let upgrade = m.entry.kind == "kv"
            && m.entry.kv_version() == "1"
            && options.get("version").and_then(Value::as_str) == Some("2");
        let downgrade = m.entry.kind == "kv"
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
        Ok(Some(()))
    })?;
    Ok(Response::empty())
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
    let (m, _) = router.route(&full).ok_or(LogicalError::NotFound)?;
    let e = &m.entry;
    if !auth.acl.has_mount_access(&e.path) {
        return Err(CoreError::PermissionDenied);
    }
    Ok(Response::json(json!({
        "path": e.path,
        "type": e.kind,
        "description": e.description,
        "options": if e.options.is_empty() { Value::Null } else { Value::Object(e.options.clone()) },
        "config": {"default_lease_ttl": e.config.default_lease_ttl, "max_lease_ttl": e.config.max_lease_ttl, "force_no_cache": false},
        "local": e.local,
        "seal_wrap": e.seal_wrap,
        "external_entropy_access": false,
        "accessor": e.accessor,
        "uuid": e.uuid,
    })))
}
