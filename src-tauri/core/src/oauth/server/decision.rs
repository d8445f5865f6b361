//! `POST /authorize/decision`: the consent page's Approve / Deny (OAuth 2.1 §4.1.2, §4.1.2.1, §7.5.4).
//!
//! - The request must exist, be pending and unexpired, and the form's CSRF token must hash to the one
//!   stored with it (compared in constant time). Otherwise: an HTML error page, no code, no redirect
//!   (a forged or stale form issues nothing). A second POST of the same decision finds the request
//!   decided and gets that page.
//! - `Origin`, when sent, must be the gateway's own origin (the gateway guard already refused
//!   non-loopback origins; this also refuses other local ports).
//! - Deny: the request is marked denied and the browser is sent (303) to the callback with
//!   `error=access_denied`, `state`, `iss` (OAuth 2.1 §4.1.2.1). The pending grant stays pending
//!   (retention removes it).
//! - Approve, in one transaction: the tool allow-list is set on the pending grant, the grant is activated
//!   (an identical active grant is reused and the code bound to it; a different one on the same binding
//!   is superseded), the request is marked approved, and a one-use code (only its SHA-256 stored, 60 s)
//!   is bound to client, exact redirect URI, PKCE challenge, resource and scopes. Then **303** (never
//!   307, OAuth 2.1 §7.5.4) to the callback with `code`, `state` (byte for byte) and `iss`.
//!
//! - The browser must hold the request's consent cookie and, when it sends `Sec-Fetch-Site`, say
//!   `same-origin` ([`super::consent_cookie`]); the caller must be the desktop's OS account
//!   (`gateway::caller_policy`).
//!
//! # Tool allow-list
//! The form carries the offered tool names (`offered`) and the checked ones (`tool`). Every offered tool
//! checked — or `all_tools=yes`, which the page adds when the list could not be loaded or the upstream
//! listed none — stores NULL, meaning *every tool, including ones the upstream adds later*; otherwise
//! the checked names that were offered are stored. A form that offers nothing and does not say
//! `all_tools` allows **no** tool: leaving the list out never widens a grant. The offered list comes
//! from the form, not the store: only the holder of the consent page's CSRF token and cookie can
//! submit it, and they are the person deciding.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::header::ORIGIN;
use http::{HeaderMap, StatusCode};
use secrecy::ExposeSecret;

use super::authorize::{AuthorizeState, Params, see_other};
use super::consent_cookie;
use super::consent_page::{ErrorPage, UpstreamSignInPage};
use super::error::{ErrorCode, code_redirect, error_redirect};
use super::policy::AUTHORIZATION_CODE_TTL;
use crate::crypto::token::{self, TokenHash, TokenKind, constant_time_eq};
use crate::store::StoreEvent;
use crate::store::authorization_codes::{self, NewAuthorizationCode};
use crate::store::authorization_requests::{self, AuthorizationRequestRow, Decision};
use crate::store::connections::{self, AuthKind, ConnectionStatus};
use crate::store::{AuthorizationRequestId, StoreError, grants, upstream_credentials};

pub(crate) enum Outcome {
    Refused(&'static str),
    /// Role 2: the connection has no usable upstream credential yet; the request stays pending so
    /// the same form can be submitted again once Gatehouse is signed in upstream.
    NeedsUpstreamSignIn {
        connection: String,
        callback: String,
    },
    Denied {
        redirect_uri: String,
        state: Option<String>,
    },
    Approved {
        redirect_uri: String,
        state: Option<String>,
        code: String,
    },
}

const STALE: &str = "This consent page is no longer valid: it was already answered, it expired, or the \
                     access it asked for was revoked. Start the connection again from the MCP client.";

pub(super) async fn decide(
    State(s): State<Arc<AuthorizeState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(origin) = headers.get(ORIGIN) {
        let own = origin
            .to_str()
            .ok()
            .and_then(|o| o.strip_prefix("http://"))
            .is_some_and(|authority| s.local.is_own_host(authority));
        if !own {
            return ErrorPage {
                status: StatusCode::FORBIDDEN,
                title: "This authorization request cannot continue",
                message: String::from("The consent form was not sent from Gatehouse's own page."),
            }
            .into_response();
        }
    }
    let params = Params::parse(&body);
    let (Ok(Some(request_id)), Ok(Some(csrf)), Ok(decision)) = (
        params.one("request_id"),
        params.one("csrf_token"),
        params.one("decision"),
    ) else {
        return refused(
            "The consent form is incomplete (its request or its CSRF token is missing).",
        );
    };
    let decision = match decision {
        Some("approve") => Decision::Approve,
        Some("deny") => Decision::Deny,
        _ => return refused("The consent form did not say Approve or Deny."),
    };
    let Some(request_id) = AuthorizationRequestId::parse(request_id) else {
        return refused(STALE);
    };
    if !consent_cookie::same_origin_or_unsaid(&headers) {
        return refused(
            "The consent form was not sent from Gatehouse's own page (Sec-Fetch-Site).",
        );
    }
    let holds_cookie = {
        let headers = headers.clone();
        let request_id = request_id.clone();
        move |stored: Option<&[u8; 32]>| consent_cookie::holds_cookie(&headers, &request_id, stored)
    };
    let csrf_hash = *TokenHash::of(csrf).as_bytes();
    let form_request_id = request_id.to_string();
    let form_csrf = csrf.to_owned();
    let form_offered: Vec<String> = params
        .all("offered")
        .into_iter()
        .map(str::to_owned)
        .collect();
    let form_tools: Vec<String> = params.all("tool").into_iter().map(str::to_owned).collect();
    let all_tools = matches!(params.one("all_tools"), Ok(Some("yes")));
    let tools = allowed_tools(&params.all("offered"), &params.all("tool"), all_tools);
    let now = s.store.now();

    let result = s
        .store
        .write_with_events(move |tx| {
            let Some(request) = authorization_requests::get(tx, &request_id)? else {
                return Ok((Outcome::Refused(STALE), Vec::new()));
            };
            if !constant_time_eq(&csrf_hash, &request.csrf_hash) {
                return Ok((
                    Outcome::Refused("The consent form's CSRF token is missing or wrong."),
                    Vec::new(),
                ));
            }
            if !holds_cookie(request.browser_hash.as_ref()) {
                return Ok((
                    Outcome::Refused(
                        "This browser did not open the consent page (its consent cookie is missing \
                         or wrong), so it cannot decide it.",
                    ),
                    Vec::new(),
                ));
            }
            decide_in(tx, request, decision, tools.as_deref(), now)
        })
        .await;

    let issuer = s.issuer();
    let location = match result {
        Ok(Outcome::Refused(message)) => return refused(message),
        Ok(Outcome::NeedsUpstreamSignIn {
            connection,
            callback,
        }) => {
            return UpstreamSignInPage {
                connection,
                callback,
                request_id: form_request_id,
                csrf_token: form_csrf,
                offered: form_offered,
                tools: form_tools,
                all_tools,
            }
            .into_response();
        }
        Ok(Outcome::Denied {
            redirect_uri,
            state,
        }) => error_redirect(
            &redirect_uri,
            ErrorCode::AccessDenied,
            Some("the user denied the authorization"),
            state.as_deref(),
            &issuer,
        ),
        Ok(Outcome::Approved {
            redirect_uri,
            state,
            code,
        }) => code_redirect(&redirect_uri, &code, state.as_deref(), &issuer),
        Err(e) => {
            tracing::error!(error = %e, "consent decision failed");
            return ErrorPage {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                title: "Gatehouse could not process this authorization",
                message: String::from(
                    "An internal error occurred; the details are in Gatehouse's log.",
                ),
            }
            .into_response();
        }
    };
    match location {
        Ok(location) => see_other(&location),
        Err(e) => {
            tracing::error!(error = %e, "stored redirect URI does not parse");
            refused(STALE)
        }
    }
}

/// Decides a consent inside `tx`, once whoever decides has been checked: the consent page's form
/// (CSRF token, cookie) or the person in the window or the CLI (`admin::pending`). Returns what to
/// tell the client and the events to send after the commit.
pub(crate) fn decide_in(
    tx: &rusqlite::Transaction<'_>,
    request: AuthorizationRequestRow,
    decision: Decision,
    tools: Option<&[String]>,
    now: crate::clock::UnixMillis,
) -> Result<(Outcome, Vec<StoreEvent>), StoreError> {
    let request_id = request.id.clone();
    if !request.is_pending(now) {
        authorization_requests::decide(tx, &request_id, decision, now)?;
        return Ok((Outcome::Refused(STALE), Vec::new()));
    }
    match decision {
        Decision::Deny => {
            authorization_requests::decide(tx, &request_id, Decision::Deny, now)?;
            Ok((
                Outcome::Denied {
                    redirect_uri: request.redirect_uri,
                    state: request.state,
                },
                Vec::new(),
            ))
        }
        Decision::Approve => {
            // A local client never receives a code without working upstream credentials.
            if let Some(grant) = grants::get(tx, &request.grant_id)?
                && let Some(connection) = connections::get(tx, &grant.connection_id)?
                && connection.settings.auth_kind == AuthKind::OAuth
                && !signed_in_upstream(tx, &connection)?
            {
                return Ok((
                    Outcome::NeedsUpstreamSignIn {
                        connection: connection.name,
                        callback: request.redirect_uri,
                    },
                    Vec::new(),
                ));
            }
            grants::set_pending_tools(tx, &request.grant_id, tools)?;
            let activation = grants::activate(tx, &request.grant_id, now)?;
            if !authorization_requests::decide(tx, &request_id, Decision::Approve, now)? {
                return Err(StoreError::Conflict(String::from(
                    "the authorization request stopped being pending inside its own transaction",
                )));
            }
            let code = token::generate(TokenKind::AuthorizationCode);
            authorization_codes::insert(
                tx,
                &NewAuthorizationCode {
                    code_hash: *TokenHash::of(code.expose_secret()).as_bytes(),
                    grant_id: activation.grant_id.clone(),
                    client_id: request.client_id,
                    redirect_uri: request.redirect_uri.clone(),
                    code_challenge: request.code_challenge,
                    resource: request.resource,
                    scopes: request.scopes,
                    expires_at: now + AUTHORIZATION_CODE_TTL,
                },
                now,
            )?;
            tracing::info!(
                grant_id = %activation.grant_id,
                reused = activation.reused,
                "consent approved"
            );
            let events = activation.events();
            Ok((
                Outcome::Approved {
                    redirect_uri: request.redirect_uri,
                    state: request.state,
                    code: code.expose_secret().to_owned(),
                },
                events,
            ))
        }
    }
}

/// Whether an OAuth connection holds upstream tokens and is not waiting for a new sign-in.
pub(crate) fn signed_in_upstream(
    tx: &rusqlite::Connection,
    connection: &connections::ConnectionRow,
) -> Result<bool, StoreError> {
    if connection.status == ConnectionStatus::ReauthRequired {
        return Ok(false);
    }
    Ok(upstream_credentials::get(tx, &connection.id)?
        .is_some_and(|c| c.access_token_sealed.is_some() || c.refresh_token_sealed.is_some()))
}

/// The grant's tool allow-list from the form (module docs): `None` is every tool.
fn allowed_tools(offered: &[&str], selected: &[&str], all_tools: bool) -> Option<Vec<String>> {
    let offered: BTreeSet<&str> = offered.iter().copied().collect();
    let selected: BTreeSet<&str> = selected.iter().copied().collect();
    if all_tools || (!offered.is_empty() && offered.is_subset(&selected)) {
        None
    } else {
        Some(
            selected
                .intersection(&offered)
                .map(|t| (*t).to_owned())
                .collect(),
        )
    }
}

fn refused(message: &str) -> Response {
    ErrorPage::bad_request(message).into_response()
}

#[cfg(test)]
mod tests {
    use super::allowed_tools;

    #[test]
    fn leaving_the_tool_list_out_allows_no_tool() {
        assert_eq!(
            allowed_tools(&[], &[], false),
            Some(Vec::new()),
            "nothing said: nothing allowed"
        );
        assert_eq!(
            allowed_tools(&[], &["delete"], false),
            Some(Vec::new()),
            "a tool that was not offered is not allowed"
        );
        assert_eq!(allowed_tools(&[], &[], true), None, "all_tools: every tool");
        assert_eq!(
            allowed_tools(&["a", "b"], &["a", "b"], false),
            None,
            "every offered tool ticked: every tool"
        );
        assert_eq!(
            allowed_tools(&["a", "b"], &["b", "x"], false),
            Some(vec![String::from("b")]),
            "the ticked offered ones"
        );
    }
}
