//! The server process: storage, core, listener, graceful shutdown.
//!
//! [`run`] serves a [`Core`] on a bound listener until `shutdown` resolves;
//! `main` and the integration tests call it (through [`serve`]). On
//! shutdown in-flight requests finish, storage is flushed and every key is
//! zeroized by sealing.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine;
use tokio::net::TcpListener;

use crate::barrier::Barrier;
use crate::config::{Config, ListenerConfig, StorageConfig};
use crate::core::{Core, CoreConfig, Operation, Request};
use crate::physical::{Backend, InmemBackend, SledBackend};
use crate::seal::SealConfig;

/// What `vault-rs server` was asked to do.
#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    pub config_path: Option<PathBuf>,
    pub dev: bool,
    pub dev_root_token_id: Option<String>,
    pub dev_listen_address: Option<String>,
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

/// Runs the server until SIGTERM or Ctrl-C (blocking).
pub fn serve(opts: ServerOptions) -> Result<(), ServerError> {
    let config = load_config(&opts)?;
    init_tracing(&config.log_level);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(err("cannot start the runtime"))?;
    rt.block_on(serve_async(config, opts))
}

fn load_config(opts: &ServerOptions) -> Result<Config, ServerError> {
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

fn init_tracing(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VAULT_RS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("vault_rs={level},warn")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn open_storage(cfg: &StorageConfig) -> Result<Arc<dyn Backend>, ServerError> {
    Ok(match cfg {
        StorageConfig::Sled { path } => {
            Arc::new(SledBackend::open(path).map_err(|e| ServerError(e.to_string()))?)
        }
        StorageConfig::Inmem => Arc::new(InmemBackend::new()),
    })
}

/// Refuses to serve a store that is neither empty nor a complete vault:
/// it is never shown as uninitialized (where `sys/init` would replace it).
fn check_storage(barrier: &Barrier, cfg: &StorageConfig) -> Result<(), ServerError> {
    let where_ = match cfg {
        StorageConfig::Sled { path } => format!("data directory {}", path.display()),
        StorageConfig::Inmem => "in-memory storage".to_string(),
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
fn build_core(config: &Config, listen_url: &str) -> Result<Arc<Core>, ServerError> {
    let physical = open_storage(&config.storage)?;
    let barrier = Barrier::new(physical);
    check_storage(&barrier, &config.storage)?;
    Ok(Core::new(
        barrier,
        CoreConfig {
            default_lease_ttl: config.default_lease_ttl,
            max_lease_ttl: config.max_lease_ttl,
            cluster_name: config.cluster_name.clone(),
            unauthenticated_metrics: config.unauthenticated_metrics,
            api_addr: Some(
                config
                    .api_addr
                    .clone()
                    .unwrap_or_else(|| listen_url.to_string()),
            ),
        },
    ))
}

/// Dev mode: one share, unsealed, a root token, `secret/` and `apikeys/` mounted.
fn setup_dev(core: &Core, root_id: Option<String>) -> Result<(), ServerError> {
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
    let core = build_core(&config, &format!("{scheme}://{addr}"))?;
    if opts.dev {
        setup_dev(&core, opts.dev_root_token_id.clone())?;
    }
    println!("==> vault-rs server started! Listening on {scheme}://{addr}");
    tracing::info!(%addr, storage = core.barrier().storage_type(), "listening");
    reopen_audit_on_hup(core.clone());
    run(
        core,
        listener,
        tls,
        config.max_request_size,
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
/// storage and seals.
pub async fn run<F>(
    core: Arc<Core>,
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    max_request_size: usize,
    shutdown: F,
) -> Result<(), ServerError>
where
    F: Future<Output = ()> + Send + 'static,
{
    let app = crate::http::router(core.clone(), max_request_size);
    let result = match tls {
        None => axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(err("server error")),
        Some(acceptor) => crate::server_tls::serve_tls(listener, acceptor, app, shutdown).await,
    };
    let flushed = core.barrier().flush();
    core.seal();
    tracing::info!("storage flushed, vault sealed, keys zeroized");
    result?;
    flushed.map_err(err("flush on shutdown"))
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
    crate::server_tls::acceptor(cert, key).map(Some)
}
