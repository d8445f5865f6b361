//! `GET /oauth/callback` on the gateway's loopback port: where the upstream authorization server
//! sends the browser back (RFC 8252 §7.3). It completes the sign-in ([`UpstreamOAuth::complete_signin`])
//! and shows a small page. Everything shown is escaped; after an `iss` mismatch nothing the response
//! carried (`error_description`, `error_uri`) is shown (RFC 9207; checklist §4.5). The page has a
//! strict CSP, no script, and is not cached.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, StatusCode, header};

use super::{CallbackQuery, UpstreamError, UpstreamOAuth};
use crate::oauth::server::consent_page::escape;

/// The path the loopback redirect URI points at.
pub const CALLBACK_PATH: &str = "/oauth/callback";

/// The callback route, ready to merge into the gateway's router.
pub fn router<S: Clone + Send + Sync + 'static>(oauth: Arc<UpstreamOAuth>) -> Router<S> {
    Router::new()
        .route(CALLBACK_PATH, get(callback))
        .with_state(oauth)
}

async fn callback(
    State(oauth): State<Arc<UpstreamOAuth>>,
    Query(query): Query<CallbackQuery>,
) -> Response {
    match oauth.complete_signin(&query).await {
        Ok(done) => {
            let who = done
                .account_label
                .map(|l| format!(" as {}", escape(&l)))
                .unwrap_or_default();
            page(
                StatusCode::OK,
                &format!("Signed in to {}", escape(&done.connection_name)),
                &format!(
                    "Gatehouse is signed in to {}{who}. You can close this tab.",
                    escape(&done.connection_name)
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
                    escape(err.to_string().trim_end_matches('.'))
                ),
            )
        }
    }
}

fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · Gatehouse</title>\
         <style>body{{font:16px system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em}}</style>\
         </head><body><h1>{title}</h1><p>{message}</p></body></html>"
    );
    let mut response = (status, Html(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
