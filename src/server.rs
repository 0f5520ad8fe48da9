//! The server process: storage, core, listener, graceful shutdown.
//!
//! [`run`] serves a [`Core`] on a bound listener until `shutdown` resolves;
//! `main` and the integration tests call it (through [`serve`]).
//!
//! Owns the connection-level bounds: at most `max_connections` served at
//! once, a deadline for the TLS handshake and the request headers
//! (`http_read_header_timeout`, also the longest idle keep-alive), and a
//! shutdown deadline: on shutdown the listener closes, in-flight requests
//! get `graceful_shutdown_timeout`, then the remaining connections are
//! dropped, storage is flushed and every key is zeroized by sealing.

mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use base64::Engine;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tower::Service;

use crate::barrier::Barrier;
use crate::config::{Config, ListenerConfig, LogFormat, StorageConfig};
use crate::core::{Core, CoreConfig, Operation, Request};
use crate::physical::{Backend, InmemBackend, PostgresBackend, PostgresOptions, SledBackend};
use crate::sdk::{Clock, ManualClock, SystemClock};
use crate::seal::SealConfig;

/// What `vault-rs server` was asked to do.
#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    pub config_path: Option<PathBuf>,
    pub dev: bool,
    pub dev_root_token_id: Option<String>,
    pub dev_listen_address: Option<String>,
    /// Dev mode only (refused otherwise): the vault's clock stands still
    /// until a root token moves it with `sys/dev/clock`, which also runs
    /// the scheduler once. For tests that would otherwise wait for TTLs.
    pub dev_manual_clock: bool,
}

/// A startup or serving failure, said plainly.
#[derive(Debug)]
pub struct ServerError(pub String);

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ServerError {}

fn err<E: std::fmt::Display>(context: &str) -> impl FnOnce(E) -> ServerError + '_ {
    move |e| ServerError(format!("{context}: {e}"))
}

/// How long work still running after the server stopped (a request's
/// blocking part) may delay the exit.
const RUNTIME_SHUTDOWN: Duration = Duration::from_secs(1);
/// Pause after a failed accept (e.g. no file descriptors left).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Runs the server until SIGTERM or Ctrl-C (blocking).
pub fn serve(opts: ServerOptions) -> Result<(), ServerError> {
    let config = load_config(&opts)?;
    init_tracing(&config.log_level, config.log_format)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(err("cannot start the runtime"))?;
    let result = rt.block_on(serve_async(config, opts));
    // The vault is sealed by now; nothing left may hold the process up.
    rt.shutdown_timeout(RUNTIME_SHUTDOWN);
    result
}

fn load_config(opts: &ServerOptions) -> Result<Config, ServerError> {
    if opts.dev_manual_clock && !opts.dev {
        return Err(ServerError(
            "--dev-manual-clock is only valid with --dev (an in-memory, throwaway server)".into(),
        ));
    }
    match (&opts.config_path, opts.dev) {
        (Some(_), true) => Err(ServerError("use either --config or --dev, not both".into())),
        (Some(p), false) => Config::from_file(p).map_err(|e| ServerError(e.to_string())),
        (None, true) => Ok(Config::dev(
            opts.dev_listen_address.as_deref().unwrap_or("127.0.0.1:8200"),
        )),
        (None, false) => Err(ServerError(
            "a configuration file is required: --config FILE (or --dev for a throwaway in-memory server)".into(),
        )),
    }
}

/// Logs go to stderr: text (coloured only on a terminal) or one JSON
/// object per line. `VAULT_RS_LOG` overrides the level filter and
/// `VAULT_LOG_FORMAT` the format, as Vault's variable does.
fn init_tracing(level: &str, format: LogFormat) -> Result<(), ServerError> {
    use std::io::IsTerminal;
    let format = match std::env::var("VAULT_LOG_FORMAT") {
        Ok(f) if !f.is_empty() => {
            LogFormat::parse(&f).map_err(|e| ServerError(format!("VAULT_LOG_FORMAT: {}", e.0)))?
        }
        _ => format,
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("VAULT_RS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("vault_rs={level},warn")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
    Ok(())
}

fn open_storage(cfg: &StorageConfig) -> Result<Arc<dyn Backend>, ServerError> {
    Ok(match cfg {
        StorageConfig::Sled {
            path,
            cache_capacity,
        } => Arc::new(
            SledBackend::open_with_cache(path, *cache_capacity)
                .map_err(|e| ServerError(e.to_string()))?,
        ),
        StorageConfig::Inmem => Arc::new(InmemBackend::new()),
        StorageConfig::Postgres(c) => Arc::new(
            PostgresBackend::open(&PostgresOptions {
                connection_url: c.connection_url.clone(),
                table: c.table.clone(),
                ha_enabled: c.ha_enabled,
                ha_table: c.ha_table.clone(),
                max_connections: c.max_connections,
                max_idle_connections: c.max_idle_connections,
                tls_ca_file: c.tls_ca_file.clone(),
                lock_ttl: c.lock_ttl,
            })
            .map_err(|e| ServerError(e.to_string()))?,
        ),
    })
}

/// Refuses to serve a store that is neither empty nor a complete vault:
/// it is never shown as uninitialized (where `sys/init` would replace it).
fn check_storage(barrier: &Barrier, cfg: &StorageConfig) -> Result<(), ServerError> {
    let where_ = match cfg {
        StorageConfig::Sled { path, .. } => format!("data directory {}", path.display()),
        StorageConfig::Inmem => "in-memory storage".to_string(),
        StorageConfig::Postgres(c) => format!("postgresql table {}", c.table),
    };
    match barrier.storage_state() {
        Ok(crate::barrier::StorageState::Damaged(why)) => Err(ServerError(format!(
            "refusing to start: the {where_} does not hold a complete vault ({why}); restore it \
             from a backup, or move it aside to initialize a new vault"
        ))),
        Ok(_) => Ok(()),
        Err(e) => Err(ServerError(format!(
            "refusing to start: cannot read the {where_}: {e}"
        ))),
    }
}

/// Builds the core for `config` (sealed, or initialized and unsealed in dev mode).
/// `listen_url` ("http://127.0.0.1:8200") stands in for an unset `api_addr`.
/// `clock`: the wall clock, or a manual one (dev mode only).
fn build_core(
    config: &Config,
    listen_url: &str,
    clock: Arc<dyn Clock>,
) -> Result<Arc<Core>, ServerError> {
    let physical = open_storage(&config.storage)?;
    let barrier = Barrier::new(physical);
    check_storage(&barrier, &config.storage)?;
    Ok(Core::with_clock(
        barrier,
        CoreConfig {
            default_lease_ttl: config.default_lease_ttl,
            max_lease_ttl: config.max_lease_ttl,
            cluster_name: config.cluster_name.clone(),
            unauthenticated_metrics: config.unauthenticated_metrics,
            unauthenticated_generate_root: config.unauthenticated_generate_root,
            unauthenticated_rekey: config.unauthenticated_rekey,
            snapshot: config.snapshot.clone(),
            api_addr: Some(
                config
                    .api_addr
                    .clone()
                    .unwrap_or_else(|| listen_url.to_string()),
            ),
        },
        clock,
    ))
}

/// The clock of the server `opts` asks for: manual only for a dev server
/// (in-memory storage, nothing to keep), the wall clock otherwise.
fn clock_for(opts: &ServerOptions, config: &Config) -> Result<Arc<dyn Clock>, ServerError> {
    if !opts.dev_manual_clock {
        return Ok(Arc::new(SystemClock));
    }
    if !opts.dev || !matches!(config.storage, StorageConfig::Inmem) {
        return Err(ServerError(
            "--dev-manual-clock is only valid with --dev (an in-memory, throwaway server)".into(),
        ));
    }
    Ok(Arc::new(ManualClock::starting_now()))
}

/// Dev mode: one share, unsealed, a root token, `secret/` and `apikeys/` mounted.
fn setup_dev(core: &Core, root_id: Option<String>, url: &str) -> Result<(), ServerError> {
    let result = core
        .initialize(SealConfig::new(1, 1).map_err(err("dev init"))?)
        .map_err(err("dev init"))?;
    let share = &result.shares[0];
    core.submit_unseal_share(share.clone())
        .map_err(err("dev unseal"))?;
    let token = match root_id {
        Some(id) if !id.is_empty() => {
            let t = core
                .create_root_token(Some(id))
                .map_err(err("dev root token"))?;
            let mut revoke = Request::new(Operation::Update, "auth/token/revoke-self");
            revoke.client_token = Some(result.root_token.clone());
            core.handle(revoke).map_err(err("dev root token"))?;
            t
        }
        _ => result.root_token.clone(),
    };
    let mut mount = Request::new(Operation::Update, "sys/mounts/secret");
    mount.client_token = Some(token.clone());
    mount.data.insert("type".into(), "kv".into());
    mount.data.insert(
        "options".into(),
        serde_json::json!({"version": crate::logical::kv::DEV_KV_VERSION}),
    );
    core.handle(mount).map_err(err("dev mount secret/"))?;
    let mut apikeys = Request::new(Operation::Update, "sys/mounts/apikeys");
    apikeys.client_token = Some(token.clone());
    apikeys
        .data
        .insert("type".into(), crate::logical::apikeys::KIND.into());
    core.handle(apikeys).map_err(err("dev mount apikeys/"))?;
    println!("WARNING! dev mode is enabled: in-memory storage, already unsealed, root token printed below.");
    println!();
    println!("You may need to set the following environment variables:");
    println!();
    println!("    $ export VAULT_ADDR='{url}'");
    println!();
    println!(
        "Unseal Key: {}",
        base64::engine::general_purpose::STANDARD.encode(share.expose())
    );
    println!("Root Token: {}", token.expose());
    Ok(())
}

async fn serve_async(config: Config, opts: ServerOptions) -> Result<(), ServerError> {
    // Bound first: an unset api_addr defaults to the address listened on.
    let listener = TcpListener::bind(&config.listener.address)
        .await
        .map_err(err("cannot listen"))?;
    let tls = tls_acceptor(&config.listener)?;
    let addr = listener.local_addr().map_err(err("cannot listen"))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let clock = clock_for(&opts, &config)?;
    let core = build_core(&config, &format!("{scheme}://{addr}"), clock)?;
    if opts.dev {
        setup_dev(
            &core,
            opts.dev_root_token_id.clone(),
            &format!("{scheme}://{addr}"),
        )?;
        if opts.dev_manual_clock {
            println!("WARNING! the clock is manual: time moves only through sys/dev/clock.");
        }
    }
    println!("==> vault-rs server started! Listening on {scheme}://{addr}");
    tracing::info!(%addr, storage = core.barrier().storage_type(), "listening");
    reopen_audit_on_hup(core.clone());
    run(
        core,
        listener,
        tls,
        &config.listener,
        config.max_request_size,
        config.ui,
        shutdown_signal(),
    )
    .await
}

/// SIGHUP reopens the audit files (log rotation); the chain continues.
fn reopen_audit_on_hup(core: Arc<Core>) {
    #[cfg(unix)]
    {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            tracing::warn!("cannot listen for SIGHUP: audit files will not be reopened");
            return;
        };
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                if let Ok(active) = core.active() {
                    active.audit.reopen();
                    tracing::info!("SIGHUP: audit files reopened");
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = core;
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("shutdown requested");
}

/// Serves `core` on `listener` until `shutdown` resolves, then flushes
/// storage and seals. `limits` gives the listener's timeouts and bounds
/// (its address and TLS files are not used here); `ui` serves the web UI
/// at `/ui/` as well.
pub async fn run<F>(
    core: Arc<Core>,
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: &ListenerConfig,
    max_request_size: usize,
    ui: bool,
    shutdown: F,
) -> Result<(), ServerError>
where
    F: Future<Output = ()> + Send + 'static,
{
    let app = crate::http::router(
        core.clone(),
        crate::http::HttpLimits {
            max_request_size,
            body_read_timeout: limits.http_read_timeout,
            max_request_body_memory: limits.max_request_body_memory,
            max_requests_in_flight: limits.max_requests_in_flight,
        },
    );
    let app = crate::http::with_ui(app, ui);
    let result = accept_loop(listener, tls, app, limits, shutdown).await;
    let flushed = core.barrier().flush();
    core.seal();
    tracing::info!("storage flushed, vault sealed, keys zeroized");
    result?;
    flushed.map_err(err("flush on shutdown"))
}

/// The HTTP/1 and HTTP/2 connection settings: headers must arrive within
/// `header_timeout`; an HTTP/2 peer that stops answering pings is dropped.
fn connection_builder(header_timeout: Duration) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(header_timeout)
        .keep_alive_timeout(header_timeout);
    builder
}

/// Accepts connections (at most `max_connections` at once) until
/// `shutdown`; then gives open ones `graceful_shutdown_timeout` to finish
/// and drops the rest.
async fn accept_loop<F>(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: Router,
    limits: &ListenerConfig,
    shutdown: F,
) -> Result<(), ServerError>
where
    F: Future<Output = ()> + Send + 'static,
{
    let header_timeout = limits.http_read_header_timeout;
    let builder = Arc::new(connection_builder(header_timeout));
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut connections = JoinSet::new();
    let mut make = app.into_make_service_with_connect_info::<SocketAddr>();
    tokio::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        // A free slot first: beyond the limit, clients wait in the
        // listen queue and cost nothing here.
        let slot = tokio::select! {
            _ = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(s) => s,
                Err(_) => break,
            },
        };
        let (stream, remote) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let Ok(svc) = make.call(remote).await;
        let svc = TowerToHyperService::new(svc);
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        connections.spawn(async move {
            let _slot = slot;
            match tls {
                None => serve_connection(stream, svc, &builder, watcher, header_timeout).await,
                Some(acceptor) => {
                    let handshake = tls::handshake(&acceptor, stream, header_timeout);
                    if let Some(stream) = handshake.await {
                        serve_connection(stream, svc, &builder, watcher, header_timeout).await;
                    }
                }
            }
        });
    }
    drop(listener);
    let deadline = limits.graceful_shutdown_timeout;
    if tokio::time::timeout(deadline, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            seconds = deadline.as_secs_f64(),
            "shutdown deadline passed: dropping the remaining connections"
        );
    }
    connections.shutdown().await;
    Ok(())
}

/// Serves one connection to its end. The first request must begin within
/// `header_timeout` (later ones are bounded by the HTTP/1 header deadline,
/// which runs from the end of the previous response).
async fn serve_connection<S>(
    stream: S,
    svc: AppService,
    builder: &Builder<TokioExecutor>,
    watcher: hyper_util::server::graceful::Watcher,
    header_timeout: Duration,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (stream, heard) = Heard::new(stream);
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), svc);
    let conn = watcher.watch(conn.into_owned());
    tokio::pin!(conn);
    let result = tokio::select! {
        r = &mut conn => r,
        _ = tokio::time::sleep(header_timeout) => {
            if !heard.load(Ordering::Relaxed) {
                tracing::debug!("client sent nothing in time: connection dropped");
                return;
            }
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection error");
    }
}

type AppService = TowerToHyperService<
    axum::middleware::AddExtension<Router, axum::extract::ConnectInfo<SocketAddr>>,
>;

/// A stream that records whether the client has sent anything yet.
struct Heard<S> {
    inner: S,
    heard: Arc<AtomicBool>,
}

impl<S> Heard<S> {
    fn new(inner: S) -> (Heard<S>, Arc<AtomicBool>) {
        let heard = Arc::new(AtomicBool::new(false));
        (
            Heard {
                inner,
                heard: heard.clone(),
            },
            heard,
        )
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Heard<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.heard.store(true, Ordering::Relaxed);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Heard<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

fn tls_acceptor(l: &ListenerConfig) -> Result<Option<tokio_rustls::TlsAcceptor>, ServerError> {
    if l.tls_disable {
        return Ok(None);
    }
    let (Some(cert), Some(key)) = (&l.tls_cert_file, &l.tls_key_file) else {
        return Err(ServerError(
            "TLS needs tls_cert_file and tls_key_file".into(),
        ));
    };
    tls::acceptor(cert, key).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(dev: bool, manual: bool) -> ServerOptions {
        ServerOptions {
            dev,
            dev_manual_clock: manual,
            ..ServerOptions::default()
        }
    }

    #[test]
    fn a_manual_clock_needs_dev_mode() {
        let refused = load_config(&ServerOptions {
            config_path: Some("vault.hcl".into()),
            ..opts(false, true)
        });
        assert!(refused.is_err_and(|e| e.0.contains("--dev-manual-clock")));
        assert!(load_config(&opts(false, true)).is_err());
        // A persistent store never runs on a manual clock, whatever asks.
        let sled = Config {
            storage: StorageConfig::Sled {
                path: "data".into(),
                cache_capacity: crate::config::DEFAULT_SLED_CACHE,
            },
            ..Config::dev("127.0.0.1:0")
        };
        assert!(clock_for(&opts(true, true), &sled).is_err());
        assert!(clock_for(&opts(false, true), &Config::dev("127.0.0.1:0")).is_err());
    }

    #[test]
    fn dev_mode_chooses_the_clock() {
        let dev = load_config(&opts(true, true)).unwrap();
        let manual = clock_for(&opts(true, true), &dev).unwrap();
        assert!(manual.is_manual());
        assert!(!clock_for(&opts(true, false), &dev).unwrap().is_manual());
    }
}
