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
        redirect, "cursor://anysphere.cursor-mcp/oauth/callback?code=c&state=s&iss=http%3A%2F%2Fi",
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
