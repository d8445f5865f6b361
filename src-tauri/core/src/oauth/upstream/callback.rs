//! `GET /oauth/callback` on the gateway's loopback port: where the upstream authorization server
//! sends the browser back (RFC 8252 §7.3). It completes the sign-in
//! ([`UpstreamOAuth::complete_signin`]) and shows a small page. Everything shown is escaped (the
//! connection's name, the account from the id_token, the authorization server's `error` and
//! `error_description`); after an `iss` mismatch nothing the response carried (`error_description`,
//! `error_uri`) is shown (RFC 9207 §2.4). The page has a strict CSP (`default-src 'none'`, inline
//! style only), no script, cannot be framed (`frame-ancestors 'none'`, `X-Frame-Options: DENY`),
//! and is not cached.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::{CallbackQuery, UpstreamError, UpstreamOAuth};
use crate::crypto::{TokenHash, constant_time_eq};
use crate::net::loopback::LocalAuthority;
use crate::oauth::server::consent_cookie;
use askama::Template;

use crate::oauth::server::consent_page::{MessageTemplate, render};
use crate::oauth::server::decision::signed_in_upstream;
use crate::store::connections;
use crate::store::{AuthorizationRequestId, authorization_requests, grants};

/// The path the loopback redirect URI points at.
pub const CALLBACK_PATH: &str = "/oauth/callback";

/// Where the consent page's "Sign in to …" button posts.
pub const UPSTREAM_SIGNIN_PATH: &str = "/oauth/upstream-signin";

/// The callback route and the consent page's sign-in start, ready to merge into the gateway's router.
pub fn router<S: Clone + Send + Sync + 'static>(
    oauth: Arc<UpstreamOAuth>,
    local: LocalAuthority,
) -> Router<S> {
    Router::new()
        .route(CALLBACK_PATH, get(callback))
        .route(UPSTREAM_SIGNIN_PATH, post(signin_from_consent))
        .with_state((oauth, local))
}

/// `POST /oauth/upstream-signin` from the consent page (role 1 meets role 2): the pending local
/// authorization request, its CSRF token and the browser's consent cookie prove the form is
/// Gatehouse's own page in the person's browser; only a connection that is **not** signed in yet
/// can be signed in from here (409 otherwise); the upstream sign-in of that request's connection
/// starts, and the page links to the authorization server (a
/// link, not a redirect, so the consent page's `form-action` need not allow the AS).
async fn signin_from_consent(
    State((oauth, local)): State<(Arc<UpstreamOAuth>, LocalAuthority)>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if !from_own_page(&headers, local) {
        return page(
            StatusCode::FORBIDDEN,
            "Sign-in refused",
            "The form was not sent from Gatehouse's own page.",
        );
    }
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let (Some(request_id), Some(csrf)) = (
        field("request_id").and_then(|r| AuthorizationRequestId::parse(&r)),
        field("csrf_token"),
    ) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Sign-in refused",
            "The form is incomplete.",
        );
    };
    let now = oauth.vault().store().now();
    let found = oauth
        .vault()
        .store()
        .read(move |conn| {
            let Some(request) = authorization_requests::get(conn, &request_id)? else {
                return Ok(None);
            };
            if !constant_time_eq(TokenHash::of(&csrf).as_bytes(), &request.csrf_hash)
                || !request.is_pending(now)
                || !consent_cookie::holds_cookie(
                    &headers,
                    &request_id,
                    request.browser_hash.as_ref(),
                )
            {
                return Ok(None);
            }
            let Some(grant) = grants::get(conn, &request.grant_id)? else {
                return Ok(None);
            };
            let signed_in = match connections::get(conn, &grant.connection_id)? {
                Some(connection) => signed_in_upstream(conn, &connection)?,
                None => return Ok(None),
            };
            Ok(Some((grant.connection_id, signed_in)))
        })
        .await;
    let connection_id = match found {
        Ok(Some((_, true))) => {
            // A consent page never replaces the account a connection acts as: whoever can load it
            // could otherwise sign the connection in as someone else, and every grant would then
            // silently act for that account. A new sign-in is the window's or the CLI's.
            return page(
                StatusCode::CONFLICT,
                "Already signed in",
                "Gatehouse is already signed in to this server. To sign in as someone else, use \
                 \"Sign in…\" in the Gatehouse window or `gatehoused connections signin`.",
            );
        }
        Ok(Some((id, false))) => id,
        Ok(None) => {
            return page(
                StatusCode::BAD_REQUEST,
                "Sign-in refused",
                "This consent page is no longer valid. Start the connection again from the MCP client.",
            );
        }
        Err(err) => {
            tracing::error!(error = %err, "cannot read the authorization request");
            return page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Sign-in failed",
                "An internal error occurred.",
            );
        }
    };
    start_and_link(
        &oauth,
        &connection_id,
        local,
        "return to the consent tab and approve again",
    )
    .await
}

/// Whether a form came from one of Gatehouse's own pages: an `Origin`, when sent, is Gatehouse's,
/// and a `Sec-Fetch-Site`, when sent, says `same-origin`.
pub(super) fn from_own_page(headers: &HeaderMap, local: LocalAuthority) -> bool {
    let own_origin = headers.get(header::ORIGIN).is_none_or(|origin| {
        origin
            .to_str()
            .ok()
            .and_then(|o| o.strip_prefix("http://"))
            .is_some_and(|authority| local.is_own_host(authority))
    });
    own_origin && consent_cookie::same_origin_or_unsaid(headers)
}

/// Starts the sign-in of `connection_id` through the loopback callback and answers a page that
/// links to the authorization server (a link, not a redirect: the pages' `form-action` need not
/// allow the AS); `then` says what to do once it is done.
pub(super) async fn start_and_link(
    oauth: &UpstreamOAuth,
    connection_id: &crate::store::ConnectionId,
    local: LocalAuthority,
    then: &str,
) -> Response {
    match oauth
        .start_signin(
            connection_id,
            &super::flow::loopback_redirect_uri(local.port),
        )
        .await
    {
        Ok(start) => {
            let body = render(&ContinueTemplate {
                authorization_url: &start.authorization_url,
                then,
            });
            secure(StatusCode::OK, Html(body).into_response())
        }
        Err(err) => page(
            StatusCode::BAD_GATEWAY,
            "Sign-in could not start",
            &format!("{}.", err.to_string().trim_end_matches('.')),
        ),
    }
}

async fn callback(
    State((oauth, _)): State<(Arc<UpstreamOAuth>, LocalAuthority)>,
    Query(query): Query<CallbackQuery>,
) -> Response {
    match oauth.complete_signin(&query).await {
        Ok(done) => {
            let who = done
                .account_label
                .map(|l| format!(" as {l}"))
                .unwrap_or_default();
            page(
                StatusCode::OK,
                &format!("Signed in to {}", done.connection_name),
                &format!(
                    "Gatehouse is signed in to {}{who}. You can close this tab.",
                    done.connection_name
                ),
            )
        }
        Err(err) => {
            let status = match err {
                UpstreamError::UnknownState
                | UpstreamError::IssuerMismatch
                | UpstreamError::IssuerMissing
                | UpstreamError::Denied(_) => StatusCode::BAD_REQUEST,
                _ => StatusCode::BAD_GATEWAY,
            };
            page(
                status,
                "Sign-in did not complete",
                &format!(
                    "{}. Open Gatehouse to try again.",
                    err.to_string().trim_end_matches('.')
                ),
            )
        }
    }
}

/// A page saying `message` under `title` (both plain text: the template escapes them).
pub(super) fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = render(&MessageTemplate {
        title,
        message,
        note: None,
    });
    secure(status, Html(body).into_response())
}

/// The link to the authorization server (`templates/upstream_continue.html`).
#[derive(Template)]
#[template(path = "upstream_continue.html")]
struct ContinueTemplate<'a> {
    authorization_url: &'a str,
    /// What to do once signed in, as the end of a sentence.
    then: &'a str,
}

pub(super) fn secure(status: StatusCode, mut response: Response) -> Response {
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
