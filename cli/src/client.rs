//! HTTP client for the vault-rs API.
//!
//! Owns: the client configuration taken from flags and the environment
//! (`VAULT_ADDR`, `VAULT_TOKEN` or `~/.vault-token`, `VAULT_CACERT`,
//! `VAULT_CLIENT_CERT`, `VAULT_CLIENT_KEY`, `VAULT_SKIP_VERIFY`), building
//! `/v1/` URLs, the headers every request carries (`X-Vault-Token`,
//! `X-Vault-Request: true`), decoding replies and turning `{"errors":[…]}`
//! replies into [`ClientError`], printed in Vault's layout
//! (`Error making API request.` / `URL: GET …` / `Code: N. Errors:`).
//!
//! Tokens live in [`SecretString`], which zeroizes on drop and never prints
//! its content through `Debug`; no error message contains a token.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::blocking::Client as HttpClient;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use reqwest::{Certificate, Identity, Url};
use serde_json::Value;
use zeroize::Zeroizing;

/// Address used when neither `--address` nor `VAULT_ADDR` is set.
pub const DEFAULT_ADDRESS: &str = "http://127.0.0.1:8200";
/// Name of the token file in the home directory.
pub const TOKEN_FILE_NAME: &str = ".vault-token";
/// How long one request may take before it is abandoned.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest non-JSON error body quoted in an error message.
const MAX_QUOTED_BODY: usize = 200;

/// A secret string (token, unseal share, password): zeroized on drop,
/// redacted in `Debug`, and without `Display`.
#[derive(Clone)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    /// Wraps `value`.
    pub fn new(value: String) -> Self {
        SecretString(Zeroizing::new(value))
    }

    /// The secret itself, for the few places that must send it.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

/// clap value parser for secret positional arguments and flags.
pub fn parse_secret(value: &str) -> Result<SecretString, String> {
    Ok(SecretString::new(value.to_owned()))
}

/// The HTTP verbs the API uses (`LIST` is Vault's own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Put,
    Post,
    Patch,
    Delete,
    List,
}

impl Method {
    /// The verb as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::List => "LIST",
        }
    }

    fn to_reqwest(self) -> Result<reqwest::Method, ClientError> {
        reqwest::Method::from_bytes(self.as_str().as_bytes())
            .map_err(|_| ClientError::Config(format!("invalid HTTP method {}", self.as_str())))
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request that did not succeed.
#[derive(Debug)]
pub enum ClientError {
    /// The server answered with a non-2xx status.
    Api {
        method: Method,
        /// The full URL asked (shown in the error, as `vault` does).
        url: String,
        status: u16,
        errors: Vec<String>,
    },
    /// The server could not be reached, or its reply could not be read.
    Transport {
        method: Method,
        path: String,
        message: String,
    },
    /// The client configuration is unusable (bad address, CA file, …).
    Config(String),
}

impl ClientError {
    /// The HTTP status, for errors the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Api {
                method,
                url,
                status,
                errors,
            } => {
                // Vault's `api.ResponseError` layout, which scripts grep.
                write!(
                    f,
                    "Error making API request.\n\nURL: {method} {url}\nCode: {status}. "
                )?;
                if errors.is_empty() {
                    write!(f, "Errors:\n\n* {}", status_reason(*status))
                } else {
                    f.write_str("Errors:\n")?;
                    for error in errors {
                        write!(f, "\n* {error}")?;
                    }
                    Ok(())
                }
            }
            ClientError::Transport {
                method,
                path,
                message,
            } => write!(f, "{method} {path}: {message}"),
            ClientError::Config(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for ClientError {}

/// The canonical reason phrase of a status, for errors with an empty list.
fn status_reason(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|code| code.canonical_reason())
        .unwrap_or("error")
}

/// A reply: its status and its JSON body (`None` when the body is empty).
#[derive(Debug)]
pub struct Response {
    /// The URL asked, for error messages.
    pub url: String,
    pub status: u16,
    pub body: Option<Value>,
}

impl Response {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Where and how to connect, before any connection is made.
pub struct ClientConfig {
    pub address: String,
    pub token: Option<SecretString>,
    pub ca_cert: Option<PathBuf>,
    /// PEM certificate presented to the server (with `client_key`).
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert`.
    pub client_key: Option<PathBuf>,
    pub skip_verify: bool,
    /// Sent as `X-Vault-Wrap-TTL` on every request when set.
    pub wrap_ttl: Option<String>,
}

/// The TLS flags of one invocation (`-ca-cert`, `-client-cert`,
/// `-client-key`, `-tls-skip-verify`); each one, when given, wins over its
/// environment variable.
#[derive(Clone, Debug, Default)]
pub struct TlsFlags {
    pub ca_cert: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub skip_verify: bool,
}

impl ClientConfig {
    /// Builds the configuration from `address` (flag or `VAULT_ADDR`) and the
    /// environment: `VAULT_TOKEN` (else `~/.vault-token`), `VAULT_CACERT`,
    /// `VAULT_CLIENT_CERT`, `VAULT_CLIENT_KEY`, `VAULT_SKIP_VERIFY`.
    pub fn from_env(address: String) -> Result<Self, ClientError> {
        let skip_verify = match std::env::var("VAULT_SKIP_VERIFY") {
            Ok(value) => parse_bool_env("VAULT_SKIP_VERIFY", &value)?,
            Err(_) => false,
        };
        Ok(ClientConfig {
            address,
            token: token_from_env()?,
            ca_cert: path_from_env("VAULT_CACERT"),
            client_cert: path_from_env("VAULT_CLIENT_CERT"),
            client_key: path_from_env("VAULT_CLIENT_KEY"),
            skip_verify,
            wrap_ttl: None,
        })
    }

    /// Applies the TLS flags over the environment's settings.
    pub fn apply_flags(&mut self, flags: &TlsFlags) {
        if let Some(path) = &flags.ca_cert {
            self.ca_cert = Some(path.clone());
        }
        if let Some(path) = &flags.client_cert {
            self.client_cert = Some(path.clone());
        }
        if let Some(path) = &flags.client_key {
            self.client_key = Some(path.clone());
        }
        self.skip_verify |= flags.skip_verify;
    }
}

/// A file path from the environment, unless unset or empty.
fn path_from_env(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
}

/// Parses a boolean like Go's `strconv.ParseBool` (what Vault accepts).
fn parse_bool_env(name: &str, value: &str) -> Result<bool, ClientError> {
    match value.trim() {
        "" | "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        _ => Err(ClientError::Config(format!(
            "{name} must be true or false (got {value:?})"
        ))),
    }
}

/// The token from `VAULT_TOKEN`, else from the token file, else none.
pub fn token_from_env() -> Result<Option<SecretString>, ClientError> {
    if let Ok(value) = std::env::var("VAULT_TOKEN") {
        let value = Zeroizing::new(value);
        let trimmed = value.trim();
        if !trimmed.is_empty() {
            return Ok(Some(SecretString::new(trimmed.to_owned())));
        }
    }
    match token_file_path() {
        Some(path) => read_token_file(&path),
        None => Ok(None),
    }
}

/// `$HOME/.vault-token`, when `HOME` is set.
pub fn token_file_path() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|home| !home.is_empty())
        .map(|home| PathBuf::from(home).join(TOKEN_FILE_NAME))
}

fn read_token_file(path: &Path) -> Result<Option<SecretString>, ClientError> {
    match std::fs::read_to_string(path) {
        Ok(contents) => {
            let contents = Zeroizing::new(contents);
            let trimmed = contents.trim();
            if trimmed.is_empty() {
                Ok(None)
            } else {
                Ok(Some(SecretString::new(trimmed.to_owned())))
            }
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(ClientError::Config(format!(
            "cannot read token file {}: {error}",
            path.display()
        ))),
    }
}

/// A connection to one vault-rs server, with an optional token.
pub struct Client {
    http: HttpClient,
    base: Url,
    token: Option<SecretString>,
    wrap_ttl: Option<String>,
}

impl Client {
    /// Builds the HTTP client (TLS settings included) for `config`.
    pub fn new(config: &ClientConfig) -> Result<Self, ClientError> {
        let base = parse_address(&config.address)?;
        let mut builder = HttpClient::builder()
            .timeout(REQUEST_TIMEOUT)
            .danger_accept_invalid_certs(config.skip_verify);
        if let Some(path) = &config.ca_cert {
            for certificate in read_ca_file(path)? {
                builder = builder.add_root_certificate(certificate);
            }
        }
        match (&config.client_cert, &config.client_key) {
            (Some(cert), Some(key)) => {
                builder = builder.identity(read_identity(cert, key)?);
            }
            (None, None) => {}
            _ => {
                return Err(ClientError::Config(
                    "a client certificate needs both -client-cert and -client-key \
                     (or VAULT_CLIENT_CERT and VAULT_CLIENT_KEY)"
                        .to_owned(),
                ))
            }
        }
        let http = builder
            .build()
            .map_err(|error| ClientError::Config(format!("cannot build HTTP client: {error}")))?;
        Ok(Client {
            http,
            base,
            token: config.token.clone(),
            wrap_ttl: config.wrap_ttl.clone(),
        })
    }

    /// The same connection with another token (or none).
    pub fn with_token(&self, token: Option<SecretString>) -> Client {
        Client {
            http: self.http.clone(),
            base: self.base.clone(),
            token,
            wrap_ttl: self.wrap_ttl.clone(),
        }
    }

    /// Sends one request and returns the reply whatever its status.
    /// Only transport failures are errors here.
    pub fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Response, ClientError> {
        let url = self.url(path, query)?;
        let url_text = url.to_string();
        let mut request = self
            .http
            .request(method.to_reqwest()?, url)
            .headers(self.headers(method, path)?);
        if let Some(body) = body {
            let bytes = Zeroizing::new(serde_json::to_vec(body).map_err(|error| {
                transport(method, path, format!("cannot encode request: {error}"))
            })?);
            request = request.body(bytes.to_vec());
        }
        let reply = request
            .send()
            .map_err(|error| transport(method, path, error_chain(&error)))?;
        let status = reply.status().as_u16();
        let text = reply
            .text()
            .map_err(|error| transport(method, path, error_chain(&error)))?;
        decode_reply(method, path, &url_text, status, &text)
    }

    /// Sends one request; a non-2xx reply is an error. Returns the body.
    pub fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Option<Value>, ClientError> {
        let response = self.send(method, path, &[], body)?;
        into_body(method, response)
    }

    /// GET with query parameters; `Ok(None)` for a 404 (nothing there).
    pub fn read_with_query(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Option<Value>, ClientError> {
        let response = self.send(Method::Get, path, query, None)?;
        if response.status == 404 {
            return Ok(None);
        }
        into_body(Method::Get, response)
    }

    /// GET; `Ok(None)` for a 404 (nothing there).
    pub fn read(&self, path: &str) -> Result<Option<Value>, ClientError> {
        self.read_with_query(path, &[])
    }

    /// LIST; `Ok(None)` for a 404 (nothing there).
    pub fn list(&self, path: &str) -> Result<Option<Value>, ClientError> {
        let response = self.send(Method::List, path, &[], None)?;
        if response.status == 404 {
            return Ok(None);
        }
        into_body(Method::List, response)
    }

    /// Sends a binary body (or none) and returns a 2xx reply's raw bytes;
    /// any other reply is an error built from its `errors`. For snapshots.
    pub fn send_bytes(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Vec<u8>, ClientError> {
        let url = self.url(path, &[])?;
        let url_text = url.to_string();
        let mut headers = self.headers(method, path)?;
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        let mut request = self
            .http
            .request(method.to_reqwest()?, url)
            .headers(headers);
        if let Some(body) = body {
            request = request.body(body);
        }
        let reply = request
            .send()
            .map_err(|error| transport(method, path, error_chain(&error)))?;
        let status = reply.status().as_u16();
        let bytes = reply
            .bytes()
            .map_err(|error| transport(method, path, error_chain(&error)))?;
        if (200..300).contains(&status) {
            return Ok(bytes.to_vec());
        }
        let text = String::from_utf8_lossy(&bytes);
        let response = decode_reply(method, path, &url_text, status, &text)?;
        into_body(method, response)?;
        Err(ClientError::Api {
            method,
            url: url_text,
            status,
            errors: Vec::new(),
        })
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> Result<Url, ClientError> {
        let mut url = self.base.clone();
        {
            let mut segments = url.path_segments_mut().map_err(|_| {
                ClientError::Config(format!("invalid server address {}", self.base))
            })?;
            segments.pop_if_empty().push("v1");
            for segment in path.trim_start_matches('/').split('/') {
                segments.push(segment);
            }
        }
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (key, value) in query {
                pairs.append_pair(key, value);
            }
        }
        Ok(url)
    }

    fn headers(&self, method: Method, path: &str) -> Result<HeaderMap, ClientError> {
        let mut headers = HeaderMap::new();
        headers.insert("X-Vault-Request", HeaderValue::from_static("true"));
        let content_type = if method == Method::Patch {
            "application/merge-patch+json"
        } else {
            "application/json"
        };
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Some(token) = &self.token {
            let mut value = HeaderValue::from_str(token.expose()).map_err(|_| {
                transport(
                    method,
                    path,
                    "the token contains characters not allowed in a header".to_owned(),
                )
            })?;
            value.set_sensitive(true);
            headers.insert("X-Vault-Token", value);
        }
        if let Some(ttl) = &self.wrap_ttl {
            let value = HeaderValue::from_str(ttl.trim())
                .map_err(|_| transport(method, path, "invalid --wrap-ttl value".to_owned()))?;
            headers.insert("X-Vault-Wrap-TTL", value);
        }
        Ok(headers)
    }
}

fn transport(method: Method, path: &str, message: String) -> ClientError {
    ClientError::Transport {
        method,
        path: path.to_owned(),
        message,
    }
}

/// Parses the server address; it must be an http(s) URL.
fn parse_address(address: &str) -> Result<Url, ClientError> {
    let url = Url::parse(address.trim()).map_err(|error| {
        ClientError::Config(format!("invalid server address {address:?}: {error}"))
    })?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(ClientError::Config(format!(
            "invalid server address {address:?}: scheme must be http or https, not {other}"
        ))),
    }
}

fn read_ca_file(path: &Path) -> Result<Vec<Certificate>, ClientError> {
    let pem = std::fs::read(path).map_err(|error| {
        ClientError::Config(format!(
            "cannot read CA certificate {}: {error}",
            path.display()
        ))
    })?;
    let certificates = Certificate::from_pem_bundle(&pem).map_err(|error| {
        ClientError::Config(format!(
            "invalid CA certificate {}: {error}",
            path.display()
        ))
    })?;
    if certificates.is_empty() {
        return Err(ClientError::Config(format!(
            "no certificate found in {}",
            path.display()
        )));
    }
    Ok(certificates)
}

/// The client certificate and its key, read from two PEM files.
fn read_identity(cert: &Path, key: &Path) -> Result<Identity, ClientError> {
    let read = |path: &Path, what: &str| {
        std::fs::read(path).map(Zeroizing::new).map_err(|error| {
            ClientError::Config(format!("cannot read {what} {}: {error}", path.display()))
        })
    };
    let mut pem = read(key, "client key")?;
    pem.push(b'\n');
    pem.extend_from_slice(&read(cert, "client certificate")?);
    Identity::from_pem(&pem).map_err(|error| {
        ClientError::Config(format!(
            "invalid client certificate {} or key {}: {}",
            cert.display(),
            key.display(),
            error_chain(&error)
        ))
    })
}

/// An error and its sources, joined with `: `.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// Turns the raw reply into a [`Response`]; bodies must be JSON or empty.
fn decode_reply(
    method: Method,
    path: &str,
    url: &str,
    status: u16,
    text: &str,
) -> Result<Response, ClientError> {
    if text.trim().is_empty() {
        return Ok(Response {
            url: url.to_owned(),
            status,
            body: None,
        });
    }
    match serde_json::from_str::<Value>(text) {
        Ok(body) => Ok(Response {
            url: url.to_owned(),
            status,
            body: Some(body),
        }),
        Err(_) if !(200..300).contains(&status) => Err(ClientError::Api {
            method,
            url: url.to_owned(),
            status,
            errors: vec![quote_body(text)],
        }),
        Err(error) => Err(transport(
            method,
            path,
            format!("the server sent a reply that is not JSON: {error}"),
        )),
    }
}

fn quote_body(text: &str) -> String {
    let trimmed = text.trim();
    match trimmed.char_indices().nth(MAX_QUOTED_BODY) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed.to_owned(),
    }
}

/// The body of a 2xx reply, or the reply's `errors` as a [`ClientError`].
pub fn into_body(method: Method, response: Response) -> Result<Option<Value>, ClientError> {
    if response.is_success() {
        return Ok(response.body);
    }
    Err(ClientError::Api {
        method,
        url: response.url,
        status: response.status,
        errors: error_list(response.body.as_ref()),
    })
}

/// The strings of `{"errors":[…]}`, if the body has that shape.
pub fn error_list(body: Option<&Value>) -> Vec<String> {
    let Some(errors) = body
        .and_then(|body| body.get("errors"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    errors
        .iter()
        .map(|error| match error {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn client(address: &str) -> Client {
        let config = ClientConfig {
            address: address.to_owned(),
            token: None,
            ca_cert: None,
            client_cert: None,
            client_key: None,
            skip_verify: false,
            wrap_ttl: None,
        };
        match Client::new(&config) {
            Ok(client) => client,
            Err(error) => panic!("client: {error}"),
        }
    }

    #[test]
    fn urls_are_under_v1_and_escaped() {
        let client = client("http://127.0.0.1:8200");
        let url = client.url("secret/data/a b", &[]).ok();
        assert_eq!(
            url.map(|u| u.to_string()),
            Some("http://127.0.0.1:8200/v1/secret/data/a%20b".to_owned())
        );
        let url = client.url("/secret/", &[("version", "2".to_owned())]).ok();
        assert_eq!(
            url.map(|u| u.to_string()),
            Some("http://127.0.0.1:8200/v1/secret/?version=2".to_owned())
        );
    }

    #[test]
    fn address_with_trailing_slash_or_prefix() {
        let client = client("https://vault.example:8200/");
        let url = client.url("sys/seal-status", &[]).ok();
        assert_eq!(
            url.map(|u| u.to_string()),
            Some("https://vault.example:8200/v1/sys/seal-status".to_owned())
        );
    }

    #[test]
    fn bad_addresses_are_rejected() {
        assert!(parse_address("127.0.0.1:8200").is_err());
        assert!(parse_address("ftp://host").is_err());
        assert!(parse_address("not a url").is_err());
    }

    const URL: &str = "http://127.0.0.1:8200/v1/sys/init";

    #[test]
    fn api_error_display_is_vaults_layout() {
        let error = ClientError::Api {
            method: Method::Put,
            url: URL.to_owned(),
            status: 400,
            errors: vec!["a".to_owned(), "b".to_owned()],
        };
        assert_eq!(
            error.to_string(),
            "Error making API request.\n\nURL: PUT http://127.0.0.1:8200/v1/sys/init\n\
             Code: 400. Errors:\n\n* a\n* b"
        );
        let error = ClientError::Api {
            method: Method::Get,
            url: "http://h/v1/x".to_owned(),
            status: 404,
            errors: vec![],
        };
        assert_eq!(
            error.to_string(),
            "Error making API request.\n\nURL: GET http://h/v1/x\nCode: 404. Errors:\n\n* Not Found"
        );
    }

    #[test]
    fn error_bodies_are_decoded() {
        let response = Response {
            url: "http://h/v1/secret/x".to_owned(),
            status: 403,
            body: Some(json!({"errors": ["permission denied"]})),
        };
        let error = into_body(Method::Get, response).err();
        assert_eq!(
            error.map(|e| e.to_string()),
            Some(
                "Error making API request.\n\nURL: GET http://h/v1/secret/x\n\
                 Code: 403. Errors:\n\n* permission denied"
                    .to_owned()
            )
        );
    }

    #[test]
    fn non_json_error_body_is_quoted() {
        let reply = decode_reply(Method::Get, "p", URL, 502, "Bad gateway").err();
        assert!(reply
            .map(|e| e.to_string())
            .is_some_and(|text| text.ends_with("Code: 502. Errors:\n\n* Bad gateway")));
        assert!(decode_reply(Method::Get, "p", URL, 200, "not json").is_err());
        let empty = decode_reply(Method::Get, "p", URL, 204, "").ok();
        assert!(empty.is_some_and(|r| r.body.is_none()));
    }

    #[test]
    fn secret_debug_is_redacted() {
        let secret = SecretString::new("hvs.topsecret".to_owned());
        assert!(!format!("{secret:?}").contains("topsecret"));
    }

    #[test]
    fn go_style_booleans() {
        assert_eq!(parse_bool_env("X", "1").ok(), Some(true));
        assert_eq!(parse_bool_env("X", "true").ok(), Some(true));
        assert_eq!(parse_bool_env("X", "0").ok(), Some(false));
        assert!(parse_bool_env("X", "yes").is_err());
    }
}
