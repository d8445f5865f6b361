//! `POST /token` (OAuth 2.1 §3.2, §4.1.3, §4.3; RFC 6749 §5; RFC 7636 §4.6; RFC 8707 §2.2).
//!
//! Public clients only: `client_id` in the body identifies the client, no secret exists. Every answer,
//! success or error, carries `Cache-Control: no-store` and `Pragma: no-cache`.
//!
//! One submodule per grant: [`mod@authorization_code`] (OAuth 2.1 §4.1.3; RFC 7636 §4.6; RFC 8707
//! §2.2) and [`mod@refresh_token`] (OAuth 2.1 §4.3, with the reuse grace window). This module
//! parses the request, identifies the client and keeps what both grants share.
//!
//! # Anything else
//! `grant_type` missing → `invalid_request`; any other value (`password`, `client_credentials`,
//! `implicit`, ...) → `unsupported_grant_type`. A body that is not a well-formed form is
//! `invalid_request` ([`super::form`]).

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use http::header::AUTHORIZATION;
use secrecy::SecretString;

use super::error::{ErrorCode, OAuthError};
use super::form::Form;
use super::resource::{ResourceUri, parse_resource_params, slug_for};
use super::routes::AuthorizationServer;
use crate::net::caller::Peer;
use crate::store::authorization_requests::CallerProcess;

use crate::clock::UnixMillis;
use crate::store::{ClientId, StoreError};

mod authorization_code;
mod refresh_token;

use authorization_code::authorization_code;
pub use refresh_token::RefreshGrace;
use refresh_token::refresh_token;

/// `POST /token`.
pub async fn token(
    State(server): State<AuthorizationServer>,
    peer: Peer,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = match Form::parse(&headers, body) {
        Ok(form) => exchange(&server, &peer, &headers, &form).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(response) => response,
        Err(e) => {
            tracing::info!(error = %e, "token request refused");
            e.into_response()
        }
    }
}

async fn exchange(
    server: &AuthorizationServer,
    peer: &Peer,
    headers: &HeaderMap,
    form: &Form,
) -> Result<Response, OAuthError> {
    let grant_type = form.required("grant_type")?;
    match grant_type {
        "authorization_code" | "refresh_token" => {}
        _ => {
            return Err(OAuthError::described(
                ErrorCode::UnsupportedGrantType,
                "only authorization_code and refresh_token are supported",
            ));
        }
    }
    let client_id = client_id(headers, form)?;
    if grant_type == "authorization_code" {
        // The program that redeems the code is the client itself (the browser only carried it).
        let caller = peer.process().await.map(|p| CallerProcess {
            pid: p.pid,
            exe: p.exe,
        });
        authorization_code(server, client_id, caller, form).await
    } else {
        refresh_token(server, client_id, form).await
    }
}

/// Public clients send `client_id` in the body. One that tried HTTP authentication instead gets
/// `invalid_client` with a challenge (Gatehouse issues no secrets).
fn client_id(headers: &HeaderMap, form: &Form) -> Result<ClientId, OAuthError> {
    match form.get("client_id").and_then(ClientId::new) {
        Some(id) => Ok(id),
        None if headers.contains_key(AUTHORIZATION) => Err(OAuthError::described(
            ErrorCode::InvalidClient,
            "public clients send client_id in the request body; no client secrets are issued",
        )
        .with_basic_challenge()),
        None => Err(OAuthError::described(
            ErrorCode::InvalidRequest,
            "the client_id parameter is required",
        )),
    }
}

fn invalid_grant(description: &'static str) -> OAuthError {
    OAuthError::described(ErrorCode::InvalidGrant, description)
}

fn store_failed(e: &StoreError) -> OAuthError {
    tracing::error!(error = %e, "token endpoint: store failure");
    OAuthError::new(ErrorCode::ServerError)
}

fn requested_resource(form: &Form) -> Result<Option<ResourceUri>, OAuthError> {
    parse_resource_params(&form.all("resource")).map_err(|e| {
        tracing::info!(error = %e, "token request: bad resource");
        OAuthError::described(
            ErrorCode::InvalidTarget,
            "the resource parameter is invalid",
        )
    })
}

/// Whether a requested `resource` names the same connection as `bound` (the canonical resource the
/// grant is for), through any loopback alias.
fn same_resource(requested: &ResourceUri, bound: &str, port: u16) -> bool {
    if requested.as_str() == bound {
        return true;
    }
    let Ok(bound) = ResourceUri::parse(bound) else {
        return false;
    };
    matches!((slug_for(requested, port), slug_for(&bound, port)), (Some(a), Some(b)) if a == b)
}

fn split_scopes(scopes: &str) -> Vec<&str> {
    scopes.split(' ').filter(|s| !s.is_empty()).collect()
}

/// The outcome of a token transaction: tokens, or an error to answer once the transaction committed.
enum Outcome {
    Issued {
        access_expires_at: UnixMillis,
        refresh: bool,
        scope: String,
    },
    Refused(OAuthError),
}

fn expose(secret: &SecretString) -> &str {
    secrecy::ExposeSecret::expose_secret(secret)
}
