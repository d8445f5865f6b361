//! CORS for loopback origins on the authorization server's routes (mcp-auth-checklist §1.3, §2.2;
//! product.md §3 "CORS only for loopback origins").
//!
//! The gateway's guard has already refused any request whose `Origin` is not loopback (403), so here
//! an `Origin` is either absent (native clients) or loopback. A loopback origin is echoed in
//! `Access-Control-Allow-Origin` (never `*`, never another origin) with `Vary: Origin`; a preflight
//! (`OPTIONS` with `Access-Control-Request-Method`) is answered here with 204 and never reaches a
//! handler. No credentials are allowed: these endpoints use none (public clients, no cookies).

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_METHOD, ALLOW,
    ORIGIN, VARY,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use crate::net::loopback::is_loopback_origin;

const ALLOWED_METHODS: &str = "GET, POST, OPTIONS";
/// What browser clients send: JSON / form bodies, and the MCP SDK's protocol-version header on
/// discovery requests.
const ALLOWED_HEADERS: &str = "content-type, authorization, mcp-protocol-version";
const EXPOSED_HEADERS: &str = "retry-after";
const PREFLIGHT_MAX_AGE_SECS: &str = "600";

/// The middleware; see the module docs.
pub async fn loopback_cors(request: Request, next: Next) -> Response {
    let origin = request
        .headers()
        .get(ORIGIN)
        .filter(|v| v.to_str().is_ok_and(is_loopback_origin))
        .cloned();
    if request.method() == Method::OPTIONS {
        return preflight(origin, request.headers());
    }
    let mut response = next.run(request).await;
    if let Some(origin) = origin {
        allow(response.headers_mut(), origin);
    }
    response
}

fn preflight(origin: Option<HeaderValue>, request: &HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(ALLOW, HeaderValue::from_static(ALLOWED_METHODS));
    if let Some(origin) = origin.filter(|_| request.contains_key(ACCESS_CONTROL_REQUEST_METHOD)) {
        allow(headers, origin);
        headers.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOWED_METHODS),
        );
        headers.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOWED_HEADERS),
        );
        headers.insert(
            ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(PREFLIGHT_MAX_AGE_SECS),
        );
    }
    response
}

fn allow(headers: &mut HeaderMap, origin: HeaderValue) {
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSED_HEADERS),
    );
    headers.append(VARY, HeaderValue::from_static("origin"));
}
