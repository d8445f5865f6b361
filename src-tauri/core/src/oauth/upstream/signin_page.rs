//! `/oauth/connections/<slug>/signin`: Gatehouse's own sign-in page for one connection, where a
//! client's URL-mode elicitation (`proxy::elicitation`, MCP 2025-11-25 Elicitation, URL mode) takes
//! the person when a request waits for a sign-in.
//!
//! - `GET` shows the connection and, when it is **not** signed in (never, or its sign-in expired),
//!   a "Sign in to …" button. A connection that is signed in is never signed in again from here:
//!   whoever can make the browser load a page could otherwise switch the account every grant acts
//!   for (the same rule as the consent page; the window and the CLI can). So the page then only
//!   says to return to the client, or to use the window for another account.
//! - The button POSTs a form whose token equals a secret the `GET` set in an `HttpOnly;
//!   SameSite=Strict` cookie scoped to this path (double submit, OAuth 2.1 §7.5.4 CSRF; RFC 6265bis
//!   §8.8): a page of another site can neither read the token nor send the cookie. An `Origin`
//!   must be Gatehouse's own, a `Sec-Fetch-Site` must say `same-origin`.
//! - The POST starts the sign-in through the gateway's loopback callback and answers a page that
//!   links to the authorization server (a link, not a redirect: the page's CSP `form-action` stays
//!   `'self'`).
//!
//! Only this desktop's account reaches `/oauth/*` at all (`gateway::caller_policy`). The pages
//! share the callback's strict headers (no script, no framing, no caching, no referrer).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use secrecy::ExposeSecret;

use super::UpstreamOAuth;
use super::callback::{from_own_page, page, secure, start_and_link};
use crate::crypto::TokenKind;
use crate::crypto::token::{constant_time_eq, generate};
use crate::net::loopback::LocalAuthority;
use crate::oauth::server::consent_cookie::cookie;
use askama::Template;

use crate::oauth::server::consent_page::render;
use crate::oauth::server::decision::signed_in_upstream;
use crate::store::connections::{self, AuthKind};

/// The cookie holding the page's secret.
const COOKIE: &str = "gatehouse_signin";
/// How long the page's form stays usable, in seconds.
const MAX_AGE_SECONDS: u64 = 600;

/// The page's path for the connection `slug`.
pub fn path(slug: &str) -> String {
    format!("/oauth/connections/{slug}/signin")
}

/// The page's routes, ready to merge into the gateway's router.
pub fn router<S: Clone + Send + Sync + 'static>(
    oauth: Arc<UpstreamOAuth>,
    local: LocalAuthority,
) -> Router<S> {
    Router::new()
        .route("/oauth/connections/{slug}/signin", get(show).post(start))
        .with_state((oauth, local))
}

/// What the page knows about the connection.
enum Found {
    Missing,
    SignedIn {
        name: String,
    },
    NeedsSignIn {
        id: crate::store::ConnectionId,
        name: String,
    },
}

async fn find(oauth: &UpstreamOAuth, slug: String) -> Result<Found, Response> {
    oauth
        .vault()
        .store()
        .read(move |conn| {
            let Some(row) = connections::get_by_slug(conn, &slug)? else {
                return Ok(Found::Missing);
            };
            if row.settings.auth_kind != AuthKind::OAuth || !row.enabled {
                return Ok(Found::Missing);
            }
            Ok(if signed_in_upstream(conn, &row)? {
                Found::SignedIn { name: row.name }
            } else {
                Found::NeedsSignIn {
                    id: row.id,
                    name: row.name,
                }
            })
        })
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "cannot read the connection");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Sign-in failed",
                "An internal error occurred.",
            )
        })
}

fn missing() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "No such connection",
        "Gatehouse has no enabled OAuth connection here. Open Gatehouse to see your connections.",
    )
}

fn already(name: &str) -> Response {
    page(
        StatusCode::OK,
        &format!("Signed in to {name}"),
        &format!(
            "Gatehouse is signed in to {}. Return to your MCP client and try again. To sign in as \
             someone else, use \"Sign in…\" in the Gatehouse window.",
            name
        ),
    )
}

/// The page's form (`templates/upstream_signin.html`).
#[derive(Template)]
#[template(path = "upstream_signin.html")]
struct SigninTemplate<'a> {
    connection: &'a str,
    action: &'a str,
    csrf_token: &'a str,
}

async fn show(
    State((oauth, _)): State<(Arc<UpstreamOAuth>, LocalAuthority)>,
    Path(slug): Path<String>,
) -> Response {
    let (connection_name, slug) = match find(&oauth, slug.clone()).await {
        Ok(Found::Missing) => return missing(),
        Ok(Found::SignedIn { name }) => return already(&name),
        Ok(Found::NeedsSignIn { name, .. }) => (name, slug),
        Err(response) => return response,
    };
    let secret = generate(TokenKind::CsrfToken);
    let secret = secret.expose_secret();
    let body = render(&SigninTemplate {
        connection: &connection_name,
        action: &path(&slug),
        csrf_token: secret,
    });
    let mut response = secure(StatusCode::OK, Html(body).into_response());
    if let Ok(value) = HeaderValue::from_str(&format!(
        "{COOKIE}={secret}; Path={}; Max-Age={MAX_AGE_SECONDS}; HttpOnly; SameSite=Strict",
        path(&slug)
    )) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    response
}

async fn start(
    State((oauth, local)): State<(Arc<UpstreamOAuth>, LocalAuthority)>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let refused = |message: &str| page(StatusCode::FORBIDDEN, "Sign-in refused", message);
    if !from_own_page(&headers, local) {
        return refused("The form was not sent from Gatehouse's own page.");
    }
    let sent = form
        .iter()
        .find(|(k, _)| k == "csrf_token")
        .map(|(_, v)| v.as_str());
    let held = cookie(&headers, COOKIE);
    let proven = matches!((sent, held), (Some(sent), Some(held))
        if !sent.is_empty() && constant_time_eq(sent.as_bytes(), held.as_bytes()));
    if !proven {
        return refused("This page has expired. Open the link from your MCP client again.");
    }
    let connection_id = match find(&oauth, slug).await {
        Ok(Found::Missing) => return missing(),
        Ok(Found::SignedIn { name }) => return already(&name),
        Ok(Found::NeedsSignIn { id, .. }) => id,
        Err(response) => return response,
    };
    start_and_link(
        &oauth,
        &connection_id,
        local,
        "return to your MCP client and try again",
    )
    .await
}
