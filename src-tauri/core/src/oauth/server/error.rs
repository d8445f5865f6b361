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
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::*;

    /// Reads a body that is already in memory (these responses never wait), without an async runtime.
    fn body_json(response: Response) -> serde_json::Value {
        let future = axum::body::to_bytes(response.into_body(), 64 * 1024);
        let mut future = pin!(future);
        let Poll::Ready(Ok(bytes)) = future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        else {
            panic!("an in-memory JSON body is ready at once");
        };
        match serde_json::from_slice(&bytes) {
            Ok(value) => value,
            Err(e) => panic!("error bodies are JSON (RFC 6749 §5.2): {e}"),
        }
    }

    fn header<'a>(response: &'a Response, name: &HeaderName) -> Option<&'a str> {
        response.headers().get(name).and_then(|v| v.to_str().ok())
    }

    fn query_pairs(redirect: &str) -> Vec<(String, String)> {
        match Url::parse(redirect) {
            Ok(url) => url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            Err(e) => panic!("a built redirect is a valid URL: {e}"),
        }
    }

    fn param(redirect: &str, name: &str) -> Option<String> {
        query_pairs(redirect)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    #[test]
    fn codes_serialize_to_their_wire_names() {
        let all = [
            (ErrorCode::InvalidRequest, "invalid_request"),
            (ErrorCode::InvalidClient, "invalid_client"),
            (ErrorCode::InvalidGrant, "invalid_grant"),
            (ErrorCode::UnauthorizedClient, "unauthorized_client"),
            (ErrorCode::UnsupportedGrantType, "unsupported_grant_type"),
            (ErrorCode::InvalidScope, "invalid_scope"),
            (ErrorCode::InvalidTarget, "invalid_target"),
            (ErrorCode::AccessDenied, "access_denied"),
            (
                ErrorCode::UnsupportedResponseType,
                "unsupported_response_type",
            ),
            (ErrorCode::ServerError, "server_error"),
            (ErrorCode::TemporarilyUnavailable, "temporarily_unavailable"),
            (ErrorCode::InvalidRedirectUri, "invalid_redirect_uri"),
            (ErrorCode::InvalidClientMetadata, "invalid_client_metadata"),
            (ErrorCode::UnsupportedTokenType, "unsupported_token_type"),
        ];
        for (code, name) in all {
            assert_eq!(code.as_str(), name, "as_str is the registered error name");
            assert_eq!(
                serde_json::to_value(code).ok(),
                Some(serde_json::json!(name)),
                "serde agrees with as_str"
            );
        }
    }

    #[test]
    fn json_body_status_and_no_store_headers() {
        let response =
            OAuthError::described(ErrorCode::InvalidGrant, "the code has expired").into_response();
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "RFC 6749 §5.2: 400 by default"
        );
        assert_eq!(
            header(&response, &CACHE_CONTROL),
            Some("no-store"),
            "errors are never cached"
        );
        assert_eq!(
            header(&response, &PRAGMA),
            Some("no-cache"),
            "HTTP/1.0 caches too"
        );
        assert_eq!(
            header(&response, &http::header::CONTENT_TYPE),
            Some("application/json"),
            "JSON body"
        );
        assert!(
            header(&response, &WWW_AUTHENTICATE).is_none(),
            "no challenge outside invalid_client"
        );
        assert_eq!(
            body_json(response),
            serde_json::json!({"error": "invalid_grant", "error_description": "the code has expired"}),
            "exact RFC 6749 §5.2 body"
        );
    }

    #[test]
    fn description_is_omitted_when_absent() {
        let body = body_json(OAuthError::new(ErrorCode::UnsupportedGrantType).into_response());
        assert_eq!(
            body,
            serde_json::json!({"error": "unsupported_grant_type"}),
            "no null description"
        );
    }

    #[test]
    fn invalid_client_challenges_only_after_http_auth() {
        let plain = OAuthError::new(ErrorCode::InvalidClient).into_response();
        assert_eq!(
            plain.status(),
            StatusCode::BAD_REQUEST,
            "a 401 needs a challenge; none applies here"
        );
        assert!(
            header(&plain, &WWW_AUTHENTICATE).is_none(),
            "no Basic challenge without HTTP auth"
        );

        let basic = OAuthError::new(ErrorCode::InvalidClient)
            .with_basic_challenge()
            .into_response();
        assert_eq!(
            basic.status(),
            StatusCode::UNAUTHORIZED,
            "RFC 6749 §5.2: MUST be 401 after HTTP auth"
        );
        assert_eq!(
            header(&basic, &WWW_AUTHENTICATE),
            Some("Basic realm=\"gatehouse\""),
            "matching scheme"
        );
        assert_eq!(
            header(&basic, &CACHE_CONTROL),
            Some("no-store"),
            "no-store on 401 too"
        );

        let other = OAuthError::new(ErrorCode::InvalidGrant)
            .with_basic_challenge()
            .into_response();
        assert_eq!(
            other.status(),
            StatusCode::BAD_REQUEST,
            "the flag only concerns invalid_client"
        );
        assert!(
            header(&other, &WWW_AUTHENTICATE).is_none(),
            "the flag only concerns invalid_client"
        );
    }

    #[test]
    fn server_side_codes_have_5xx_statuses() {
        assert_eq!(
            ErrorCode::ServerError.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "server fault"
        );
        assert_eq!(
            ErrorCode::TemporarilyUnavailable.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "retry later"
        );
        assert_eq!(
            ErrorCode::InvalidTarget.status(),
            StatusCode::BAD_REQUEST,
            "RFC 8707: 400"
        );
        assert_eq!(
            ErrorCode::InvalidRedirectUri.status(),
            StatusCode::BAD_REQUEST,
            "RFC 7591 §3.2.2: 400"
        );
    }

    #[test]
    fn descriptions_are_sanitized_to_the_rfc_set() {
        let e = OAuthError::new(ErrorCode::InvalidRequest)
            .with_description(String::from("bad \"x\" \\ é\n"));
        assert_eq!(
            e.description(),
            Some("bad ?x? ? ??"),
            "quote, backslash, non-ASCII and controls replaced"
        );
        let long = OAuthError::new(ErrorCode::InvalidRequest).with_description("a".repeat(2000));
        assert_eq!(
            long.description().map(str::len),
            Some(MAX_DESCRIPTION_LEN),
            "length capped"
        );
        let empty = OAuthError::new(ErrorCode::InvalidRequest).with_description("");
        assert_eq!(
            empty.description(),
            Some("?"),
            "the ABNF requires at least one character"
        );
        let fine = OAuthError::described(ErrorCode::InvalidRequest, "plain ASCII stays");
        assert_eq!(
            fine.description(),
            Some("plain ASCII stays"),
            "valid text is untouched"
        );
    }

    #[test]
    fn display_names_code_and_description() {
        let e = OAuthError::described(ErrorCode::InvalidTarget, "unknown resource");
        assert_eq!(
            e.to_string(),
            "invalid_target: unknown resource",
            "for logs"
        );
        assert_eq!(
            OAuthError::new(ErrorCode::AccessDenied).to_string(),
            "access_denied",
            "code alone"
        );
    }

    #[test]
    fn error_redirect_carries_error_state_and_iss() {
        let Ok(redirect) = error_redirect(
            "http://localhost:53123/callback",
            ErrorCode::AccessDenied,
            Some("the user declined"),
            Some("xyz"),
            "http://127.0.0.1:4849",
        ) else {
            panic!("a registered redirect URI parses");
        };
        assert_eq!(
            redirect,
            "http://localhost:53123/callback?error=access_denied&error_description=the%20user%20declined\
             &state=xyz&iss=http%3A%2F%2F127.0.0.1%3A4849",
            "RFC 6749 §4.1.2.1 + RFC 9207: error, description, state, iss in that order"
        );
    }

    #[test]
    fn state_round_trips_byte_for_byte_with_reserved_characters() {
        let state = "a b&c=d/é?#+%20";
        let Ok(redirect) = code_redirect(
            "http://127.0.0.1:5000/cb",
            "c0de",
            Some(state),
            "http://127.0.0.1:4849",
        ) else {
            panic!("a registered redirect URI parses");
        };
        assert_eq!(
            param(&redirect, "state").as_deref(),
            Some(state),
            "form decoding gives back the exact state"
        );
        let raw = redirect
            .split("state=")
            .nth(1)
            .and_then(|rest| rest.split('&').next())
            .unwrap_or_default();
        assert!(
            raw.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)),
            "only unreserved + %XX"
        );
        let decoded: Vec<u8> = percent_decode(raw);
        assert_eq!(
            decoded,
            state.as_bytes(),
            "plain percent-decoding (decodeURIComponent) agrees"
        );
        assert!(
            !redirect.contains('#'),
            "a # in state must not start a fragment"
        );
    }

    #[test]
    fn existing_query_is_preserved() {
        let Ok(redirect) = code_redirect(
            "https://app.example/cb?tenant=a%20b&x=1",
            "c0de",
            None,
            "http://127.0.0.1:4849",
        ) else {
            panic!("a registered redirect URI parses");
        };
        assert!(
            redirect.starts_with("https://app.example/cb?tenant=a%20b&x=1&code=c0de&"),
            "RFC 6749 §3.1.2"
        );
        assert_eq!(
            param(&redirect, "state"),
            None,
            "no state when the client sent none"
        );
        assert_eq!(
            param(&redirect, "iss").as_deref(),
            Some("http://127.0.0.1:4849"),
            "RFC 9207 iss"
        );
    }

    #[test]
    fn private_use_and_empty_query_redirects() {
        let Ok(redirect) = code_redirect(
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "c",
            Some("s"),
            "http://i",
        ) else {
            panic!("private-use redirect URIs parse");
        };
        assert_eq!(
            redirect,
            "cursor://anysphere.cursor-mcp/oauth/callback?code=c&state=s&iss=http%3A%2F%2Fi",
            "query appended to a private-use URI"
        );
        let Ok(redirect) = code_redirect("com.example.app:/cb?", "c", None, "http://i") else {
            panic!("reverse-DNS redirect URIs parse");
        };
        assert_eq!(
            redirect, "com.example.app:/cb?code=c&iss=http%3A%2F%2Fi",
            "no stray & after an empty query"
        );
    }

    #[test]
    fn error_redirect_sanitizes_description_and_rejects_garbage_uri() {
        let Ok(redirect) = error_redirect(
            "http://127.0.0.1/cb",
            ErrorCode::InvalidRequest,
            Some("é\"x"),
            None,
            "http://i",
        ) else {
            panic!("a registered redirect URI parses");
        };
        assert_eq!(
            param(&redirect, "error_description").as_deref(),
            Some("??x"),
            "RFC 6749 character set"
        );
        assert!(
            error_redirect("not a uri", ErrorCode::ServerError, None, None, "http://i").is_err(),
            "a redirect URI that does not parse is an error, not a redirect"
        );
    }

    #[test]
    fn no_store_headers_are_the_two_cache_headers() {
        let headers = no_store_headers();
        assert_eq!(
            headers[0],
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
            "RFC 6749 §5.1"
        );
        assert_eq!(
            headers[1],
            (PRAGMA, HeaderValue::from_static("no-cache")),
            "RFC 6749 §5.1"
        );
    }

    fn percent_decode(raw: &str) -> Vec<u8> {
        let bytes = raw.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .unwrap_or("zz");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => out.push(b),
                    Err(_) => panic!("the encoder only writes complete %XX escapes"),
                }
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        out
    }
}
