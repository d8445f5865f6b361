//! `GET /authorize/review?request_id=…`: the consent page itself, for a request `GET /authorize`
//! recorded (OAuth 2.1 §4.1.1, §7.5.4).
//!
//! `/authorize` only checks and records; everything that costs something happens here, once a
//! person's browser follows the refresh of the page `/authorize` answered with:
//! - The request must be pending and the browser must hold its consent cookie
//!   ([`super::consent_cookie`]); an image or a script that loaded `/authorize` gets nothing more.
//! - The upstream's tool list is read through the [`ToolCatalog`] with a 10 s limit and kept per
//!   connection for [`TOOL_LIST_TTL_MS`] (and its `config_version`), so reloading reviews does not
//!   call the upstream again. A failed list is not kept.
//! - Each review issues a new CSRF token for the form (only its hash is stored), so the last page
//!   shown is the one that can decide.
//!
//! [`ConsentNotices`] keeps the desktop notification to at most one a minute per client.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use secrecy::ExposeSecret;

use super::authorize::{AuthorizeState, Params, callback_warnings};
use super::cimd;
use super::consent_cookie;
use super::consent_page::{ConsentPage, ErrorPage};
use super::redirect_uri::RedirectUri;
use super::tool_catalog::{ToolCatalog, ToolSummary};
use crate::clock::UnixMillis;
use crate::crypto::token::{self, TokenHash, TokenKind};
use crate::store::authorization_requests;
use crate::store::connections::{self, ConnectionRow};
use crate::store::{AuthorizationRequestId, ClientId, ConnectionId, clients};

/// How long the consent page waits for the upstream's tool list.
pub const TOOL_LIST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection's tool list is reused by later reviews.
pub const TOOL_LIST_TTL_MS: UnixMillis = 60_000;
/// Shortest time between two consent notifications for the same client.
pub const NOTICE_INTERVAL_MS: UnixMillis = 60_000;

const STALE: &str = "This consent page is no longer valid: it was answered, it expired, a newer request \
                     from the same client replaced it, or it was opened in another browser. Start the \
                     connection again from the MCP client.";

/// A kept tool list: the connection's `config_version`, when it was listed, and the tools.
type KeptList = (i64, UnixMillis, Vec<ToolSummary>);

/// The tool lists shown on review pages, per connection and `config_version`.
#[derive(Default, Clone)]
pub struct ToolListCache {
    lists: Arc<Mutex<HashMap<ConnectionId, KeptList>>>,
}

impl ToolListCache {
    fn fresh(&self, connection: &ConnectionRow, now: UnixMillis) -> Option<Vec<ToolSummary>> {
        let lists = self.lists.lock().ok()?;
        let (version, at, tools) = lists.get(&connection.id)?;
        (*version == connection.config_version && now - at < TOOL_LIST_TTL_MS)
            .then(|| tools.clone())
    }

    fn keep(&self, connection: &ConnectionRow, now: UnixMillis, tools: &[ToolSummary]) {
        if let Ok(mut lists) = self.lists.lock() {
            lists.retain(|_, (_, at, _)| now - *at < TOOL_LIST_TTL_MS);
            lists.insert(
                connection.id.clone(),
                (connection.config_version, now, tools.to_vec()),
            );
        }
    }

    /// The connection's tools: kept ones, else the upstream's (kept when they load).
    pub async fn list(
        &self,
        catalog: &dyn ToolCatalog,
        connection: &ConnectionRow,
        now: UnixMillis,
    ) -> Result<Vec<ToolSummary>, String> {
        if let Some(tools) = self.fresh(connection, now) {
            return Ok(tools);
        }
        let listed =
            match tokio::time::timeout(TOOL_LIST_TIMEOUT, catalog.list_tools(connection)).await {
                Ok(result) => result,
                Err(_) => Err(String::from("the upstream did not answer in time")),
            };
        if let Ok(tools) = &listed {
            self.keep(connection, now, tools);
        }
        listed
    }
}

/// When each client last caused a consent notification.
#[derive(Default, Clone)]
pub struct ConsentNotices {
    last: Arc<Mutex<HashMap<ClientId, UnixMillis>>>,
}

impl ConsentNotices {
    /// Whether a consent request of `client` at `now` should notify (and remembers that it did).
    pub fn should_notify(&self, client: &ClientId, now: UnixMillis) -> bool {
        let Ok(mut last) = self.last.lock() else {
            return true;
        };
        if last.len() > 4096 {
            last.retain(|_, at| now - *at < NOTICE_INTERVAL_MS);
        }
        match last.get(client) {
            Some(at) if now - *at < NOTICE_INTERVAL_MS => false,
            _ => {
                last.insert(client.clone(), now);
                true
            }
        }
    }
}

fn stale() -> Response {
    ErrorPage::bad_request(STALE).into_response()
}

pub(super) async fn review(
    State(s): State<Arc<AuthorizeState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    let Some(request_id) = params
        .one("request_id")
        .ok()
        .flatten()
        .and_then(AuthorizationRequestId::parse)
    else {
        return stale();
    };
    let now = s.store.now();
    let id = request_id.clone();
    let found = s
        .store
        .read(move |conn| {
            let Some(request) = authorization_requests::get(conn, &id)? else {
                return Ok(None);
            };
            let client = clients::get(conn, &request.client_id)?;
            let connection = connections::get(conn, &request.connection_id)?;
            Ok(Some((request, client, connection)))
        })
        .await;
    let (request, client, connection) = match found {
        Ok(Some((request, Some(client), Some(connection)))) => {
            (request, client.registration, connection)
        }
        Ok(_) => return stale(),
        Err(e) => {
            tracing::error!(error = %e, "consent review failed");
            return stale();
        }
    };
    if !request.is_pending(now)
        || !consent_cookie::holds_cookie(&headers, &request_id, request.browser_hash.as_ref())
    {
        return stale();
    }

    let csrf = token::generate(TokenKind::CsrfToken);
    let csrf_hash = *TokenHash::of(csrf.expose_secret()).as_bytes();
    let id = request_id.clone();
    match s
        .store
        .write(move |tx| authorization_requests::set_csrf(tx, &id, &csrf_hash))
        .await
    {
        Ok(true) => {}
        Ok(false) => return stale(),
        Err(e) => {
            tracing::error!(error = %e, "consent review failed");
            return stale();
        }
    }

    let registered: Vec<RedirectUri> = client
        .redirect_uris
        .iter()
        .filter_map(|u| RedirectUri::parse_for_registration(u).ok())
        .collect();
    let matched = registered
        .iter()
        .find(|r| r.matches(&request.redirect_uri))
        .cloned();
    let tools = s.tool_lists.list(s.tools.as_ref(), &connection, now).await;
    ConsentPage {
        client_name: client.client_name.clone(),
        client_id: client.client_id.to_string(),
        client_id_host: cimd::is_url_shaped(client.client_id.as_str())
            .then(|| cimd::client_id_host(client.client_id.as_str()))
            .flatten(),
        caller: request.caller.clone(),
        connection_name: connection.name.clone(),
        account_label: connection.account().map(str::to_owned),
        callback_host: RedirectUri::parse_for_registration(&request.redirect_uri)
            .map(|u| u.host().to_owned())
            .unwrap_or_default(),
        callback: request.redirect_uri.clone(),
        warnings: matched
            .map(|m| callback_warnings(&m, &registered))
            .unwrap_or_default(),
        scopes: crate::store::split_tokens(&request.scopes),
        tools,
        request_id: request_id.to_string(),
        csrf_token: csrf.expose_secret().to_owned(),
    }
    .response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_notifies_at_most_once_a_minute() {
        let notices = ConsentNotices::default();
        let a = ClientId::generate();
        let b = ClientId::generate();
        assert!(notices.should_notify(&a, 0), "first request notifies");
        assert!(
            !notices.should_notify(&a, 59_999),
            "within the minute: silent"
        );
        assert!(notices.should_notify(&b, 1), "another client notifies");
        assert!(
            notices.should_notify(&a, 60_000),
            "a minute later: notifies"
        );
    }
}
