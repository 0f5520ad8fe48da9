//! The HTTP side of the OAuth2 token endpoint, `POST
//! /v1/identity/oidc/token` (RFC 6749 §4.4): reads the form-encoded body
//! and the client's HTTP Basic credentials (§2.3.1: each part
//! form-url-decoded), hands them to the core
//! ([`Core::client_credentials`]), and answers in OAuth2's form: the token
//! JSON, or `{error, error_description}` with 400, or 401 and
//! `WWW-Authenticate: Basic` for `invalid_client`. Always `Cache-Control:
//! no-store` and `Pragma: no-cache` (§5.1).
//!
//! Owns: the parsing of that one request and the shape of its answer.
//! Must not touch: the grant's checks (the core's), other paths; never
//! logs the body, the header or the token.

use std::net::IpAddr;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response as HttpResponse;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use crate::core::oauth2::{OAuthError, TokenRequest};
use crate::core::Core;
use crate::crypto::SecretString;

/// The answer, in OAuth2's form.
pub(super) fn render(result: Result<Value, OAuthError>) -> HttpResponse {
    let (status, body, challenge) = match result {
        Ok(body) => (200, body, false),
        Err(e) => {
            let body = json!({"error": e.code(), "error_description": e.description()});
            (e.status(), body, e == OAuthError::InvalidClient)
        }
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
    let mut resp = HttpResponse::new(Body::from(bytes));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if challenge {
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"vault-rs\", charset=\"UTF-8\""),
        );
    }
    resp
}

/// The token request of `headers` and the form `body`, or the error to
/// answer at once.
pub(super) fn parse(
    headers: &HeaderMap,
    body: &[u8],
    remote_addr: Option<IpAddr>,
) -> Result<TokenRequest, OAuthError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(OAuthError::InvalidRequest(
            "the body must be application/x-www-form-urlencoded".into(),
        ));
    }
    let mut t = TokenRequest {
        grant_type: None,
        client_id: None,
        client_secret: None,
        scope: None,
        basic: false,
        conflicting: false,
        remote_addr,
    };
    let mut seen: Vec<String> = Vec::new();
    for (k, v) in form_urlencoded::parse(body) {
        if seen.iter().any(|s| s == k.as_ref()) {
            t.conflicting = true;
        }
        seen.push(k.to_string());
        match k.as_ref() {
            "grant_type" => t.grant_type = Some(v.into_owned()),
            "client_id" => t.client_id = Some(v.into_owned()),
            "client_secret" => t.client_secret = Some(SecretString::new(v.into_owned())),
            "scope" => t.scope = Some(v.into_owned()),
            _ => {}
        }
    }
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let value = auth.to_str().map_err(|_| OAuthError::InvalidClient)?;
        let Some(encoded) = value
            .strip_prefix("Basic ")
            .or_else(|| value.strip_prefix("basic "))
        else {
            return Err(OAuthError::InvalidClient);
        };
        let decoded = zeroize::Zeroizing::new(
            STANDARD
                .decode(encoded.trim())
                .map_err(|_| OAuthError::InvalidClient)?,
        );
        let text = std::str::from_utf8(&decoded).map_err(|_| OAuthError::InvalidClient)?;
        let (id, secret) = text.split_once(':').ok_or(OAuthError::InvalidClient)?;
        let unescape = |s: &str| -> String {
            form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        if t.client_secret.is_some() {
            t.conflicting = true;
        }
        t.client_id = Some(unescape(id));
        t.client_secret = Some(SecretString::new(unescape(secret)));
        t.basic = true;
    }
    Ok(t)
}

/// Serves one token request on a blocking thread.
pub(super) async fn serve(
    core: std::sync::Arc<Core>,
    headers: &HeaderMap,
    body: &[u8],
    remote_addr: Option<IpAddr>,
) -> HttpResponse {
    let t = match parse(headers, body, remote_addr) {
        Ok(t) => t,
        Err(e) => return render(Err(e)),
    };
    match tokio::task::spawn_blocking(move || core.client_credentials(t)).await {
        Ok(result) => render(result),
        Err(_) => render(Err(OAuthError::Core("internal error".into()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(ct: &str, auth: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        if let Some(a) = auth {
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(a).unwrap());
        }
        h
    }

    #[test]
    fn form_and_basic_credentials() {
        let form = "application/x-www-form-urlencoded";
        let t = parse(
            &headers(form, None),
            b"grant_type=client_credentials&client_id=a&client_secret=b%2Bc&scope=x+y",
            None,
        )
        .unwrap();
        assert_eq!(t.grant_type.as_deref(), Some("client_credentials"));
        assert_eq!(t.client_secret.unwrap().expose(), "b+c");
        assert_eq!(t.scope.as_deref(), Some("x y"));
        assert!(!t.basic && !t.conflicting);
        // Basic: each part form-url-decoded (RFC 6749 §2.3.1)
        let basic = format!("Basic {}", STANDARD.encode("my%3Aid:s%25cret"));
        let t = parse(
            &headers(
                "application/x-www-form-urlencoded; charset=UTF-8",
                Some(&basic),
            ),
            b"grant_type=client_credentials",
            None,
        )
        .unwrap();
        assert!(t.basic);
        assert_eq!(t.client_id.as_deref(), Some("my:id"));
        assert_eq!(t.client_secret.unwrap().expose(), "s%cret");
        // two client authentications, a repeated parameter
        let t = parse(&headers(form, Some(&basic)), b"client_secret=z", None).unwrap();
        assert!(t.conflicting);
        let t = parse(&headers(form, None), b"scope=a&scope=b", None).unwrap();
        assert!(t.conflicting);
        // not a form; a broken header
        assert!(matches!(
            parse(&headers("application/json", None), b"{}", None),
            Err(OAuthError::InvalidRequest(_))
        ));
        for bad in ["Bearer x", "Basic !!!", "Basic bm9jb2xvbg=="] {
            assert_eq!(
                parse(&headers(form, Some(bad)), b"", None).err(),
                Some(OAuthError::InvalidClient),
                "{bad}"
            );
        }
        let r = render(Err(OAuthError::InvalidClient));
        assert_eq!(r.status(), 401);
        assert!(r.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Basic "));
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(render(Err(OAuthError::UnsupportedGrantType)).status(), 400);
    }
}
