//! The `authorization_code` grant of `POST /token` (OAuth 2.1 §4.1.3; RFC 7636 §4.6; RFC 8707
//! §2.2).
//!
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

use axum::response::Response;
use secrecy::SecretString;

use super::{
    Outcome, expose, invalid_grant, requested_resource, same_resource, split_scopes, store_failed,
};
use crate::oauth::server::error::{ErrorCode, OAuthError};
use crate::oauth::server::form::Form;
use crate::oauth::server::issue::{Minted, TokenResponse, access_expiry, stored_hash};
use crate::oauth::server::pkce::{CodeChallenge, check_verifier};
use crate::oauth::server::policy::{REFRESH_TOKEN_IDLE_TTL, SCOPE_OFFLINE_ACCESS};
use crate::oauth::server::routes::AuthorizationServer;
use crate::store::authorization_requests::CallerProcess;

use crate::crypto::TokenKind;
use crate::store::access_tokens::{self, NewAccessToken};
use crate::store::authorization_codes::{self, Redemption};
use crate::store::refresh_tokens::{self, NewRefreshToken};
use crate::store::{ClientId, RefreshFamilyId, StoreEvent, clients, grants};

pub(super) async fn authorization_code(
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
