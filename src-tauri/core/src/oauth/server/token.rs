//! `POST /token` (OAuth 2.1 §3.2, §4.1.3, §4.3; RFC 6749 §5; RFC 7636 §4.6; RFC 8707 §2.2).
//!
//! Public clients only: `client_id` in the body identifies the client, no secret exists. Every answer,
//! success or error, carries `Cache-Control: no-store` and `Pragma: no-cache`.
//!
//! # `authorization_code`
//! Inside one store transaction: the code is looked up by its hash; **before** the code is touched, the
//! request must match it: same `client_id` (else `invalid_grant`), `redirect_uri` equal byte for byte to
//! the one bound to the code (Gatehouse's `/authorize` always requires it, so it is required here too;
//! else `invalid_grant`), a `code_verifier` (missing → `invalid_request`) whose S256 equals the stored
//! challenge (else `invalid_grant`), and a `resource`, if sent, naming the code's resource (else
//! `invalid_target`). A request failing those checks changes nothing: a replay with a wrong verifier
//! does **not** revoke the first exchange's tokens (no denial of service), and does not burn the code
//! either. Only then is the code redeemed: the first valid redemption issues tokens; a second valid
//! one revokes the grant (committed before answering `invalid_grant`; OAuth 2.1 §4.1.3); an expired or
//! revoked code is `invalid_grant`.
//!
//! A refresh token (a new family) is issued when the client registered the `refresh_token` grant type
//! or the grant's scopes include `offline_access`.
//!
//! # `refresh_token`
//! The token must belong to the client (else `invalid_grant`, nothing changes), a `scope`, if sent,
//! must lie within the token's scopes (else `invalid_scope`; the access token then gets the narrower
//! scope and the new refresh token keeps the original one), and a `resource`, if sent, must name the
//! grant's connection (else `invalid_target`). The store rotates it; a token rotated away before and
//! presented again revokes the grant (`invalid_grant`), **except** when the same client presents it
//! within [`REFRESH_REUSE_GRACE`] of its rotation: real clients race two refreshes, and the loser then
//! gets the same new pair as the winner. The pair is remembered in memory for that window only
//! ([`RefreshGrace`], values zeroized on drop), and only handed out while both tokens are still live.
//!
//! # Anything else
//! `grant_type` missing → `invalid_request`; any other value (`password`, `client_credentials`,
//! `implicit`, ...) → `unsupported_grant_type`. A body that is not a well-formed form is
//! `invalid_request` ([`super::form`]).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use http::header::AUTHORIZATION;
use secrecy::SecretString;

use super::error::{ErrorCode, OAuthError};
use super::form::Form;
use super::issue::{Minted, TokenResponse, access_expiry, stored_hash};
use super::pkce::{CodeChallenge, check_verifier};
use super::policy::{REFRESH_REUSE_GRACE, REFRESH_TOKEN_IDLE_TTL, SCOPE_OFFLINE_ACCESS};
use super::resource::{ResourceUri, parse_resource_params, slug_for};
use super::routes::AuthorizationServer;
use crate::net::caller::Peer;
use crate::store::authorization_requests::CallerProcess;

use crate::clock::UnixMillis;
use crate::crypto::TokenKind;
use crate::store::access_tokens::{self, NewAccessToken};
use crate::store::authorization_codes::{self, Redemption};
use crate::store::refresh_tokens::{self, NewRefreshToken, Rotation};
use crate::store::{
    ClientId, RefreshFamilyId, StoreError, StoreEvent, TokenHash, clients, connections, grants,
};

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

async fn authorization_code(
    server: &AuthorizationServer,
    client_id: ClientId,
    caller: Option<CallerProcess>,
    form: &Form,
) -> Result<Response, OAuthError> {
    let code = form.required("code")?;
    let redirect_uri = form.required("redirect_uri")?.to_owned();
    let verifier = form
        .get("code_verifier")
        .map(|v| SecretString::from(v.to_owned()));
    let resource = requested_resource(form)?;
    let code_hash = stored_hash(code);
    let port = server.local.port;
    let access = Minted::new(TokenKind::AccessToken);
    let refresh = Minted::new(TokenKind::RefreshToken);
    let (access_hash, refresh_hash) = (access.hash, refresh.hash);
    let now = server.store.now();

    let outcome = server
        .store
        .write_with_events(move |tx| {
            let refuse = |e: OAuthError| Ok((Outcome::Refused(e), Vec::new()));
            let Some(code) = authorization_codes::lookup(tx, &code_hash)? else {
                return refuse(invalid_grant("the authorization code is not valid"));
            };
            if code.client_id != client_id {
                return refuse(invalid_grant(
                    "the authorization code was issued to another client",
                ));
            }
            if code.redirect_uri != redirect_uri {
                return refuse(invalid_grant(
                    "redirect_uri differs from the authorization request",
                ));
            }
            let Ok(challenge) = CodeChallenge::from_stored(&code.code_challenge) else {
                tracing::error!("authorization code with an unusable stored challenge");
                return refuse(invalid_grant("the authorization code is not valid"));
            };
            if let Err(e) = check_verifier(&challenge, verifier.as_ref().map(expose)) {
                return refuse(e.into());
            }
            if let Some(resource) = &resource
                && !same_resource(resource, &code.resource, port)
            {
                return refuse(OAuthError::described(
                    ErrorCode::InvalidTarget,
                    "resource differs from the authorization request",
                ));
            }
            let code = match authorization_codes::redeem(tx, &code_hash, now)? {
                Redemption::Redeemed(code) => code,
                Redemption::Reused(revocation) => {
                    tracing::warn!(grant_ids = ?revocation.revoked, "authorization code reused: grant revoked");
                    // Committed: the revocation must survive the error answer.
                    return Ok((
                        Outcome::Refused(invalid_grant(
                            "the authorization code was already used; its grant is revoked",
                        )),
                        revocation.event().into_iter().collect::<Vec<StoreEvent>>(),
                    ));
                }
                Redemption::Expired => {
                    return refuse(invalid_grant("the authorization code has expired"));
                }
                Redemption::Revoked | Redemption::Unknown => {
                    return refuse(invalid_grant("the authorization code is not valid"));
                }
            };
            if let Some(caller) = &caller {
                grants::set_caller(tx, &code.grant_id, caller)?;
            }
            let registered_refresh = clients::get(tx, &code.client_id)?.is_some_and(|c| {
                c.registration
                    .grant_types
                    .iter()
                    .any(|g| g == "refresh_token")
            });
            let issue_refresh = registered_refresh
                || split_scopes(&code.scopes).contains(&SCOPE_OFFLINE_ACCESS);
            let access_expires_at = access_expiry(now);
            access_tokens::insert(
                tx,
                &NewAccessToken {
                    token_hash: access_hash,
                    grant_id: code.grant_id.clone(),
                    client_id: code.client_id.clone(),
                    resource: code.resource.clone(),
                    scopes: code.scopes.clone(),
                    expires_at: access_expires_at,
                },
                now,
            )?;
            if issue_refresh {
                refresh_tokens::insert(
                    tx,
                    &NewRefreshToken {
                        token_hash: refresh_hash,
                        grant_id: code.grant_id.clone(),
                        family_id: RefreshFamilyId::new(),
                        parent_hash: None,
                        client_id: code.client_id.clone(),
                        scopes: code.scopes.clone(),
                        expires_at: now + REFRESH_TOKEN_IDLE_TTL,
                    },
                    now,
                )?;
            }
            Ok((
                Outcome::Issued {
                    access_expires_at,
                    refresh: issue_refresh,
                    scope: code.scopes,
                },
                Vec::new(),
            ))
        })
        .await
        .map_err(|e| store_failed(&e))?;

    match outcome {
        Outcome::Refused(e) => Err(e),
        Outcome::Issued {
            access_expires_at,
            refresh: issue_refresh,
            scope,
        } => Ok(TokenResponse {
            access_token: access.secret,
            access_expires_at,
            refresh_token: issue_refresh.then_some(refresh.secret),
            scope,
        }
        .to_response(now)),
    }
}

fn expose(secret: &SecretString) -> &str {
    secrecy::ExposeSecret::expose_secret(secret)
}

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

async fn refresh_token(
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
