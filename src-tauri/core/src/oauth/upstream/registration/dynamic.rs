//! Registering Gatehouse at an authorization server (RFC 7591 §2): the metadata of a native public
//! client (MCP 2026-07-28 client registration §Application Type: `application_type: "native"`,
//! the redirect URIs, `token_endpoint_auth_method: "none"`, the authorization-code and refresh
//! grants), the request with its response read within [`MAX_REGISTRATION_BYTES`], and the same
//! metadata as a Client ID Metadata Document to publish (draft §3).

use http::{HeaderMap, HeaderValue, Method, header};
use serde_json::{Value, json};

use crate::net::outbound::{Body, Outbound};
use crate::oauth::upstream::UpstreamError;

/// Largest registration response accepted.
pub const MAX_REGISTRATION_BYTES: usize = 16 * 1024;

/// The client metadata Gatehouse registers with (RFC 7591 §2) for these redirect URIs.
fn client_metadata(redirect_uris: &[&str]) -> Value {
    json!({
        "client_name": "Gatehouse",
        "application_type": "native",
        "redirect_uris": redirect_uris,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    })
}

/// The client metadata document to publish at `url` (Client ID Metadata Document draft §3: the
/// registration metadata plus `client_id`, which must equal the URL it is served from).
pub fn client_metadata_document(url: &str, redirect_uris: &[&str]) -> Value {
    let mut document = client_metadata(redirect_uris);
    document["client_id"] = Value::String(url.to_owned());
    document
}

/// One RFC 7591 registration request; the response's JSON on success.
pub(super) async fn register(
    policy: &Outbound,
    endpoint: &str,
    redirect_uris: &[&str],
) -> Result<Value, UpstreamError> {
    let body = client_metadata(redirect_uris);
    let registration_policy = Outbound {
        max_bytes: MAX_REGISTRATION_BYTES,
        ..*policy
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    let fetched = registration_policy
        .send(Method::POST, endpoint, headers, Body::Json(&body))
        .await
        .map_err(|source| UpstreamError::Outbound {
            what: "registering with the authorization server",
            source,
        })?;
    let answer: Value = serde_json::from_slice(&fetched.body).unwrap_or(Value::Null);
    if !fetched.status.is_success() {
        return Err(UpstreamError::Registration(
            crate::oauth::upstream::oauth_error_text(&answer, fetched.status),
        ));
    }
    Ok(answer)
}
