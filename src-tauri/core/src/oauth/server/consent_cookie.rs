//! Binding a consent to the browser that loaded it (OAuth 2.1 §7.5.4 CSRF, RFC 6265bis §8.8
//! `SameSite`, Fetch Metadata `Sec-Fetch-Site`).
//!
//! `GET /authorize` sets a per-request secret in a cookie that is `HttpOnly` (no page script reads
//! it) and `SameSite=Strict` (a request started by another site never carries it); only its SHA-256
//! is stored. The review page and the decision require it (double submit beside the form's CSRF
//! token), so a program that only POSTs the form — or another site that embeds or posts to Gatehouse —
//! cannot decide. When the browser sends `Sec-Fetch-Site`, the decision requires `same-origin`.
//!
//! A program running as the desktop user could still play a whole browser; that is out of the threat
//! model (README), and programs of other OS accounts never reach these routes
//! (`gateway::caller_policy`).

use http::HeaderMap;
use http::HeaderValue;
use http::header::COOKIE;

use crate::crypto::TokenHash;
use crate::crypto::token::constant_time_eq;
use crate::store::AuthorizationRequestId;

/// Seconds the cookie lives: the authorization request's own lifetime (10 minutes).
const MAX_AGE_SECONDS: u64 = 600;

/// The cookie's name for one authorization request (several consents may be open at once).
pub fn cookie_name(request: &AuthorizationRequestId) -> String {
    format!("gatehouse_consent_{request}")
}

/// The `Set-Cookie` value that hands `secret` to the browser.
pub fn set_cookie(request: &AuthorizationRequestId, secret: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{}={secret}; Path=/; Max-Age={MAX_AGE_SECONDS}; HttpOnly; SameSite=Strict",
        cookie_name(request)
    ))
    .ok()
}

/// The cookie's value in the request, if the browser sent it.
pub fn sent_secret<'a>(
    headers: &'a HeaderMap,
    request: &AuthorizationRequestId,
) -> Option<&'a str> {
    cookie(headers, &cookie_name(request))
}

/// The value of the cookie `name` in the request (RFC 6265 §4.2 `Cookie` header), if sent.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Whether the request carries the cookie whose hash is `stored`.
pub fn holds_cookie(
    headers: &HeaderMap,
    request: &AuthorizationRequestId,
    stored: Option<&[u8; 32]>,
) -> bool {
    match (sent_secret(headers, request), stored) {
        (Some(secret), Some(stored)) => constant_time_eq(TokenHash::of(secret).as_bytes(), stored),
        _ => false,
    }
}

/// Fetch Metadata: a browser that says where the request came from must say `same-origin`; a client
/// that sends no `Sec-Fetch-Site` (an older browser) passes this check and still needs the cookie.
pub fn same_origin_or_unsaid(headers: &HeaderMap) -> bool {
    match headers.get("sec-fetch-site") {
        None => true,
        Some(value) => value.as_bytes().eq_ignore_ascii_case(b"same-origin"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_http_only_strict_and_scoped_to_its_request() {
        let id = AuthorizationRequestId::new();
        let value = set_cookie(&id, "gh_secret").expect("a valid header value");
        let text = value.to_str().expect("ascii");
        assert!(text.starts_with(&format!("gatehouse_consent_{id}=gh_secret;")));
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=600"] {
            assert!(
                text.contains(attribute),
                "RFC 6265bis attribute {attribute}"
            );
        }
    }

    #[test]
    fn only_the_matching_cookie_of_the_same_request_counts() {
        let id = AuthorizationRequestId::new();
        let other = AuthorizationRequestId::new();
        let stored = *TokenHash::of("right").as_bytes();
        let mut headers = HeaderMap::new();
        assert!(
            !holds_cookie(&headers, &id, Some(&stored)),
            "no cookie at all"
        );
        headers.insert(
            COOKIE,
            HeaderValue::from_str(&format!("a=b; {}=right; c=d", cookie_name(&other)))
                .expect("header"),
        );
        assert!(
            !holds_cookie(&headers, &id, Some(&stored)),
            "another request's cookie does not decide this one"
        );
        headers.insert(
            COOKIE,
            HeaderValue::from_str(&format!("a=b; {}=wrong", cookie_name(&id))).expect("header"),
        );
        assert!(!holds_cookie(&headers, &id, Some(&stored)), "wrong secret");
        headers.insert(
            COOKIE,
            HeaderValue::from_str(&format!("a=b; {}=right", cookie_name(&id))).expect("header"),
        );
        assert!(
            holds_cookie(&headers, &id, Some(&stored)),
            "the right cookie"
        );
        assert!(
            !holds_cookie(&headers, &id, None),
            "a request stored without a browser binding cannot be decided"
        );
    }

    #[test]
    fn sec_fetch_site_must_be_same_origin_when_sent() {
        let mut headers = HeaderMap::new();
        assert!(same_origin_or_unsaid(&headers), "not sent");
        for (value, ok) in [
            ("same-origin", true),
            ("same-site", false),
            ("cross-site", false),
            ("none", false),
        ] {
            headers.insert("sec-fetch-site", HeaderValue::from_static(value));
            assert_eq!(
                same_origin_or_unsaid(&headers),
                ok,
                "Sec-Fetch-Site: {value}"
            );
        }
    }
}
