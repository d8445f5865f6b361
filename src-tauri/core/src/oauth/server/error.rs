//! OAuth protocol errors on the wire, and the redirects that carry authorization responses.
//!
//! Implements:
//! - RFC 6749 §5.2 / OAuth 2.1 §3.2.4: JSON error bodies `{"error", "error_description"}`, 400 by default;
//!   `error_description` limited to `%x20-21 / %x23-5B / %x5D-7E` (printable ASCII without `"` and `\`).
//! - RFC 6749 §5.2 + RFC 9110 §15.5.2: `invalid_client` is **401 with `WWW-Authenticate: Basic
//!   realm="gatehouse"`** only when the client authenticated with the `Authorization` header
//!   ([`OAuthError::with_basic_challenge`]); otherwise 400, because a 401 must carry a challenge and a
//!   public client that sent no credentials has no scheme to be challenged with. (RFC 7617 requires the
//!   `realm` parameter, hence the realm.)
//! - RFC 6749 §5.1 / OAuth 2.1 §3.2.3: `Cache-Control: no-store` and `Pragma: no-cache` on every error
//!   response (and [`no_store_headers`] for the success responses).
//! - RFC 7591 §3.2.2 (`invalid_redirect_uri`, `invalid_client_metadata`), RFC 7009 §2.2.1
//!   (`unsupported_token_type`), RFC 8707 §2 (`invalid_target`).
//! - RFC 6749 §4.1.2 / §4.1.2.1, OAuth 2.1 §4.1.2 and RFC 9207 §2: [`code_redirect`] and [`error_redirect`]
//!   append `code` or `error`/`error_description`, then `state` and `iss`, to the redirect URI's query,
//!   keeping the query it already has (RFC 6749 §3.1.2).
//!
//! # Decisions
//! - Descriptions are sanitized when set: characters outside the RFC 6749 set become `?`, and they are cut
//!   at [`MAX_DESCRIPTION_LEN`]. Prefer `&'static str` descriptions; never put request input in one (the
//!   inner cause goes to the log, never to the client).
//! - Redirect parameters are percent-encoded with everything but RFC 3986 unreserved characters escaped
//!   (space is `%20`, not `+`). Both `application/x-www-form-urlencoded` decoders (RFC 6749 Appendix B)
//!   and plain percent-decoders (`decodeURIComponent`) then give back the exact bytes, so `state` round-trips
//!   byte for byte whichever way the client parses it (OAuth 2.1 §4.1.2: `state` comes back unchanged).
//! - `server_error` answers 500 and `temporarily_unavailable` 503 when sent as JSON; every other code 400.

use std::borrow::Cow;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, PRAGMA, WWW_AUTHENTICATE};
use http::{HeaderName, HeaderValue, StatusCode};
use serde::Serialize;
use url::Url;

/// Longest `error_description` sent, in bytes.
pub const MAX_DESCRIPTION_LEN: usize = 512;

/// The `error` values Gatehouse's authorization server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    /// RFC 8707 §2.
    InvalidTarget,
    AccessDenied,
    UnsupportedResponseType,
    ServerError,
    TemporarilyUnavailable,
    /// RFC 7591 §3.2.2.
    InvalidRedirectUri,
    /// RFC 7591 §3.2.2.
    InvalidClientMetadata,
    /// RFC 7009 §2.2.1.
    UnsupportedTokenType,
}

impl ErrorCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::InvalidTarget => "invalid_target",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::InvalidRedirectUri => "invalid_redirect_uri",
            ErrorCode::InvalidClientMetadata => "invalid_client_metadata",
            ErrorCode::UnsupportedTokenType => "unsupported_token_type",
        }
    }

    /// Status of a JSON error response with this code (without an HTTP authentication challenge).
    pub const fn status(self) -> StatusCode {
        match self {
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// A protocol error, rendered as an RFC 6749 §5.2 JSON response by [`IntoResponse`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}", error.as_str(), description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
pub struct OAuthError {
    error: ErrorCode,
    description: Option<Cow<'static, str>>,
    basic_challenge: bool,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_description: Option<&'a str>,
}

impl OAuthError {
    pub fn new(error: ErrorCode) -> Self {
        OAuthError {
            error,
            description: None,
            basic_challenge: false,
        }
    }

    /// Shorthand for `OAuthError::new(error).with_description(description)`.
    pub fn described(error: ErrorCode, description: &'static str) -> Self {
        OAuthError::new(error).with_description(description)
    }

    /// Sets `error_description`, sanitized to the RFC 6749 §5.2 character set and length-capped.
    pub fn with_description(mut self, description: impl Into<Cow<'static, str>>) -> Self {
        let description = description.into();
        self.description = Some(if is_description_safe(&description) {
            description
        } else {
            Cow::Owned(sanitize_description(&description))
        });
        self
    }

    /// The client authenticated with the `Authorization` header: an `invalid_client` answer becomes 401
    /// with a `WWW-Authenticate: Basic` challenge (RFC 6749 §5.2). No effect on other codes.
    pub fn with_basic_challenge(mut self) -> Self {
        self.basic_challenge = true;
        self
    }

    pub fn error(&self) -> ErrorCode {
        self.error
    }

    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    fn challenges(&self) -> bool {
        self.basic_challenge && self.error == ErrorCode::InvalidClient
    }

    pub fn status(&self) -> StatusCode {
        if self.challenges() {
            StatusCode::UNAUTHORIZED
        } else {
            self.error.status()
        }
    }
}

impl From<ErrorCode> for OAuthError {
    fn from(error: ErrorCode) -> Self {
        OAuthError::new(error)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.error.as_str(),
            error_description: self.description.as_deref(),
        };
        let mut response = (self.status(), no_store_headers(), Json(body)).into_response();
        if self.challenges() {
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"gatehouse\""),
            );
        }
        response
    }
}

/// `Cache-Control: no-store` and `Pragma: no-cache`, required on token responses (RFC 6749 §5.1).
pub fn no_store_headers() -> [(HeaderName, HeaderValue); 2] {
    [
        (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (PRAGMA, HeaderValue::from_static("no-cache")),
    ]
}

/// RFC 6749 §5.2: `error_description = 1*( %x20-21 / %x23-5B / %x5D-7E )`.
fn is_description_char(c: char) -> bool {
    matches!(c, '\x20'..='\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E')
}

fn is_description_safe(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_DESCRIPTION_LEN && s.chars().all(is_description_char)
}

fn sanitize_description(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(MAX_DESCRIPTION_LEN)
        .map(|c| if is_description_char(c) { c } else { '?' })
        .collect();
    if out.is_empty() {
        out.push('?');
    }
    out
}

/// The authorization-error redirect (RFC 6749 §4.1.2.1, RFC 9207 §2): `redirect_uri` with `error`,
/// `error_description` (sanitized), `state` (exactly as received) and `iss` appended to its query.
///
/// Only for a redirect URI already matched against the client's registration; when the client or the
/// redirect URI is in doubt the endpoint shows an error page instead (OAuth 2.1 §4.1.2.1).
pub fn error_redirect(
    redirect_uri: &str,
    code: ErrorCode,
    description: Option<&str>,
    state: Option<&str>,
    issuer: &str,
) -> Result<String, url::ParseError> {
    let description = description.map(sanitize_description);
    let mut params = vec![("error", code.as_str())];
    if let Some(description) = description.as_deref() {
        params.push(("error_description", description));
    }
    if let Some(state) = state {
        params.push(("state", state));
    }
    params.push(("iss", issuer));
    append_query(redirect_uri, &params)
}

/// The successful authorization response (RFC 6749 §4.1.2, RFC 9207 §2): `code`, `state`, `iss`.
pub fn code_redirect(
    redirect_uri: &str,
    code: &str,
    state: Option<&str>,
    issuer: &str,
) -> Result<String, url::ParseError> {
    let mut params = vec![("code", code)];
    if let Some(state) = state {
        params.push(("state", state));
    }
    params.push(("iss", issuer));
    append_query(redirect_uri, &params)
}

fn append_query(redirect_uri: &str, params: &[(&str, &str)]) -> Result<String, url::ParseError> {
    let mut url = Url::parse(redirect_uri)?;
    url.set_fragment(None);
    let mut query = url.query().unwrap_or_default().to_owned();
    for (name, value) in params {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(name);
        query.push('=');
        percent_encode_into(value, &mut query);
    }
    url.set_query(Some(&query));
    Ok(url.into())
}

/// Escapes every byte except RFC 3986 unreserved characters.
fn percent_encode_into(value: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
