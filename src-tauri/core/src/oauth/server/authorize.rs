//! `GET /authorize` (OAuth 2.1 §4.1.1): checks an authorization request, records it as a pending
//! consent, and shows the consent page. The decision is [`super::decision`].
//!
//! # Order of checks (OAuth 2.1 §4.1.2.1)
//! 1. `client_id` and `redirect_uri` — until both are known good, nothing is redirected: errors are an
//!    HTML page (400). A URL-shaped `client_id` is a CIMD client ([`super::cimd`]): URL validated, document
//!    fetched (or taken from the 10-minute cache) and persisted as a `cimd` client. `redirect_uri` must
//!    match a registered one with [`RedirectUri::matches`] (loopback: any port, so Claude Code's
//!    registered `http://localhost/callback` accepts `http://localhost:53122/callback`). It may be omitted
//!    only when exactly one is registered.
//! 2. From then on errors are 303 redirects to the requested `redirect_uri` with `error`, `state` and `iss`
//!    (RFC 9207): `response_type` (`code` only; missing → `invalid_request`, other →
//!    `unsupported_response_type`), PKCE (S256 only → `invalid_request`), `resource` (exactly one, naming
//!    an enabled connection of this gateway → else `invalid_target`).
//!
//! # Decisions
//! - **A missing `resource` is `invalid_target`** (RFC 8707 §2.1 allows it; a connection picker on the
//!   consent page is a later improvement). Every surveyed client sends `resource`.
//! - **Scopes are down-scoped, never refused**: the requested ones that Gatehouse supports are kept, and
//!   `mcp:access` is always included (the grant exists to use the connection). `openid email profile`
//!   (mcp-remote's fallback) therefore becomes `mcp:access`.
//! - Parameters sent empty count as absent (OAuth 2.1 §3.1); a parameter sent twice is an error
//!   (page for `client_id`/`redirect_uri`, `invalid_request` otherwise; `resource` twice is
//!   `invalid_target`).
//! - **Binding.** The grant's redirect URI is the *registered* one that matched (port-agnostic for
//!   loopback), so Claude Code's random ports do not pile up one active grant per port; the request row and
//!   the code keep the exact requested URI, which the token endpoint compares byte for byte.
//! - **Never auto-approve** (OAuth 2.1 §7.3.1: a loopback redirect proves no identity): every request
//!   gets a new pending grant and a consent page, even when the same binding already has an active
//!   grant; approving then reuses that grant.
//! - The upstream's tools are listed through [`ToolCatalog`] with a 10 s limit; a failure is shown on the
//!   page and an approval then allows every tool.
//!
//! Elsewhere: the upstream sign-in offered when the connection has no working upstream credential
//! is the decision's (`decision.rs`, the upstream sign-in page), and the desktop notification when
//! a consent page opens is the review's (`review.rs`, once a minute per client and connection).

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use http::StatusCode;
use secrecy::ExposeSecret;

use super::cimd::{self, CimdResolver};
use super::consent_cookie;
use super::consent_page::{ConsentLoadingPage, ErrorPage};
use super::decision;
use super::error::{ErrorCode, error_redirect, no_store_headers};
use super::pkce::validate_challenge;
use super::policy::{AUTHORIZATION_REQUEST_TTL, SCOPE_MCP_ACCESS, SUPPORTED_SCOPES};
use super::redirect_uri::{RedirectKind, RedirectUri};
use super::resource::{parse_resource_params, slug_for};
use super::review::{ConsentNotices, ToolListCache};
use super::tool_catalog::ToolCatalog;
use crate::crypto::token::{self, TokenHash, TokenKind};
use crate::net::loopback::LocalAuthority;
use crate::store::authorization_requests::{self, CallerProcess, NewAuthorizationRequest};
use crate::store::clients::{self, ClientRegistration};
use crate::store::connections;
use crate::store::grants::{self, NewGrant};
use crate::store::{AuthorizationRequestId, ClientId, GrantId, Store, StoreEvent};
use http::header::SET_COOKIE;

/// At most this many consents wait for a decision; the oldest beyond it are dropped.
pub const MAX_PENDING_REQUESTS: u32 = 100;
/// Where the consent page itself is served (see [`super::review`]).
pub const REVIEW_PATH: &str = "/authorize/review";
/// Largest consent-decision form accepted, in bytes.
pub const MAX_DECISION_FORM: usize = 64 * 1024;

/// What the authorization endpoints share.
pub struct AuthorizeState {
    pub store: Store,
    pub local: LocalAuthority,
    pub tools: Arc<dyn ToolCatalog>,
    pub cimd: Arc<CimdResolver>,
    /// The upstream tool lists the review pages show, per connection.
    pub tool_lists: ToolListCache,
    /// When each client last caused a consent notification.
    pub notices: ConsentNotices,
}

impl AuthorizeState {
    /// The issuer, `http://127.0.0.1:PORT`, sent as `iss` (RFC 9207).
    pub fn issuer(&self) -> String {
        self.local.base_url()
    }
}

/// `GET /authorize` and `POST /authorize/decision`.
pub fn router<S: Clone + Send + Sync + 'static>(
    store: Store,
    local: LocalAuthority,
    tools: Arc<dyn ToolCatalog>,
) -> Router<S> {
    router_with(AuthorizeState {
        store,
        local,
        tools,
        cimd: Arc::new(CimdResolver::new()),
        tool_lists: ToolListCache::default(),
        notices: ConsentNotices::default(),
    })
}

/// [`router`] with every dependency given (tests inject the CIMD resolver).
pub fn router_with<S: Clone + Send + Sync + 'static>(state: AuthorizeState) -> Router<S> {
    Router::new()
        .route("/authorize", get(authorize))
        .route(REVIEW_PATH, get(super::review::review))
        .route(
            "/authorize/decision",
            post(decision::decide).layer(DefaultBodyLimit::max(MAX_DECISION_FORM)),
        )
        .with_state(Arc::new(state))
}

/// Query or form parameters in order, keeping repeats. Empty values count as absent.
pub(crate) struct Params(Vec<(String, String)>);

pub(crate) struct Repeated;

impl Params {
    pub(crate) fn parse(encoded: &[u8]) -> Self {
        Params(
            url::form_urlencoded::parse(encoded)
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub(crate) fn one(&self, name: &str) -> Result<Option<&str>, Repeated> {
        match self.all(name).as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one)),
            _ => Err(Repeated),
        }
    }
}

fn page(message: impl Into<String>) -> Response {
    ErrorPage::bad_request(message).into_response()
}

fn server_error_page(error: &dyn std::fmt::Display) -> Response {
    tracing::error!(%error, "authorization request failed");
    ErrorPage {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        title: "Gatehouse could not process this authorization",
        message: String::from("An internal error occurred; the details are in Gatehouse's log."),
    }
    .into_response()
}

/// A 303 to an already-trusted redirect URI, not cached.
pub(crate) fn see_other(location: &str) -> Response {
    (no_store_headers(), Redirect::to(location)).into_response()
}

/// A trusted redirect target with the request's `state`, for error redirects.
struct Trusted<'a> {
    redirect_uri: &'a str,
    state: Option<&'a str>,
    issuer: String,
}

impl Trusted<'_> {
    fn error(&self, code: ErrorCode, description: &str) -> Response {
        match error_redirect(
            self.redirect_uri,
            code,
            Some(description),
            self.state,
            &self.issuer,
        ) {
            Ok(location) => see_other(&location),
            Err(e) => server_error_page(&e),
        }
    }
}

async fn authorize(State(s): State<Arc<AuthorizeState>>, RawQuery(query): RawQuery) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    let client_id = match params.one("client_id") {
        Ok(Some(id)) => id.to_owned(),
        Ok(None) => {
            return page(
                "The request has no client_id, so Gatehouse cannot tell which client is asking.",
            );
        }
        Err(Repeated) => return page("The request has more than one client_id."),
    };
    let redirect_param = match params.one("redirect_uri") {
        Ok(r) => r.map(str::to_owned),
        Err(Repeated) => return page("The request has more than one redirect_uri."),
    };
    let now = s.store.now();

    // 1. The client.
    let client = if cimd::is_url_shaped(&client_id) {
        match resolve_cimd_client(&s, &client_id, now).await {
            Ok(client) => client,
            Err(response) => return response,
        }
    } else {
        let Some(id) = ClientId::new(client_id.clone()) else {
            return page("The request has no client_id.");
        };
        match s.store.read(move |conn| clients::get(conn, &id)).await {
            Ok(Some(row)) => row.registration,
            Ok(None) => {
                return page(
                    "This client is not registered with Gatehouse (unknown client_id). Nothing was sent back to it.",
                );
            }
            Err(e) => return server_error_page(&e),
        }
    };

    // 2. The redirect URI.
    let registered: Vec<RedirectUri> = client
        .redirect_uris
        .iter()
        .filter_map(|u| RedirectUri::parse_for_registration(u).ok())
        .collect();
    let (requested, matched) = match redirect_param {
        Some(requested) => match registered.iter().find(|r| r.matches(&requested)) {
            Some(matched) => (requested, matched.clone()),
            None => {
                return page(
                    "The redirect_uri is not one this client registered, so Gatehouse will not send anything to it.",
                );
            }
        },
        None => match registered.as_slice() {
            [only] => (only.as_str().to_owned(), only.clone()),
            _ => return page("The request has no redirect_uri and the client registered several."),
        },
    };

    // From here on errors go back to the client.
    let state_param = params.one("state");
    let trusted = Trusted {
        redirect_uri: &requested,
        state: state_param.as_ref().ok().copied().flatten(),
        issuer: s.issuer(),
    };
    let Ok(state_param) = state_param else {
        return trusted.error(ErrorCode::InvalidRequest, "state was sent more than once");
    };
    match params.one("response_type") {
        Ok(Some("code")) => {}
        Ok(Some(_)) => {
            return trusted.error(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            );
        }
        Ok(None) => return trusted.error(ErrorCode::InvalidRequest, "response_type is required"),
        Err(Repeated) => {
            return trusted.error(
                ErrorCode::InvalidRequest,
                "response_type was sent more than once",
            );
        }
    }
    let (Ok(challenge), Ok(method)) = (
        params.one("code_challenge"),
        params.one("code_challenge_method"),
    ) else {
        return trusted.error(
            ErrorCode::InvalidRequest,
            "a PKCE parameter was sent more than once",
        );
    };
    let challenge = match validate_challenge(challenge, method) {
        Ok(challenge) => challenge,
        Err(e) => return trusted.error(ErrorCode::InvalidRequest, &e.to_string()),
    };
    let resource = match parse_resource_params(&params.all("resource")) {
        Ok(Some(resource)) => resource,
        Ok(None) => {
            return trusted.error(
                ErrorCode::InvalidTarget,
                "resource is required: the URL of the Gatehouse connection (http://127.0.0.1:PORT/mcp/SLUG)",
            );
        }
        Err(e) => return trusted.error(ErrorCode::InvalidTarget, &e.to_string()),
    };
    let Some(slug) = slug_for(&resource, s.local.port).map(str::to_owned) else {
        return trusted.error(
            ErrorCode::InvalidTarget,
            "resource is not a connection of this Gatehouse",
        );
    };
    let connection = match s
        .store
        .read(move |conn| connections::get_by_slug(conn, &slug))
        .await
    {
        Ok(Some(connection)) if connection.enabled => connection,
        Ok(_) => {
            return trusted.error(
                ErrorCode::InvalidTarget,
                "resource names no enabled Gatehouse connection",
            );
        }
        Err(e) => return server_error_page(&e),
    };
    let scopes = match params.one("scope") {
        Ok(scope) => effective_scopes(scope),
        Err(Repeated) => {
            return trusted.error(ErrorCode::InvalidRequest, "scope was sent more than once");
        }
    };

    let registrant = registrant_of(&s, &client.client_id).await;

    // 3. Record the pending consent: it replaces this client's earlier pending one on the same
    // connection, and the oldest pending ones beyond the cap go.
    let grant_id = GrantId::new();
    let request_id = AuthorizationRequestId::new();
    let csrf = token::generate(TokenKind::CsrfToken);
    let browser = token::generate(TokenKind::CsrfToken);
    let client_store_id = client.client_id.clone();
    let grant = NewGrant {
        id: grant_id.clone(),
        client_id: client_store_id.clone(),
        connection_id: connection.id.clone(),
        redirect_uri: matched.as_str().to_owned(),
        scopes: scopes.join(" "),
        tools: None,
    };
    let request = NewAuthorizationRequest {
        id: request_id.clone(),
        grant_id,
        client_id: client_store_id.clone(),
        connection_id: connection.id.clone(),
        redirect_uri: requested.clone(),
        scopes: scopes.join(" "),
        state: state_param.map(str::to_owned),
        code_challenge: challenge.as_str().to_owned(),
        resource: resource.as_str().to_owned(),
        csrf_hash: *TokenHash::of(csrf.expose_secret()).as_bytes(),
        browser_hash: *TokenHash::of(browser.expose_secret()).as_bytes(),
        caller: registrant,
        expires_at: now + AUTHORIZATION_REQUEST_TTL,
    };
    // After the commit, the app raises a desktop notification pointing at the browser: at most once
    // a minute per client, however often /authorize is loaded.
    let notify = s.notices.should_notify(&client_store_id, now);
    let consent = StoreEvent::ConsentRequested {
        client_name: client.client_name.clone(),
        connection_name: connection.name.clone(),
    };
    let connection_id = connection.id.clone();
    if let Err(e) = s
        .store
        .write_with_events(move |tx| {
            authorization_requests::remove_pending_for(tx, &client_store_id, &connection_id)?;
            grants::create_pending(tx, &grant, now)?;
            authorization_requests::insert(tx, &request, now)?;
            authorization_requests::cap_pending(tx, MAX_PENDING_REQUESTS)?;
            Ok(((), if notify { vec![consent] } else { Vec::new() }))
        })
        .await
    {
        return server_error_page(&e);
    }
    tracing::info!(
        client_id = %client.client_id,
        connection = %connection.slug,
        request_id = %request_id,
        "consent requested"
    );

    // 4. Nothing expensive before a person looks: the page that lists the upstream's tools is the
    // review, which this page opens (a refresh a document follows and an image load never does).
    let mut response = ConsentLoadingPage {
        review_path: review_path(&request_id),
    }
    .into_response();
    if let Some(cookie) = consent_cookie::set_cookie(&request_id, browser.expose_secret()) {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

/// Where the consent review of `request` is.
pub(crate) fn review_path(request: &AuthorizationRequestId) -> String {
    format!("{REVIEW_PATH}?request_id={request}")
}

/// The client's registrant, as the OS saw it at `/register` (module docs of `register`).
async fn registrant_of(s: &AuthorizeState, client: &ClientId) -> Option<CallerProcess> {
    let id = client.clone();
    s.store
        .read(move |conn| clients::registrant(conn, &id))
        .await
        .ok()
        .flatten()
}

async fn resolve_cimd_client(
    s: &AuthorizeState,
    client_id: &str,
    now: crate::clock::UnixMillis,
) -> Result<ClientRegistration, Response> {
    let resolved = s.cimd.resolve(client_id, now).await.map_err(|e| {
        tracing::warn!(%client_id, error = %e, "client metadata document refused");
        page(format!(
            "The client's metadata document cannot be used: {e}."
        ))
    })?;
    let id = ClientId::new(client_id).ok_or_else(|| page("The request has no client_id."))?;
    let registration = cimd::registration(&id, &resolved.client);
    if resolved.fetched {
        let store = s.store.clone();
        let row = registration.clone();
        match tokio::task::spawn_blocking(move || store.upsert_client(&row)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(server_error_page(&e)),
            Err(e) => return Err(server_error_page(&e)),
        }
    }
    Ok(registration)
}

/// Requested scopes ∩ supported, with `mcp:access` always first (module docs).
pub fn effective_scopes(requested: Option<&str>) -> Vec<String> {
    let mut scopes = vec![String::from(SCOPE_MCP_ACCESS)];
    for scope in requested.unwrap_or_default().split(' ') {
        if SUPPORTED_SCOPES.contains(&scope) && !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    scopes
}

pub(crate) fn callback_warnings(matched: &RedirectUri, registered: &[RedirectUri]) -> Vec<String> {
    let mut warnings = Vec::new();
    if let RedirectKind::PrivateUse { reverse_dns } = matched.kind() {
        let scheme = matched.as_str().split(':').next().unwrap_or_default();
        let mut text = format!(
            "The code goes to an app link ({scheme}:). Any app on this computer can claim such a link; \
             approve only if you just started this sign-in from that app."
        );
        if !reverse_dns {
            text.push_str(
                " This scheme is not a reverse domain name, so it proves even less about the app.",
            );
        }
        warnings.push(text);
    }
    if !registered.is_empty() && registered.iter().all(RedirectUri::is_loopback) {
        warnings.push(String::from(
            "Every callback this client registered is on this computer (localhost): any program running \
             here could have registered it. Approve only if you just started this sign-in yourself.",
        ));
    }
    warnings
}
