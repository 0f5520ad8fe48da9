//! TLS for the listener (rustls): loading the certificate and key, and the
//! handshake of one connection under a deadline. The accept loop, its
//! limits and shutdown are the server's (one loop for TLS and plain TCP).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::ServerError;

fn read_pem(path: &Path, what: &str) -> Result<Vec<u8>, ServerError> {
    std::fs::read(path)
        .map_err(|e| ServerError(format!("cannot read {what} {}: {e}", path.display())))
}

/// A TLS acceptor from PEM files.
pub(crate) fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, ServerError> {
    let cert_pem = read_pem(cert, "tls_cert_file")?;
    let key_pem = read_pem(key, "tls_key_file")?;
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|e| ServerError(format!("invalid tls_cert_file: {e}")))?;
    if certs.is_empty() {
        return Err(ServerError("tls_cert_file holds no certificate".into()));
    }
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| ServerError(format!("invalid tls_key_file: {e}")))?
        .ok_or_else(|| ServerError("tls_key_file holds no private key".into()))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError(format!("TLS setup: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServerError(format!("TLS certificate/key mismatch: {e}")))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The TLS handshake of one connection, within `timeout`; `None` when it
/// fails or the client is too slow (the connection is then dropped).
pub(crate) async fn handshake(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
    timeout: Duration,
) -> Option<TlsStream<TcpStream>> {
    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
        Ok(Ok(s)) => Some(s),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out");
            None
        }
    }
}
