//! Discovery documents.
//!
//! - RFC 8414 §2/§3 authorization server metadata at `/.well-known/oauth-authorization-server`.
//!   The issuer has no path and is always `http://127.0.0.1:PORT`, also when
//!   the request came through `localhost` or `[::1]`: an issuer is an identifier, and clients compare it
//!   with the `iss` of the authorization response (RFC 9207). `/.well-known/openid-configuration` is
//!   deliberately not served: Gatehouse is not an OpenID Provider (no id_token, no userinfo).
//! - RFC 9728 §3 protected resource metadata, path-inserted, at
//!   `/.well-known/oauth-protected-resource/mcp/<slug>` for every enabled connection; 404 for an unknown
//!   or disabled slug and for the root document (each connection is its own audience, so no
//!   gateway-wide document can describe them all). Its
//!   `resource` names the authority the client used (`localhost:PORT`, `[::1]:PORT` or
//!   `127.0.0.1:PORT`, RFC 9728 §3.3: identical to the URL the client built the well-known from), as
//!   does the 401 challenge's `resource_metadata`; `authorization_servers` is always the one issuer.
//!   Tokens are bound to the connection (slug), whichever loopback name the resource used.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::CACHE_CONTROL;
use serde_json::json;

use super::error::{ErrorCode, OAuthError};
use super::policy::{RESOURCE_SCOPES, SUPPORTED_SCOPES};
use super::resource::is_valid_slug;
use super::routes::AuthorizationServer;
use crate::store::connections;

/// `GET /.well-known/oauth-authorization-server`.
pub async fn authorization_server(State(server): State<AuthorizationServer>) -> Response {
    let issuer = server.issuer();
    let body = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "registration_endpoint": format!("{issuer}/register"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": SUPPORTED_SCOPES,
        "authorization_response_iss_parameter_supported": true,
        "client_id_metadata_document_supported": true,
    });
    document(body)
}

/// `GET /.well-known/oauth-protected-resource/mcp/{slug}`.
pub async fn protected_resource(
    State(server): State<AuthorizationServer>,
    headers: http::HeaderMap,
    Path(slug): Path<String>,
) -> Response {
    if !is_valid_slug(&slug) {
        return not_found();
    }
    let lookup = {
        let slug = slug.clone();
        server
            .store
            .read(move |conn| connections::get_by_slug(conn, &slug))
            .await
    };
    let connection = match lookup {
        Ok(Some(connection)) if connection.enabled => connection,
        Ok(_) => return not_found(),
        Err(e) => {
            tracing::error!(error = %e, "protected resource metadata: store lookup failed");
            return OAuthError::new(ErrorCode::ServerError).into_response();
        }
    };
    // The resource as the client addressed it (same path; `localhost` or `[::1]` kept), so a
    // client configured with `http://localhost:PORT/mcp/…` finds its own URL here (RFC 9728 §3.3).
    let resource = format!(
        "{}/mcp/{}",
        server.local.addressed_base_url(&headers),
        connection.slug
    );
    document(json!({
        "resource": resource,
        "authorization_servers": [server.issuer()],
        "scopes_supported": RESOURCE_SCOPES,
        "bearer_methods_supported": ["header"],
        "resource_name": format!("Gatehouse – {}", connection.name),
    }))
}

/// `GET /.well-known/oauth-protected-resource`: no gateway-wide resource (each connection is its own
/// audience).
pub async fn no_root_resource() -> Response {
    not_found()
}

fn document(body: serde_json::Value) -> Response {
    ([(CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(CACHE_CONTROL, "no-store")],
        Json(json!({
            "error": "not_found",
            "error_description": "no protected resource here; each connection has its own at /.well-known/oauth-protected-resource/mcp/<slug>",
        })),
    )
        .into_response()
}
