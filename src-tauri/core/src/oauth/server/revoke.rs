//! `POST /revoke`: RFC 7009 token revocation for public clients.
//!
//! - `token` is required; `token_type_hint` only decides which kind is looked up first: both access and
//!   refresh tokens are always searched (RFC 7009 §2.1). An unknown hint value is ignored.
//! - The client is identified by `client_id` (required: public clients have no other credential). A
//!   token issued to **another** client is refused with **400 `invalid_client`** (RFC 7009 §2.1: the
//!   AS verifies the token was issued to the requesting client and refuses otherwise; §2.2.1 uses the
//!   RFC 6749 §5.2 errors, and `invalid_client` is 400 because no HTTP authentication was attempted),
//!   and the token keeps working. Answering 200 without revoking would tell the caller a lie.
//! - An unknown, expired or already revoked token gets 200 (RFC 7009 §2.2).
//! - Revoking a **refresh token** revokes its whole grant (`token_revoked`) through the one revocation
//!   path, so the grant's access tokens, other refresh tokens and codes die with it (RFC 7009 §2.1
//!   SHOULD). Revoking an **access token** revokes that token only.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use http::header::AUTHORIZATION;

use super::error::{ErrorCode, OAuthError, no_store_headers};
use super::form::Form;
use super::issue::stored_hash;
use super::routes::AuthorizationServer;
use crate::store::revocation::{self, RevocationReason};
use crate::store::{ClientId, StoreEvent, access_tokens, refresh_tokens};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Access,
    Refresh,
}

/// `POST /revoke`.
pub async fn revoke(
    State(server): State<AuthorizationServer>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match revoke_token(&server, &headers, body).await {
        Ok(()) => (http::StatusCode::OK, no_store_headers()).into_response(),
        Err(e) => {
            tracing::info!(error = %e, "revocation refused");
            e.into_response()
        }
    }
}

async fn revoke_token(
    server: &AuthorizationServer,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(), OAuthError> {
    let form = Form::parse(headers, body)?;
    let token_hash = stored_hash(form.required("token")?);
    let Some(client_id) = form.get("client_id").and_then(ClientId::new) else {
        let error = OAuthError::described(
            ErrorCode::InvalidClient,
            "client_id is required to revoke a token",
        );
        return Err(if headers.contains_key(AUTHORIZATION) {
            error.with_basic_challenge()
        } else {
            error
        });
    };
    let order = if form.get("token_type_hint") == Some("refresh_token") {
        [Kind::Refresh, Kind::Access]
    } else {
        [Kind::Access, Kind::Refresh]
    };
    let now = server.store.now();
    let refused = server
        .store
        .write_with_events(move |tx| {
            for kind in order {
                match kind {
                    Kind::Access => {
                        let Some(token) = access_tokens::lookup(tx, &token_hash)? else {
                            continue;
                        };
                        if token.client_id != client_id {
                            return Ok((true, Vec::new()));
                        }
                        access_tokens::revoke(tx, &token_hash, now)?;
                        return Ok((false, Vec::new()));
                    }
                    Kind::Refresh => {
                        let Some(token) = refresh_tokens::lookup(tx, &token_hash)? else {
                            continue;
                        };
                        if token.client_id != client_id {
                            return Ok((true, Vec::new()));
                        }
                        let outcome = revocation::revoke_grants_in(
                            tx,
                            std::slice::from_ref(&token.grant_id),
                            RevocationReason::TokenRevoked,
                            now,
                        )?;
                        let events: Vec<StoreEvent> = outcome.event().into_iter().collect();
                        return Ok((false, events));
                    }
                }
            }
            Ok((false, Vec::new()))
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "revocation: store failure");
            OAuthError::new(ErrorCode::ServerError)
        })?;
    if refused {
        return Err(OAuthError::described(
            ErrorCode::InvalidClient,
            "the token was not issued to this client",
        ));
    }
    Ok(())
}
