//! The per-request pipeline: unauthenticated system paths first; then
//! sealed check, token lookup, audit of the request (fail closed), ACL
//! check, dispatch, token use accounting, audit of the response.
//!
//! What a mount serves without a token, what needs `sudo` and whether a
//! path or operation exists (404/405) come from the backend's declared
//! route table (`LogicalBackend::routes`); for `sys/` and `auth/token/`,
//! from [`super::sys_routes`] (the seal lifecycle, rekey and token-less
//! root generation, response unwrapping).

use std::sync::Arc;

use super::lockout::LockoutSettings;
use super::state::{policy_err, token_err};
use super::system;
use super::{Active, Core, CoreError, Operation, Request, Response};
use crate::audit::{
    AuditInput, AuditScope, AuditedError, ErrorRecord, MountInfo, Outcome, TokenRecord,
};
use crate::core::token_store::TokenEntry;
use crate::logical::{Caller, LogicalError, LogicalRequest};
use crate::policy::{Acl, Capability};
use crate::router::{Mounted, Router};
use crate::sdk::route;

/// Who made the request and what they may do.
pub(crate) struct Authenticated {
    pub caller: Caller,
    pub entry: TokenEntry,
    pub acl: Arc<Acl>,
}

/// The routers one request sees: taken once (two `Arc` clones), so every
/// step of the request routes against the same published mount tables and
/// none copies them.
struct Routes {
    mounts: Arc<Router>,
    auth: Arc<Router>,
}

impl Routes {
    fn of(active: &Active) -> Routes {
        Routes {
            mounts: active.mounts.snapshot(),
            auth: active.auth_mounts.snapshot(),
        }
    }

    /// The router for `path` (auth methods under `auth/`).
    fn for_path(&self, path: &str) -> &Router {
        if path.starts_with("auth/") {
            &self.auth
        } else {
            &self.mounts
        }
    }
}

/// Serves one request and counts it: the metrics' one call site for
/// requests (mount, operation, status class, latency).
pub(crate) fn handle(core: &Core, req: Request) -> Result<Response, CoreError> {
    let started = std::time::Instant::now();
    let operation = req.operation.as_str();
    let path = req.path.clone();
    let result = handle_request(core, req);
    let status = match &result {
        Ok(resp) => resp.status.unwrap_or(200),
        Err(e) => e.client_view().status,
    };
    let mount = match (
        core.active(),
        super::path::canonicalize(Operation::Read, &path),
    ) {
        (Ok(active), Ok(canonical)) => mount_info(&Routes::of(&active), &canonical.path).point,
        _ if path.starts_with("sys/") => "sys/".to_string(),
        _ => String::new(),
    };
    core.metrics()
        .observe_request(&mount, operation, status, started.elapsed());
    result
}

/// The path as canonicalised: a help request may name a mount's root as
/// `secret/` (Vault's `path-help secret/`), which a read may not.
fn help_spelling(req: &Request) -> &str {
    if super::help::wants_help(req.operation, &req.data) {
        req.path.trim_end_matches('/')
    } else {
        &req.path
    }
}

fn handle_request(core: &Core, mut req: Request) -> Result<Response, CoreError> {
    // One canonical path for everything below: the ACL and the handler see
    // the same string, and no engine re-normalises it.
    let canonical = super::path::canonicalize(req.operation, help_spelling(&req))
        .map_err(|e| CoreError::BadRequest(e.to_string()))?;
    req.path = canonical.path;
    req.alias = canonical.alias;
    if super::sys_routes::sys_share_flow(&req.path) {
        return audited_rekey(core, req);
    }
    if let Some(resp) = system::handle_unauthenticated(core, &req)? {
        return Ok(resp);
    }
    let active = core.active()?;
    let routes = Routes::of(&active);
    let (auth, auth_err) = match authenticate(&active, &req) {
        Ok(a) => (Some(a), None),
        Err(e) => (None, Some(e)),
    };
    // Audit: the request is recorded before anything is performed, or
    // refused (fail closed); then its response (or error).
    let audit = active.audit.scope();
    let mount = audit_mount(&routes, &audit, &req.path);
    let token = auth.as_ref().map(|a| token_record(&a.entry));
    let auth_error = auth_err.as_ref().map(CoreError::audit_record);
    let open_path = is_wrapping_open_path(&req.path)
        || (req.path.starts_with("auth/") && !req.path.starts_with("auth/token/"))
        || (auth_err.is_some() && unauthenticated_read(&routes, &req).is_some());
    // A request that changes nothing has its request entry written with
    // its response entry (one sync).
    let defer = matches!(req.operation, Operation::Read | Operation::List)
        && req.wrap_ttl.is_none()
        && auth.as_ref().is_none_or(|a| a.entry.num_uses == 0);
    let logging = std::time::Instant::now();
    let logged = audit.log_request(
        &AuditInput {
            request: &req,
            auth: token.as_ref(),
            mount: &mount,
            outcome: None,
            error: if open_path { None } else { auth_error.as_ref() },
        },
        defer,
    );
    core.metrics()
        .observe_audit_log(logging.elapsed(), logged.is_err());
    let entry = match logged {
        Ok(entry) => entry,
        Err(e) => {
            // Fail closed, except for the operator's way out of failing devices
            // (an authenticated disable or seal; the ACL still decides).
            if auth.is_none() || !crate::audit::serves_when_devices_fail(req.operation, &req.path) {
                return Err(e.into());
            }
            tracing::error!(path = %req.path, error = %e, "no audit device recorded the request; served as the operator's way out");
            crate::audit::RequestEntry::recorded()
        }
    };
    let result = serve(core, &active, &routes, &mut req, auth.as_ref(), auth_err);
    let logging = std::time::Instant::now();
    let answered = audit.respond_after(entry, &req, token.as_ref(), &mount, result);
    // A response no device recorded is answered as an audit failure (500).
    let unrecorded = matches!(&answered, Err(CoreError::Audit(_)));
    core.metrics()
        .observe_audit_log(logging.elapsed(), unrecorded);
    answered
}

/// See [`Core::precheck`]: the same decisions as [`handle`] and
/// [`serve`], made on the path and token alone.
pub(crate) fn precheck(core: &Core, req: &mut Request) -> Result<(), CoreError> {
    // The same canonical path `handle` will use; the request keeps its own
    // spelling, which `handle` canonicalises (and aliases) itself.
    let canonical = super::path::canonicalize(req.operation, help_spelling(req))
        .map_err(|e| CoreError::BadRequest(e.to_string()))?;
    let spelled = std::mem::replace(&mut req.path, canonical.path);
    let result = precheck_canonical(core, req);
    req.path = spelled;
    result
}

fn precheck_canonical(core: &Core, req: &Request) -> Result<(), CoreError> {
    if system::is_unauthenticated(core, &req.path) {
        return Ok(());
    }
    let active = core.active()?;
    let routes = Routes::of(&active);
    if is_wrapping_open_path(&req.path)
        || login_route(&routes, req).is_some()
        || unauthenticated_read(&routes, req).is_some()
    {
        return Ok(());
    }
    let Err(e) = authenticate(&active, req) else {
        return Ok(());
    };
    // Recorded as `handle` records a refused token: the request (its body
    // unread), then the error.
    let audit = active.audit.scope();
    let mount = audit_mount(&routes, &audit, &req.path);
    let record = e.audit_record();
    for outcome in [None, Some(Outcome::Err(record.clone()))] {
        let error = outcome.is_none().then_some(&record);
        audit.log(&AuditInput {
            request: req,
            auth: None,
            mount: &mount,
            outcome,
            error,
        })?;
    }
    Err(e)
}

/// The audit log's record of a token: what it shows of the entry.
fn token_record(e: &TokenEntry) -> TokenRecord {
    TokenRecord {
        accessor: e.accessor.clone(),
        display_name: e.display_name.clone(),
        policies: e.policies.clone(),
        metadata: e.meta.clone(),
        entity_id: e.entity_id.clone(),
        ttl: e.creation_ttl,
        issue_time: e.creation_time,
    }
}

/// The audit log records an error as the client sees it: the status of
/// [`CoreError::client_view`], its text (no internal detail: a 500 is
/// "internal error"). A 404 that carries data is a response
/// ([`Response::not_found_with_data`]), recorded as such.
impl AuditedError for CoreError {
    fn audit_record(&self) -> ErrorRecord {
        let status = self.client_view().status;
        let message = if status == 500 {
            "internal error".to_string()
        } else {
            self.to_string()
        };
        ErrorRecord { status, message }
    }
}

/// The response-wrapping paths that may be used without a token (the
/// `unauthenticated` routes of the `sys/` table).
fn is_wrapping_open_path(path: &str) -> bool {
    super::sys_routes::sys_unauthenticated(path)
}

/// `sys/rekey/*` and `sys/generate-root/*` change who can open the vault:
/// when unsealed, their requests and responses are audited like any other
/// (fail closed; share and key values are HMAC-ed). Each is served without
/// a token (the shares are the credential) only where the configuration
/// enables it; `sys/rekey/*` otherwise takes a token with `sudo` on the
/// path (`sys/generate-root-token/*` is the token form of the other).
fn audited_rekey(core: &Core, req: Request) -> Result<Response, CoreError> {
    let serve = |req: &Request| {
        system::handle_unauthenticated(core, req)?
            .ok_or_else(|| CoreError::UnsupportedPath(req.path.clone()))
    };
    // `sys/rekey/*` is served without a token only when the configuration
    // says so (`enable_unauthenticated_access = ["rekey"]`); otherwise the
    // request needs a token with `sudo` on the path, checked here.
    let token_rekey =
        super::sys_routes::sys_rekey(&req.path) && !core.config().unauthenticated_rekey;
    let active = match core.active() {
        Ok(active) => active,
        Err(e) if token_rekey => return Err(e),
        Err(_) => return serve(&req),
    };
    let (auth, auth_err) = match (token_rekey, &req.client_token) {
        (false, _) => (None, None),
        (true, None) => (None, Some(CoreError::BadRequest(REKEY_NEEDS_TOKEN.into()))),
        (true, Some(_)) => match authenticate(&active, &req) {
            Ok(a) => (Some(a), None),
            Err(e) => (None, Some(e)),
        },
    };
    let audit = active.audit.scope();
    let mount = audit_mount(&Routes::of(&active), &audit, &req.path);
    let token = auth.as_ref().map(|a| token_record(&a.entry));
    let auth_error = auth_err.as_ref().map(CoreError::audit_record);
    audit.log(&AuditInput {
        request: &req,
        auth: token.as_ref(),
        mount: &mount,
        outcome: None,
        error: auth_error.as_ref(),
    })?;
    let result = match (auth_err, &auth) {
        (Some(e), _) => Err(e),
        (None, None) => serve(&req),
        (None, Some(a)) => authorize(a, req.operation, &req.path, true).and_then(|()| {
            let last_use =
                a.entry.num_uses > 0 && active.tokens.spend_use(&a.entry.key).map_err(token_err)?;
            let result = serve(&req);
            if last_use {
                active.tokens.revoke_tree(&a.entry.key).map_err(token_err)?;
            }
            result
        }),
    };
    audit.respond(&req, token.as_ref(), &mount, result)
}

/// The answer to a token-less `sys/rekey/*` request when the configuration
/// does not serve them.
const REKEY_NEEDS_TOKEN: &str = "unauthenticated rekey is disabled: send a token with \
     \"sudo\" on sys/rekey/*, or set enable_unauthenticated_access = [\"rekey\"] in the \
     server configuration";

/// The mount a path belongs to, when some audit device will record it.
fn audit_mount(routes: &Routes, audit: &AuditScope, path: &str) -> MountInfo {
    if audit.is_empty() {
        MountInfo::default()
    } else {
        mount_info(routes, path)
    }
}

/// Unauthenticated paths (unwrap, login), then the authenticated request.
fn serve(
    core: &Core,
    active: &Arc<Active>,
    routes: &Routes,
    req: &mut Request,
    auth: Option<&Authenticated>,
    auth_err: Option<CoreError>,
) -> Result<Response, CoreError> {
    if let Some(resp) = super::wrapping::handle_unauthenticated(active, req)? {
        return Ok(resp);
    }
    if let Some(resp) = try_login(core, active, routes, req)? {
        return maybe_wrap(active, req, resp);
    }
    if let Some(resp) = try_unauthenticated_read(routes, req, core.clock().as_ref())? {
        return Ok(resp);
    }
    let Some(auth) = auth else {
        return Err(auth_err.unwrap_or(CoreError::PermissionDenied));
    };
    // `?help=1`: any valid token may ask (Vault's rule); the path is not
    // served.
    if super::help::wants_help(req.operation, &req.data) {
        return super::help::help(&routes.mounts, &routes.auth, &req.path);
    }
    // A limited-use token spends its use before the request runs, under the
    // token's lock, so concurrent requests cannot exceed the limit.
    let last_use = auth.entry.num_uses > 0
        && active
            .tokens
            .spend_use(&auth.entry.key)
            .map_err(token_err)?;
    let result = dispatch(core, active, routes, req, auth);
    if last_use {
        active
            .tokens
            .revoke_tree(&auth.entry.key)
            .map_err(token_err)?;
    }
    maybe_wrap(active, req, result?)
}

/// The mount a path belongs to, for audit entries.
fn mount_info(routes: &Routes, path: &str) -> MountInfo {
    let info = |point: &str, kind: &str| MountInfo {
        point: point.into(),
        kind: kind.into(),
    };
    if path == "sys" || path.starts_with("sys/") {
        return info("sys/", "system");
    }
    if path == "auth/token" || path.starts_with("auth/token/") {
        return info("auth/token/", "token");
    }
    match routes.for_path(path).route(path) {
        Some((m, _)) => info(&m.entry.path, &m.entry.kind),
        None => MountInfo::default(),
    }
}

/// Applies `X-Vault-Wrap-TTL` to a successful response (a 404 that
/// carries data is answered as it is, like any error).
fn maybe_wrap(active: &Active, req: &Request, resp: Response) -> Result<Response, CoreError> {
    match req.wrap_ttl {
        Some(ttl) if !resp.is_not_found() => super::wrapping::wrap(active, &req.path, ttl, resp),
        _ => Ok(resp),
    }
}

fn authenticate(active: &Active, req: &Request) -> Result<Authenticated, CoreError> {
    let token = req
        .client_token
        .as_ref()
        .ok_or(CoreError::PermissionDenied)?;
    let entry = active.tokens.lookup(token.expose()).map_err(token_err)?;
    if !crate::auth::cidr::allowed(&entry.bound_cidrs, req.remote_addr) {
        return Err(CoreError::PermissionDenied);
    }
    let acl = active.policies.acl(&entry.policies).map_err(policy_err)?;
    let caller = Caller {
        accessor: entry.accessor.clone(),
        // A batch token has no storage of its own (no cubbyhole).
        token_key: if entry.batch {
            String::new()
        } else {
            entry.key.clone()
        },
        policies: entry.policies.clone(),
        display_name: entry.display_name.clone(),
        metadata: login_metadata(&entry),
        remote_addr: req.remote_addr,
    };
    Ok(Authenticated { caller, entry, acl })
}

/// The metadata an engine may trust: what an auth method attached at login.
/// A token created through the token store (`auth/token/create…`) carries
/// metadata its creator chose, so it counts for nothing here — otherwise a
/// token holder could put any claim (`groups=admins`) into the identity
/// tokens its children obtain.
fn login_metadata(entry: &TokenEntry) -> serde_json::Map<String, serde_json::Value> {
    let by_auth_method = entry.path.starts_with("auth/") && !entry.path.starts_with("auth/token/");
    if by_auth_method {
        entry.meta.clone()
    } else {
        serde_json::Map::new()
    }
}

/// The capability an operation needs.
pub(crate) fn capability_for(op: Operation) -> Capability {
    match op {
        Operation::Read => Capability::Read,
        Operation::List => Capability::List,
        Operation::Create => Capability::Create,
        Operation::Update => Capability::Update,
        Operation::Patch => Capability::Patch,
        Operation::Delete => Capability::Delete,
    }
}

/// Checks that `auth` may perform `op` on `path` (and has sudo if needed).
pub(crate) fn authorize(
    auth: &Authenticated,
    op: Operation,
    path: &str,
    sudo: bool,
) -> Result<(), CoreError> {
    let caps = if op == Operation::List {
        auth.acl.list_capabilities(path)
    } else {
        auth.acl.capabilities(path)
    };
    if !caps.contains(capability_for(op)) || (sudo && !caps.contains(Capability::Sudo)) {
        return Err(CoreError::PermissionDenied);
    }
    Ok(())
}

fn dispatch(
    core: &Core,
    active: &Arc<Active>,
    routes: &Routes,
    req: &mut Request,
    auth: &Authenticated,
) -> Result<Response, CoreError> {
    if req.path == "sys" || req.path.starts_with("sys/") {
        return system::handle(core, active, req, auth);
    }
    if req.path.starts_with("auth/token/") || req.path == "auth/token" {
        return crate::core::token_store::handlers::handle(core, active, req, auth);
    }
    route_to_mount(routes.for_path(&req.path), req, auth, core.clock().as_ref())
}

/// Serves an auth method's unauthenticated path (login) and issues the
/// token it asks for. `None`: not such a path.
fn try_login(
    core: &Core,
    active: &Active,
    routes: &Routes,
    req: &mut Request,
) -> Result<Option<Response>, CoreError> {
    let Some((mounted, rel)) = login_route(routes, req) else {
        return Ok(None);
    };
    let caller = Caller {
        remote_addr: req.remote_addr,
        ..Caller::default()
    };
    let lreq = LogicalRequest {
        operation: req.operation,
        path: rel,
        data: &req.data,
        storage: &mounted.storage,
        mount: mounted.entry.point(),
        caller: &caller,
        clock: active.tokens.clock().as_ref(),
    };
    // Lockout (Vault's user_lockout): a locked alias is refused before
    // its credentials are looked at, with the answer of any refusal.
    let entry = &mounted.entry;
    let settings = entry
        .config
        .user_lockout_config
        .clone()
        .unwrap_or_default()
        .effective();
    let alias = if settings.disabled {
        None
    } else {
        mounted.backend.login_alias(&lreq)
    };
    let now = core.clock().unix();
    if let Some(alias) = &alias {
        if active.lockout.is_locked(&entry.accessor, alias, now) {
            core.metrics().login_failed(&entry.kind);
            return Err(CoreError::PermissionDenied);
        }
    }
    let mut resp = match mounted.backend.handle(&lreq) {
        Ok(resp) => resp,
        Err(e) => {
            core.metrics().login_failed(&entry.kind);
            if let (Some(alias), LogicalError::InvalidCredentials(_)) = (&alias, &e) {
                if active.lockout.failed(&entry.accessor, alias, settings, now) {
                    core.metrics().locked_out(&entry.kind);
                    tracing::warn!(
                        mount = %entry.path,
                        accessor = %entry.accessor,
                        "login locked out after {} failed attempts",
                        settings.threshold
                    );
                }
            }
            return Err(e.into());
        }
    };
    resp.mount_type = Some(mounted.entry.kind.clone());
    if resp.login.is_some() {
        if let Some(alias) = &alias {
            active.lockout.succeeded(&entry.accessor, alias);
        }
    }
    if let Some(login) = resp.login.take() {
        let entry = &mounted.entry;
        resp.auth = Some(issue_login_token(active, entry, login)?);
    }
    Ok(Some(resp))
}

/// The auth mount and relative path of an unauthenticated auth path
/// (login); `None` for any other path.
fn login_route<'r, 'p>(routes: &'r Routes, req: &'p Request) -> Option<(&'r Mounted, &'p str)> {
    if !req.path.starts_with("auth/") || req.path.starts_with("auth/token/") {
        return None;
    }
    let (mounted, rel) = routes.auth.route(&req.path)?;
    let table = mounted.backend.routes(mounted.entry.point());
    route::lookup(table, rel)
        .is_some_and(|m| m.route.unauthenticated)
        .then_some((mounted.as_ref(), rel))
}

/// The secrets mount and relative path of a GET that the mount's engine
/// serves without a token (an `unauthenticated` route of its table: the
/// identity engine's well-known OIDC documents). Reads only; never `sys/`,
/// `auth/`.
fn unauthenticated_read<'r, 'p>(
    routes: &'r Routes,
    req: &'p Request,
) -> Option<(&'r Mounted, &'p str)> {
    if req.operation != Operation::Read
        || req.path.starts_with("sys/")
        || req.path.starts_with("auth/")
    {
        return None;
    }
    let (mounted, rel) = routes.mounts.route(&req.path)?;
    let table = mounted.backend.routes(mounted.entry.point());
    route::find(table, rel, Operation::Read)
        .is_ok_and(|m| m.route.unauthenticated)
        .then_some((mounted.as_ref(), rel))
}

/// Serves [`unauthenticated_read`] paths with an anonymous caller (no
/// token needed, none consulted). `None`: not such a path.
fn try_unauthenticated_read(
    routes: &Routes,
    req: &Request,
    clock: &dyn crate::sdk::Clock,
) -> Result<Option<Response>, CoreError> {
    let Some((mounted, rel)) = unauthenticated_read(routes, req) else {
        return Ok(None);
    };
    let caller = Caller {
        remote_addr: req.remote_addr,
        ..Caller::default()
    };
    let lreq = LogicalRequest {
        operation: Operation::Read,
        path: rel,
        data: &req.data,
        storage: &mounted.storage,
        mount: mounted.entry.point(),
        caller: &caller,
        clock,
    };
    let mut resp = mounted.backend.handle(&lreq)?;
    resp.mount_type = Some(mounted.entry.kind.clone());
    Ok(Some(resp))
}

/// Creates the (orphan) token of a successful login.
fn issue_login_token(
    active: &Active,
    mount: &crate::router::MountEntry,
    login: crate::logical::LoginAuth,
) -> Result<crate::core::AuthResponse, CoreError> {
    let limits = active.tokens.limits();
    let mount_max = if mount.config.max_lease_ttl > 0 {
        mount.config.max_lease_ttl
    } else {
        limits.max_ttl
    };
    let default_ttl = if mount.config.default_lease_ttl > 0 {
        mount.config.default_lease_ttl
    } else {
        limits.default_ttl
    };
    let max = if login.max_ttl > 0 {
        login.max_ttl.min(mount_max)
    } else {
        mount_max
    };
    let ttl = if login.ttl > 0 {
        login.ttl
    } else {
        default_ttl
    }
    .min(max);
    let reserved = [
        crate::policy::ROOT_POLICY,
        crate::core::token_store::WRAPPING_POLICY,
    ];
    if login
        .policies
        .iter()
        .any(|p| reserved.contains(&p.trim().to_lowercase().as_str()))
    {
        return Err(CoreError::BadRequest(
            "auth methods cannot create root tokens".into(),
        ));
    }
    let mut policies: Vec<String> = login
        .policies
        .iter()
        .map(|p| p.trim().to_lowercase())
        .filter(|p| !p.is_empty())
        .collect();
    if !login.no_default_policy && !policies.iter().any(|p| p == crate::policy::DEFAULT_POLICY) {
        policies.push(crate::policy::DEFAULT_POLICY.into());
    }
    policies.sort();
    policies.dedup();
    let kind = mount.kind.clone();
    let params = crate::core::token_store::TokenParams {
        policies,
        meta: login.metadata,
        display_name: if login.display_name.is_empty() {
            kind
        } else {
            format!("{kind}-{}", login.display_name)
        },
        num_uses: login.num_uses,
        ttl,
        // A periodic login token renews indefinitely unless capped explicitly.
        explicit_max_ttl: if login.period > 0 && login.max_ttl == 0 {
            0
        } else {
            max
        },
        period: login.period,
        renewable: true,
        path: format!("{}login", mount.path),
        internal_meta: login.internal,
        bound_cidrs: login.bound_cidrs,
        ..Default::default()
    };
    let (token, entry) = active.tokens.create(params).map_err(token_err)?;
    let now = active.tokens.clock().unix();
    Ok(crate::core::token_store::handlers::auth_block(
        &entry, &token, now,
    ))
}

fn route_to_mount(
    router: &Router,
    req: &mut Request,
    auth: &Authenticated,
    clock: &dyn crate::sdk::Clock,
) -> Result<Response, CoreError> {
    let Some((mounted, rel)) = router.route(&req.path) else {
        return Err(CoreError::UnsupportedPath(req.path.clone()));
    };
    let lreq = LogicalRequest {
        operation: req.operation,
        path: rel,
        data: &req.data,
        storage: &mounted.storage,
        mount: mounted.entry.point(),
        caller: &auth.caller,
        clock,
    };
    let op = resolve_write_op(mounted.backend.as_ref(), &lreq)?;
    req.operation = op;
    // The mount's table decides sudo, and 404 (no route) or 405 (not this
    // operation) once the caller may ask at all.
    let found = route::find(mounted.backend.routes(mounted.entry.point()), rel, op);
    let sudo = found.as_ref().is_ok_and(|m| m.route.sudo);
    authorize(auth, op, &req.path, sudo)?;
    let lreq = LogicalRequest {
        operation: op,
        ..lreq
    };
    if let Err(e) = found {
        let unrouted = match e {
            route::RouteError::UnsupportedPath => mounted.backend.unrouted(&lreq),
            route::RouteError::UnsupportedOperation => None,
        };
        let Some(mut resp) = unrouted else {
            return Err(LogicalError::from_route(e, rel).into());
        };
        resp.mount_type = Some(mounted.entry.kind.clone());
        return Ok(resp);
    }
    let mut resp = mounted.backend.handle(&lreq)?;
    resp.mount_type = Some(mounted.entry.kind.clone());
    Ok(resp)
}

/// Create vs update: asks the engine whether the target exists.
fn resolve_write_op(
    backend: &dyn crate::logical::LogicalBackend,
    req: &LogicalRequest<'_>,
) -> Result<Operation, CoreError> {
    if !matches!(req.operation, Operation::Create | Operation::Update) {
        return Ok(req.operation);
    }
    Ok(match backend.exists(req)? {
        Some(false) => Operation::Create,
        _ => Operation::Update,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use serde_json::json;

    use super::*;
    use crate::barrier::Barrier;
    use crate::physical::InmemBackend;
    use crate::router::MountEntry;
    use crate::sdk::{MountPoint, Route};
    use crate::seal::{new_unseal_key, SealConfig};

    /// A backend whose table alone says what is open, what needs sudo and
    /// what exists; it counts the requests that reach it.
    #[derive(Default)]
    struct Declared {
        served: AtomicUsize,
    }

    const ROUTES: &[Route] = &[
        Route::new("open", &[Operation::Read]).unauthenticated(),
        Route::new("root-only", &[Operation::Read, Operation::Update]).sudo(),
        Route::new("plain/:name", &[Operation::Read]),
    ];

    impl crate::logical::LogicalBackend for Declared {
        fn handle(&self, _req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
            self.served.fetch_add(1, Ordering::SeqCst);
            Ok(Response::empty())
        }

        fn routes(&self, _mount: MountPoint<'_>) -> &'static [Route] {
            ROUTES
        }
    }

    fn routes_with(backend: Arc<Declared>) -> Routes {
        let barrier = Barrier::new(Arc::new(InmemBackend::new()));
        barrier
            .initialize(
                &new_unseal_key(),
                &SealConfig::new(1, 1).expect("seal config"),
            )
            .expect("init");
        let mut router = Router::new();
        router.insert(Mounted {
            entry: MountEntry::new("declared/", "declared", ""),
            backend,
            storage: barrier.view("declared"),
        });
        Routes {
            mounts: Arc::new(router),
            auth: Arc::new(Router::new()),
        }
    }

    fn caller(policy: &str) -> Authenticated {
        let policy = crate::policy::parse("p", policy).expect("policy");
        let entry: TokenEntry = serde_json::from_value(json!({
            "key": "k", "accessor": "a", "policies": ["p"],
            "creation_time": 0, "creation_ttl": 0, "expire_time": 0,
        }))
        .expect("entry");
        Authenticated {
            caller: Caller::default(),
            entry,
            acl: Arc::new(Acl::new(&[Arc::new(policy)])),
        }
    }

    fn send(
        routes: &Routes,
        who: &Authenticated,
        op: Operation,
        path: &str,
    ) -> Result<Response, CoreError> {
        let mut req = Request::new(op, path);
        route_to_mount(
            routes.for_path(path),
            &mut req,
            who,
            &crate::sdk::SystemClock,
        )
    }

    #[test]
    fn the_table_decides_sudo_and_unsupported_paths() {
        let backend = Arc::new(Declared::default());
        let routes = routes_with(backend.clone());
        let user = caller(r#"path "declared/*" { capabilities = ["read", "update"] }"#);
        let admin = caller(r#"path "declared/*" { capabilities = ["read", "update", "sudo"] }"#);
        use Operation::*;
        assert!(matches!(
            send(&routes, &user, Read, "declared/root-only"),
            Err(CoreError::PermissionDenied)
        ));
        assert!(send(&routes, &admin, Read, "declared/root-only").is_ok());
        assert!(send(&routes, &user, Read, "declared/plain/x").is_ok());
        assert_eq!(backend.served.load(Ordering::SeqCst), 2);
        // 405 and 404 from the table, before the backend is asked
        assert!(matches!(
            send(&routes, &admin, Update, "declared/plain/x"),
            Err(CoreError::Logical(LogicalError::UnsupportedOperation))
        ));
        assert!(matches!(
            send(&routes, &admin, Read, "declared/plain/x/y"),
            Err(CoreError::Logical(LogicalError::UnsupportedPath(p))) if p == "plain/x/y"
        ));
        assert_eq!(backend.served.load(Ordering::SeqCst), 2);
        // the ACL still comes first: no capability, no 404
        let nobody = caller(r#"path "other/*" { capabilities = ["read"] }"#);
        assert!(matches!(
            send(&routes, &nobody, Read, "declared/nope"),
            Err(CoreError::PermissionDenied)
        ));
    }

    #[test]
    fn the_table_decides_what_is_served_without_a_token() {
        let routes = routes_with(Arc::new(Declared::default()));
        let open =
            |op, path: &str| unauthenticated_read(&routes, &Request::new(op, path)).is_some();
        assert!(open(Operation::Read, "declared/open"));
        assert!(!open(Operation::Update, "declared/open"));
        assert!(!open(Operation::Read, "declared/root-only"));
        assert!(!open(Operation::Read, "declared/open/x"));
        assert!(!open(Operation::Read, "declared/plain/open"));
    }
}
