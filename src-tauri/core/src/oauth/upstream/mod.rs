//! Role 2: Gatehouse as an OAuth client of upstream MCP servers.
//!
//! - [`discovery`]: probe → RFC 9728 → RFC 8414 / OpenID metadata, cached 5 min per (URL, version),
//!   with the 2025-03-26 fallback for PRM-less upstreams where the connection opted in; and the
//!   add-a-connection auto-detection (OAuth only with protected resource metadata in sight).
//! - [`registration`]: pre-registered client, provider templates (data), or DCR kept per issuer,
//!   registered once more (and only once) after `invalid_client`.
//! - [`flow`]: PKCE S256 sign-in whose pending state lives in the store (`upstream_signins`), so the
//!   CLI can start what the running gateway's callback completes; client_credentials; sign-out with
//!   RFC 7009 revocation.
//! - [`refresh`]: [`UpstreamTokens`], the proxy's source of upstream access tokens: refresh ahead of
//!   expiry with one refresh in flight per connection.
//! - [`callback`]: the loopback `GET /oauth/callback` route and its page.
//! - [`deep_link`]: the app's `dev.gatehouse:/oauth/callback` (RFC 8252 §7.1) parsed into the same
//!   [`CallbackQuery`].
//!
//! The token steps (code exchange, refresh, client credentials, RFC 7009 revocation) go through the
//! `oauth2` crate in [`token_endpoint`], with the SSRF-checked, DNS-pinned, size-capped outbound
//! client of [`crate::net::outbound`] as its HTTP client. Discovery (RFC 9728, RFC 8414), the
//! authorization request with its pending state in the encrypted store, RFC 9207 `iss` checking,
//! registration and the provider templates are Gatehouse's own: the crate has none of them, and
//! the pending state must live in the store rather than in memory.
//!
//! Not done here (named so nobody assumes otherwise): CIMD as Gatehouse's own client identity
//! toward upstreams (a Client ID Metadata Document Gatehouse hosts for itself; DCR is used
//! instead), a retry of DCR with alternative redirect URIs after `invalid_redirect_uri` (the error
//! is shown), honouring `client_secret_expires_at`, and the optional `no-store` check on token
//! responses. The app's deep link reaches [`UpstreamOAuth::complete_signin`] through
//! `admin::complete_deep_link` with the runtime's upstream OAuth state.
//!
//! Token values never leave this module except as [`SecretString`] to the proxy, never reach a log
//! line, an audit row or a DTO, and are stored only sealed (AAD `upstream_credentials/<column>/<id>`).

pub mod callback;
pub mod deep_link;
pub mod detection;
pub mod discovery;
pub mod flow;
pub mod legacy;
pub mod probe;
pub mod reauth;
pub mod refresh;
pub mod registration;
pub mod signin_page;
pub mod signout;
pub mod token_endpoint;

use std::sync::Arc;

use http::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

pub use detection::Detected;
pub use discovery::{Challenge, Discovered, DiscoveryError, Probe, ServerMetadata};
pub use flow::{CallbackQuery, SigninStart};
pub use refresh::UpstreamTokens;
pub use registration::{OAuthClient, Template, templates};

use crate::clock::{SECOND, UnixMillis};
use crate::crypto::{Aad, CryptoError};
use crate::net::outbound::{Outbound, OutboundError};
use crate::store::connections::{AuthKind, ConnectionRow};
use crate::store::upstream_credentials::{self, UpstreamCredential};
use crate::store::{ConnectionId, StoreError};
use crate::vault::Vault;

/// Largest token / userinfo / revocation response accepted.
pub const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;

/// What the user sees when the upstream refused Gatehouse's refresh token.
pub const SIGN_IN_AGAIN: &str = "Sign in again";

/// Everything that can go wrong in role 2. Messages are safe to show: no token, no secret, no
/// upstream-controlled HTML.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("Gatehouse cannot open a stored secret: {0}")]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    #[error("{what}: {source}")]
    Outbound {
        what: &'static str,
        source: OutboundError,
    },
    #[error("the connection does not exist")]
    UnknownConnection,
    #[error("this connection does not use OAuth")]
    NotOAuth,
    #[error("{0}")]
    Config(String),
    #[error("registration at the authorization server failed: {0}")]
    Registration(String),
    #[error("this sign-in is unknown, expired or already used; start it again from Gatehouse")]
    UnknownState,
    #[error(
        "the response came from another authorization server than the one asked; it was ignored"
    )]
    IssuerMismatch,
    #[error("the authorization server did not say who it is (no iss); the response was ignored")]
    IssuerMissing,
    #[error("the authorization server refused the sign-in ({0})")]
    Denied(String),
    #[error("the connection changed while signing in; sign in again")]
    Stale,
    #[error("the token endpoint refused: {0}")]
    TokenRefused(String),
    #[error(
        "the authorization server refused the client id or secret entered for this connection \
         (invalid_client): check them with the provider; to change them, remove the connection and \
         add it again"
    )]
    ClientRejected,
    #[error(
        "the authorization server no longer accepts the client Gatehouse registered with it \
         (invalid_client): sign in again, and Gatehouse registers once more"
    )]
    RegistrationRejected,
    #[error(
        "the authorization server refused even the client Gatehouse had just registered with it \
         (invalid_client), so Gatehouse will not register again: check the server, or remove the \
         connection and add it with a client id registered there"
    )]
    RegistrationRejectedAgain,
    #[error("the upstream needs a new sign-in: open Gatehouse and sign in again")]
    ReauthRequired,
    #[error("this connection is not signed in to its upstream yet: open Gatehouse and sign in")]
    NotSignedIn,
    #[error("{0}")]
    Json(#[from] serde_json::Error),
}

/// `error` (+ a short description) of an OAuth error body, for messages. Never the whole body.
pub(crate) fn oauth_error_text(body: &Value, status: StatusCode) -> String {
    let error = body.get("error").and_then(Value::as_str).map(|e| {
        e.chars()
            .filter(char::is_ascii_graphic)
            .take(64)
            .collect::<String>()
    });
    let description = body
        .get("error_description")
        .and_then(Value::as_str)
        .map(|d| {
            d.chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect::<String>()
        });
    match (error, description) {
        (Some(e), Some(d)) => format!("{e}: {d}"),
        (Some(e), None) => e,
        _ => format!("HTTP {}", status.as_u16()),
    }
}

/// Where to sign in and what to send, for one connection.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub metadata: ServerMetadata,
    pub resource: String,
    /// The scope to request, if any.
    pub scope: Option<String>,
}

/// The scopes that name the account ("on behalf of"), added to the MCP scope selection (MCP
/// 2025-11-25 authorization §Scope Selection Strategy) only when the authorization server advertises
/// them: `openid` for an id_token, `email` for a readable name in it. An AS that lists neither is
/// asked for nothing extra, and the person names the account instead.
fn with_identity_scopes(scope: Option<String>, advertised: &[String]) -> Option<String> {
    let mut scopes: Vec<String> = scope
        .as_deref()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if !advertised.iter().any(|s| s == "openid") {
        return scope;
    }
    for wanted in ["openid", "email"] {
        if advertised.iter().any(|s| s == wanted) && !scopes.iter().any(|s| s == wanted) {
            scopes.push(wanted.to_owned());
        }
    }
    (!scopes.is_empty()).then(|| scopes.join(" "))
}

/// Role 2's shared state: the discovery cache and the token source. One per gateway process.
pub struct UpstreamOAuth {
    pub(crate) vault: Vault,
    pub(crate) discovery: discovery::DiscoveryCache,
    tokens: UpstreamTokens,
}

impl UpstreamOAuth {
    pub fn new(vault: &Vault) -> Arc<Self> {
        Arc::new_cyclic(|weak| Self {
            vault: vault.clone(),
            discovery: discovery::DiscoveryCache::default(),
            tokens: UpstreamTokens::new(weak.clone()),
        })
    }

    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// The proxy's token source.
    pub fn tokens(&self) -> &UpstreamTokens {
        &self.tokens
    }

    /// The outbound policy for everything this connection's upstream hands Gatehouse.
    pub fn policy(row: &ConnectionRow) -> Outbound {
        Outbound::for_upstream(&row.settings.upstream_url, MAX_TOKEN_RESPONSE_BYTES)
    }

    pub(crate) async fn connection(
        &self,
        id: &ConnectionId,
    ) -> Result<ConnectionRow, UpstreamError> {
        let id = id.clone();
        let row = self
            .vault
            .store()
            .read(move |conn| crate::store::connections::get(conn, &id))
            .await?
            .ok_or(UpstreamError::UnknownConnection)?;
        if row.settings.auth_kind != AuthKind::OAuth {
            return Err(UpstreamError::NotOAuth);
        }
        Ok(row)
    }

    /// The connection's endpoints: from its template / manual settings, else discovered (cached).
    pub async fn endpoints(&self, row: &ConnectionRow) -> Result<Endpoints, UpstreamError> {
        let o = &row.settings.oauth;
        let policy = Self::policy(row);
        if let (Some(authorization_endpoint), Some(token_endpoint)) =
            (&o.authorization_endpoint, &o.token_endpoint)
        {
            let template = o
                .template
                .as_deref()
                .and_then(|t| templates().get(t).cloned());
            let metadata = ServerMetadata {
                issuer: o.issuer.clone().unwrap_or_default(),
                authorization_endpoint: authorization_endpoint.clone(),
                token_endpoint: token_endpoint.clone(),
                registration_endpoint: o.registration_endpoint.clone(),
                revocation_endpoint: o.revocation_endpoint.clone(),
                userinfo_endpoint: o.userinfo_endpoint.clone(),
                scopes_supported: Vec::new(),
                iss_supported: template.is_some_and(|t| t.iss_supported),
                token_endpoint_auth_methods: Vec::new(),
                // Entered endpoints say nothing about metadata documents: register as before.
                client_id_metadata_document_supported: false,
            };
            discovery::check_endpoints(&policy, &metadata)?;
            let resource = o
                .resource
                .clone()
                .or_else(|| discovery::canonical_resource(&row.settings.upstream_url))
                .ok_or(DiscoveryError::InvalidUrl)?;
            return Ok(Endpoints {
                metadata,
                resource,
                scope: o.scopes.clone(),
            });
        }
        let found = self.discover(row).await?;
        let scope = o
            .scopes
            .clone()
            .or_else(|| found.challenged_scope.clone())
            .or_else(|| {
                (!found.resource_scopes.is_empty()).then(|| found.resource_scopes.join(" "))
            });
        let scope = with_identity_scopes(scope, &found.metadata.scopes_supported);
        Ok(Endpoints {
            metadata: found.metadata.clone(),
            resource: found.resource.clone(),
            scope,
        })
    }

    async fn discover(&self, row: &ConnectionRow) -> Result<Arc<Discovered>, UpstreamError> {
        let url = &row.settings.upstream_url;
        let now = self.vault.store().now();
        if let Some(hit) = self.discovery.get(url, row.config_version, now) {
            return Ok(hit);
        }
        let policy = Self::policy(row);
        let challenge = match discovery::probe(&policy, url).await? {
            Probe::Unauthorized { challenge, .. } => Some(challenge),
            Probe::Open | Probe::Other(_) => None,
        };
        let found = Arc::new(
            discovery::discover(
                &policy,
                url,
                challenge.as_ref(),
                row.settings.oauth.issuer.as_deref(),
                row.settings.oauth.legacy_discovery,
            )
            .await?,
        );
        self.discovery
            .put(url, row.config_version, now, Arc::clone(&found));
        Ok(found)
    }

    /// Drops cached discovery for an MCP URL (an upstream 401 may carry a new `resource_metadata`:
    /// RFC 9728 §5.2), so the next refresh or sign-in discovers afresh.
    pub fn forget_discovery(&self, mcp_url: &str) {
        self.discovery.forget(mcp_url);
    }
}

/// A successful token response.
pub(crate) struct TokenResponse {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub expires_in: Option<i64>,
    pub scope: Option<String>,
    pub token_type: String,
    pub id_token: Option<String>,
}

/// A refused token request: the OAuth `error` code and a safe text.
pub(crate) enum TokenFailure {
    Refused { error: String, text: String },
    Other(UpstreamError),
}

impl From<TokenFailure> for UpstreamError {
    fn from(f: TokenFailure) -> Self {
        match f {
            TokenFailure::Refused { text, .. } => UpstreamError::TokenRefused(text),
            TokenFailure::Other(e) => e,
        }
    }
}

pub(crate) fn access_aad(id: &ConnectionId) -> Aad<'_> {
    Aad {
        table: "upstream_credentials",
        column: "access_token_sealed",
        row_id: id.as_str(),
    }
}

pub(crate) fn refresh_aad(id: &ConnectionId) -> Aad<'_> {
    Aad {
        table: "upstream_credentials",
        column: "refresh_token_sealed",
        row_id: id.as_str(),
    }
}

/// The credential row for new tokens. A response without a refresh token keeps the old one
/// (RFC 6749 §6); a rotated one replaces it in the same write. The DCR client is kept.
pub(crate) fn credential_for(
    vault: &Vault,
    id: &ConnectionId,
    previous: Option<&UpstreamCredential>,
    issuer: &str,
    tokens: &TokenResponse,
    now: UnixMillis,
) -> UpstreamCredential {
    let cipher = vault.cipher();
    UpstreamCredential {
        connection_id: id.clone(),
        access_token_sealed: Some(
            cipher.seal_str(tokens.access_token.expose_secret(), &access_aad(id)),
        ),
        refresh_token_sealed: match &tokens.refresh_token {
            Some(r) => Some(cipher.seal_str(r.expose_secret(), &refresh_aad(id))),
            None => previous.and_then(|p| p.refresh_token_sealed.clone()),
        },
        expires_at: tokens
            .expires_in
            .filter(|s| *s > 0)
            .map(|s| now.saturating_add(s.saturating_mul(SECOND))),
        scopes: tokens
            .scope
            .clone()
            .or_else(|| previous.and_then(|p| p.scopes.clone())),
        issuer: Some(issuer.to_owned()),
        token_type: Some(tokens.token_type.clone()),
        dcr_client_json_sealed: previous.and_then(|p| p.dcr_client_json_sealed.clone()),
        updated_at: now,
    }
}

/// Reads the credential row.
pub(crate) async fn read_credential(
    vault: &Vault,
    id: &ConnectionId,
) -> Result<Option<UpstreamCredential>, UpstreamError> {
    let id = id.clone();
    Ok(vault
        .store()
        .read(move |conn| upstream_credentials::get(conn, &id))
        .await?)
}

#[cfg(test)]
mod identity_scope_tests {
    use super::with_identity_scopes;

    fn advertised(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn identity_scopes_are_added_only_when_advertised() {
        assert_eq!(
            with_identity_scopes(Some("files:read".into()), &advertised(&["files:read"])),
            Some("files:read".into()),
            "an AS without openid is asked for nothing extra"
        );
        assert_eq!(
            with_identity_scopes(None, &advertised(&["openid", "email", "profile"])),
            Some("openid email".into()),
            "openid and email name the account; profile is not needed"
        );
        assert_eq!(
            with_identity_scopes(Some("mcp openid".into()), &advertised(&["openid"])),
            Some("mcp openid".into()),
            "no duplicates, and email only when advertised"
        );
    }
}
