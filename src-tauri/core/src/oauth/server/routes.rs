//! The authorization server's HTTP surface other than `/authorize` and the consent page: metadata
//! (RFC 8414, RFC 9728), registration (RFC 7591), token (OAuth 2.1 §3.2) and revocation (RFC 7009).
//!
//! [`router`] builds these routes with their own state, [`AuthorizationServer`], and
//! `gateway::router` merges them under its Host/Origin guard. Loopback-origin CORS ([`super::cors`])
//! wraps every route here, because the MCP Inspector calls them from browser JavaScript; `/mcp/*` is
//! not mounted here and gets no CORS.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use super::client_metadata::MAX_REGISTRATION_BODY;
use super::register::RegistrationLimits;
use super::token::RefreshGrace;
use super::{cors, metadata, register, revoke, token};
use crate::net::loopback::LocalAuthority;
use crate::store::Store;

/// Largest form body accepted by `/token` and `/revoke`, in bytes; a larger one is `invalid_request`.
pub const MAX_FORM_BODY: usize = 16 * 1024;

/// What the token, registration, revocation and metadata endpoints share.
#[derive(Clone)]
pub struct AuthorizationServer {
    pub(super) store: Store,
    pub(super) local: LocalAuthority,
    pub(super) registrations: Arc<Mutex<RegistrationLimits>>,
    /// Held across a whole refresh so that the grace lookup, the rotation and the remembering of the
    /// new pair are one step for concurrent refreshes of the same token.
    pub(super) refresh_grace: Arc<tokio::sync::Mutex<RefreshGrace>>,
}

impl AuthorizationServer {
    pub fn new(store: Store, local: LocalAuthority) -> Self {
        Self {
            store,
            local,
            registrations: Arc::new(Mutex::new(RegistrationLimits::default())),
            refresh_grace: Arc::new(tokio::sync::Mutex::new(RefreshGrace::default())),
        }
    }

    /// `http://127.0.0.1:PORT`, whatever loopback name the request used.
    pub fn issuer(&self) -> String {
        self.local.base_url()
    }
}

/// The metadata, `/register`, `/token` and `/revoke` routes, with their own state (generic over the
/// state of the router they are merged into).
pub fn router<S: Clone + Send + Sync + 'static>(store: Store, local: LocalAuthority) -> Router<S> {
    routes(AuthorizationServer::new(store, local))
}

/// [`router`] for an already built [`AuthorizationServer`] (tests keep a handle on its store).
pub fn routes<S: Clone + Send + Sync + 'static>(server: AuthorizationServer) -> Router<S> {
    Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(metadata::authorization_server),
        )
        .route(
            "/.well-known/oauth-protected-resource",
            get(metadata::no_root_resource),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp/{slug}",
            get(metadata::protected_resource),
        )
        .route(
            "/register",
            post(register::register).layer(DefaultBodyLimit::max(MAX_REGISTRATION_BODY)),
        )
        .route(
            "/token",
            post(token::token).layer(DefaultBodyLimit::max(MAX_FORM_BODY)),
        )
        .route(
            "/revoke",
            post(revoke::revoke).layer(DefaultBodyLimit::max(MAX_FORM_BODY)),
        )
        .layer(cors::loopback_cors())
        .with_state(server)
}
