//! The `refresh_token` grant of `POST /token` (OAuth 2.1 §4.3), with rotation and the reuse grace
//! window.
//!
//! The token must belong to the client (else `invalid_grant`, nothing changes), a `scope`, if sent,
//! must lie within the token's scopes (else `invalid_scope`; the access token then gets the narrower
//! scope and the new refresh token keeps the original one), and a `resource`, if sent, must name the
//! grant's connection (else `invalid_target`). The store rotates it; a token rotated away before and
//! presented again revokes the grant (`invalid_grant`), **except** when the same client presents it
//! within [`REFRESH_REUSE_GRACE`] of its rotation: real clients race two refreshes, and the loser then
//! gets the same new pair as the winner. The pair is remembered in memory for that window only
//! ([`RefreshGrace`], values zeroized on drop), and only handed out while both tokens are still live.

use std::collections::HashMap;

use axum::response::Response;

use super::{
    Outcome, invalid_grant, requested_resource, same_resource, split_scopes, store_failed,
};
use crate::oauth::server::error::{ErrorCode, OAuthError};
use crate::oauth::server::form::Form;
use crate::oauth::server::issue::{Minted, TokenResponse, access_expiry, stored_hash};
use crate::oauth::server::policy::{REFRESH_REUSE_GRACE, REFRESH_TOKEN_IDLE_TTL};
use crate::oauth::server::resource::ResourceUri;
use crate::oauth::server::routes::AuthorizationServer;

use crate::clock::UnixMillis;
use crate::crypto::TokenKind;
use crate::store::access_tokens::{self, NewAccessToken};
use crate::store::refresh_tokens::{self, Rotation};
use crate::store::{ClientId, StoreEvent, TokenHash, connections, grants};

/// Pairs handed out by recent rotations, keyed by the hash of the refresh token that was rotated
/// away, kept for [`REFRESH_REUSE_GRACE`] only.
#[derive(Default)]
pub struct RefreshGrace {
    recent: HashMap<TokenHash, GraceEntry>,
}

struct GraceEntry {
    client_id: ClientId,
    rotated_at: UnixMillis,
    /// The scope the client asked for (`None`: the token's own).
    requested_scope: Option<String>,
    access_hash: TokenHash,
    refresh_hash: TokenHash,
    response: TokenResponse,
}

impl RefreshGrace {
    fn prune(&mut self, now: UnixMillis) {
        self.recent
            .retain(|_, entry| now - entry.rotated_at <= REFRESH_REUSE_GRACE);
    }

    /// How many pairs are remembered (tests check the window closes).
    pub fn len(&self) -> usize {
        self.recent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.recent.is_empty()
    }
}

pub(super) async fn refresh_token(
    server: &AuthorizationServer,
    client_id: ClientId,
    form: &Form,
) -> Result<Response, OAuthError> {
    let old_hash = stored_hash(form.required("refresh_token")?);
    let requested_scope = form.get("scope").map(str::to_owned);
    let resource = requested_resource(form)?;
    let port = server.local.port;

    // Held until the new pair is remembered: see `AuthorizationServer::refresh_grace`.
    let mut grace = server.refresh_grace.lock().await;
    let now = server.store.now();
    grace.prune(now);

    if let Some(entry) = grace.recent.get(&old_hash)
        && entry.client_id == client_id
        && entry.requested_scope == requested_scope
    {
        let (access_hash, refresh_hash) = (entry.access_hash, entry.refresh_hash);
        let live = server
            .store
            .read(move |conn| {
                let access = access_tokens::lookup(conn, &access_hash)?;
                let refresh = refresh_tokens::lookup(conn, &refresh_hash)?;
                Ok(access.is_some_and(|a| a.is_usable(now))
                    && refresh.is_some_and(|r| r.is_usable(now)))
            })
            .await
            .map_err(|e| store_failed(&e))?;
        if live {
            tracing::info!("refresh token presented again within the grace window: same pair");
            return Ok(entry.response.to_response(now));
        }
    }

    let access = Minted::new(TokenKind::AccessToken);
    let refresh = Minted::new(TokenKind::RefreshToken);
    let (access_hash, refresh_hash) = (access.hash, refresh.hash);
    let outcome = {
        let client_id = client_id.clone();
        let requested_scope = requested_scope.clone();
        server
            .store
            .write_with_events(move |tx| {
                let refuse = |e: OAuthError| Ok((Outcome::Refused(e), Vec::new()));
                let Some(old) = refresh_tokens::lookup(tx, &old_hash)? else {
                    return refuse(invalid_grant("the refresh token is not valid"));
                };
                if old.client_id != client_id {
                    return refuse(invalid_grant(
                        "the refresh token was issued to another client",
                    ));
                }
                let grant = grants::get(tx, &old.grant_id)?;
                let connection = match &grant {
                    Some(grant) => connections::get(tx, &grant.connection_id)?,
                    None => None,
                };
                let Some(bound) = connection
                    .as_ref()
                    .and_then(|c| ResourceUri::for_connection(port, &c.slug))
                else {
                    return refuse(invalid_grant("the refresh token is not valid"));
                };
                let mut scope = old.scopes.clone();
                // A token rotated away goes straight to `rotate`, which treats it as reuse.
                if old.used_at.is_none() {
                    if let Some(requested) = &requested_scope {
                        let allowed = split_scopes(&old.scopes);
                        let wanted = split_scopes(requested);
                        if wanted.is_empty() || wanted.iter().any(|s| !allowed.contains(s)) {
                            return refuse(OAuthError::described(
                                ErrorCode::InvalidScope,
                                "the requested scope exceeds the grant",
                            ));
                        }
                        let mut narrowed: Vec<&str> = wanted;
                        narrowed.sort_unstable();
                        narrowed.dedup();
                        scope = narrowed.join(" ");
                    }
                    if let Some(resource) = &resource
                        && !same_resource(resource, bound.as_str(), port)
                    {
                        return refuse(OAuthError::described(
                            ErrorCode::InvalidTarget,
                            "resource is not the grant's resource",
                        ));
                    }
                }
                let rotation = refresh_tokens::rotate(
                    tx,
                    &old_hash,
                    &client_id,
                    &refresh_hash,
                    now + REFRESH_TOKEN_IDLE_TTL,
                    now,
                )?;
                let rotated = match rotation {
                    Rotation::Rotated(row) => row,
                    Rotation::Reused(revocation) => {
                        tracing::warn!(grant_ids = ?revocation.revoked, "refresh token reused: grant revoked");
                        return Ok((
                            Outcome::Refused(invalid_grant(
                                "the refresh token was already used; its grant is revoked",
                            )),
                            revocation.event().into_iter().collect::<Vec<StoreEvent>>(),
                        ));
                    }
                    Rotation::WrongClient => {
                        return refuse(invalid_grant(
                            "the refresh token was issued to another client",
                        ));
                    }
                    Rotation::Expired => {
                        return refuse(invalid_grant("the refresh token has expired"));
                    }
                    Rotation::Revoked | Rotation::Unknown => {
                        return refuse(invalid_grant("the refresh token is not valid"));
                    }
                };
                let access_expires_at = access_expiry(now);
                access_tokens::insert(
                    tx,
                    &NewAccessToken {
                        token_hash: access_hash,
                        grant_id: rotated.grant_id.clone(),
                        client_id: rotated.client_id,
                        resource: bound.as_str().to_owned(),
                        scopes: scope.clone(),
                        expires_at: access_expires_at,
                    },
                    now,
                )?;
                Ok((
                    Outcome::Issued {
                        access_expires_at,
                        refresh: true,
                        scope,
                    },
                    Vec::new(),
                ))
            })
            .await
            .map_err(|e| store_failed(&e))?
    };

    match outcome {
        Outcome::Refused(e) => Err(e),
        Outcome::Issued {
            access_expires_at,
            scope,
            ..
        } => {
            let response = TokenResponse {
                access_token: access.secret,
                access_expires_at,
                refresh_token: Some(refresh.secret),
                scope,
            };
            let answer = response.to_response(now);
            grace.recent.insert(
                old_hash,
                GraceEntry {
                    client_id,
                    rotated_at: now,
                    requested_scope,
                    access_hash,
                    refresh_hash,
                    response,
                },
            );
            Ok(answer)
        }
    }
}
