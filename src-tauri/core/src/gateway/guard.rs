//! Local-only hardening for every route of the gateway.
//!
//! The gateway listens on 127.0.0.1 only, but a browser can still be steered at it: a page on an
//! attacker's domain that re-resolves to 127.0.0.1 (DNS rebinding) sends its own name as `Host`, and
//! a page on any site sends its `Origin`. So, before anything else (the order is Origin/Host →
//! authentication → protocol, so an unauthenticated client always sees the 401 first):
//! - `Host` must be the gateway's own loopback authority (`127.0.0.1:PORT`, `localhost:PORT`,
//!   `[::1]:PORT`), else **421 Misdirected Request** (MCP Streamable HTTP §Security Warning: DNS
//!   rebinding).
//! - `Origin`, when present, must be a loopback origin (any port: browser-based local clients such as
//!   the MCP Inspector run on their own port), else **403** (MCP 2025-11-25 transports: a present but
//!   disallowed `Origin` MUST get 403). Native clients send no `Origin` and pass.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{HOST, ORIGIN};
use http::{HeaderMap, StatusCode};

use crate::net::loopback::{LocalAuthority, is_loopback_origin};

/// Why a request was refused before reaching a handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `Host` is missing or names something other than this gateway.
    ForeignHost,
    /// `Origin` is present and not a loopback origin.
    ForeignOrigin,
    /// More than one `Host` header.
    DuplicateHost,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, description) = match self {
            Self::ForeignHost => (
                StatusCode::MISDIRECTED_REQUEST,
                "this gateway only answers requests addressed to its own loopback address",
            ),
            Self::DuplicateHost => (
                StatusCode::BAD_REQUEST,
                "a request must carry exactly one Host header (RFC 9112 section 3.2)",
            ),
            Self::ForeignOrigin => (
                StatusCode::FORBIDDEN,
                "requests from this origin are not allowed: only loopback origins may call the gateway",
            ),
        };
        let body =
            serde_json::json!({ "error": "access_denied", "error_description": description });
        (
            status,
            [(http::header::CACHE_CONTROL, "no-store")],
            axum::Json(body),
        )
            .into_response()
    }
}

/// Checks `Host` and `Origin` against the gateway's own authority.
pub fn check(headers: &HeaderMap, uri: &http::Uri, local: &LocalAuthority) -> Result<(), Refusal> {
    // Two `Host` headers are a malformed request (RFC 9112 §3.2: a server MUST respond 400 to a
    // request with more than one Host field); refused here before anyone reads either.
    if headers.get_all(HOST).iter().nth(1).is_some() {
        return Err(Refusal::DuplicateHost);
    }
    let host = headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .ok_or(Refusal::ForeignHost)?;
    if !local.is_own_host(host) {
        return Err(Refusal::ForeignHost);
    }
    if let Some(origin) = headers.get(ORIGIN) {
        let allowed = origin.to_str().ok().is_some_and(is_loopback_origin);
        if !allowed {
            return Err(Refusal::ForeignOrigin);
        }
    }
    Ok(())
}

/// The middleware form of [`check`].
pub async fn local_only(
    State(local): State<LocalAuthority>,
    request: Request,
    next: Next,
) -> Response {
    match check(request.headers(), request.uri(), &local) {
        Ok(()) => next.run(request).await,
        Err(refusal) => {
            tracing::warn!(?refusal, path = %request.uri().path(), "request refused by the local-only guard");
            refusal.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            if let Ok(v) = value.parse() {
                map.insert(*name, v);
            }
        }
        map
    }

    const LOCAL: LocalAuthority = LocalAuthority { port: 4321 };

    #[test]
    fn own_loopback_hosts_pass() {
        for host in [
            "127.0.0.1:4321",
            "localhost:4321",
            "LOCALHOST:4321",
            "[::1]:4321",
        ] {
            let h = headers(&[("host", host)]);
            assert_eq!(
                check(&h, &http::Uri::from_static("/health"), &LOCAL),
                Ok(()),
                "{host} is ours"
            );
        }
    }

    #[test]
    fn two_host_headers_are_refused_even_when_one_is_ours() {
        let local = LocalAuthority { port: 4000 };
        let mut map = HeaderMap::new();
        map.append(HOST, http::HeaderValue::from_static("127.0.0.1:4000"));
        map.append(HOST, http::HeaderValue::from_static("evil.example:4000"));
        let uri: http::Uri = "/authorize".parse().expect("uri");
        assert_eq!(check(&map, &uri, &local), Err(Refusal::DuplicateHost));
        assert_eq!(
            Refusal::DuplicateHost.into_response().status(),
            StatusCode::BAD_REQUEST,
            "RFC 9112 §3.2: 400"
        );
    }

    #[test]
    fn foreign_or_missing_host_is_refused() {
        for host in [
            "evil.example",
            "evil.example:4321",
            "127.0.0.1",
            "127.0.0.1:4322",
            "localhost.evil.example:4321",
            "127.0.0.1:4321.evil",
            "0.0.0.0:4321",
        ] {
            let h = headers(&[("host", host)]);
            assert_eq!(
                check(&h, &http::Uri::from_static("/health"), &LOCAL),
                Err(Refusal::ForeignHost),
                "{host} must be refused (DNS rebinding)"
            );
        }
        assert_eq!(
            check(
                &HeaderMap::new(),
                &http::Uri::from_static("/health"),
                &LOCAL
            ),
            Err(Refusal::ForeignHost),
            "a request without Host must be refused"
        );
    }

    #[test]
    fn origins_are_checked_when_present() {
        let ok = [
            "http://localhost:6274",
            "http://127.0.0.1:4321",
            "http://[::1]:9",
            "https://localhost",
        ];
        for origin in ok {
            let h = headers(&[("host", "127.0.0.1:4321"), ("origin", origin)]);
            assert_eq!(
                check(&h, &http::Uri::from_static("/"), &LOCAL),
                Ok(()),
                "{origin} is loopback"
            );
        }
        let bad = [
            "https://evil.example",
            "null",
            "http://localhost.evil.example",
            "http://127.0.0.1.nip.io",
            "file://",
            "chrome-extension://abc",
            "http://user@localhost:1",
            "not a url",
        ];
        for origin in bad {
            let h = headers(&[("host", "127.0.0.1:4321"), ("origin", origin)]);
            assert_eq!(
                check(&h, &http::Uri::from_static("/"), &LOCAL),
                Err(Refusal::ForeignOrigin),
                "{origin} must get 403"
            );
        }
    }
}
