//! Role 2 use cases: probe a URL for OAuth, sign a connection in (browser or client credentials), see
//! how a sign-in went, and sign it out (RFC 7009 revocation, then local deletion). Unlike the rest of
//! `admin` these are async: they talk to the upstream.
//!
//! A browser sign-in comes back either to the gateway's loopback callback (RFC 8252 §7.3, the
//! default: works with `gatehoused serve` alone) or to the app's deep link (RFC 8252 §7.1,
//! `dev.gatehouse:/oauth/callback`: needs the app installed as the scheme's handler). The choice is
//! per sign-in ([`SigninCallback`]); either way DCR registers both redirect URIs, so switching does
//! not register a new client.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::AdminError;
use super::connections::find;
use crate::clock::UnixMillis;
use crate::net::outbound::Outbound;
use crate::oauth::upstream::deep_link::{DEEP_LINK_REDIRECT_URI, DeepLinkError, callback_query};
use crate::oauth::upstream::detection::{self, Detected};
use crate::oauth::upstream::flow::{RevokeResult, SigninProgress, loopback_redirect_uri};
use crate::oauth::upstream::{MAX_TOKEN_RESPONSE_BYTES, SigninStart, UpstreamError, UpstreamOAuth};
use crate::store::connections::{AuthKind, OAuthGrant};
use crate::vault::Vault;

/// Where the authorization server sends the browser back after a sign-in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SigninCallback {
    /// `http://127.0.0.1:PORT/oauth/callback` on the running gateway.
    #[default]
    Loopback,
    /// `dev.gatehouse:/oauth/callback`, opened by the desktop in the running app.
    DeepLink,
}

impl SigninCallback {
    /// The redirect URI of this callback for a gateway on `port`.
    pub fn redirect_uri(self, port: u16) -> String {
        match self {
            Self::Loopback => loopback_redirect_uri(port),
            Self::DeepLink => DEEP_LINK_REDIRECT_URI.to_owned(),
        }
    }
}

/// What starting a sign-in from the window did. No secret: the authorization URL (which carries
/// the `state`) goes to the browser only; `signin_id` is the state's SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SigninStarted {
    pub connection_id: String,
    pub slug: String,
    /// `browser`: finish in the browser; `connected`: a client_credentials connection, already done.
    #[ts(type = "\"browser\" | \"connected\"")]
    pub outcome: String,
    pub callback: SigninCallback,
    /// Where the browser comes back to (`null` when connected at once).
    pub redirect_uri: Option<String>,
    /// Names the pending sign-in (the hex SHA-256 of its state).
    pub signin_id: Option<String>,
    /// When the pending sign-in expires (unix ms).
    #[ts(type = "number | null")]
    pub expires_at: Option<UnixMillis>,
}

/// What a sign-out did: the RFC 7009 revocation result at the upstream (`revoked`,
/// `revoke_failed`, `not_supported`, `nothing_to_revoke`); the local tokens are gone in every case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SignedOut {
    pub slug: String,
    pub revocation: String,
}

/// How an upstream signs in, as auto-detection sees it (what "Detect sign-in" and `connections add`
/// without `--auth` act on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
pub enum SuggestedAuth {
    /// OAuth: protected resource metadata is in sight (or the legacy fallback was asked for).
    #[serde(rename = "oauth")]
    OAuth,
    /// The upstream wants credentials but offers no OAuth metadata: an API key in a header.
    #[serde(rename = "header")]
    Header,
    /// It answered without credentials, or said nothing Gatehouse can act on.
    #[serde(rename = "none")]
    None,
}

/// What the unauthenticated probe of an upstream found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct AuthDetection {
    pub suggested: SuggestedAuth,
    /// What the probe found, in a sentence to show as it is.
    pub finding: String,
}

/// Probes the upstream at `url` without credentials and says how it signs in: OAuth only with
/// protected resource metadata in sight (RFC 9728: named by a 401's `resource_metadata`, or at the
/// well-knowns), or with `legacy` (the 2025-03-26 fallback opt-in) after any 401; a 401 or 403
/// without metadata suggests a header.
pub async fn detect_auth(url: &str, legacy: bool) -> Result<AuthDetection, AdminError> {
    let url = url.trim();
    let policy = Outbound::for_upstream(url, MAX_TOKEN_RESPONSE_BYTES);
    let detected = detection::detect(&policy, url, legacy)
        .await
        .map_err(|e| AdminError::Upstream(e.into()))?;
    let suggested = match detected {
        Detected::OAuth(_) => SuggestedAuth::OAuth,
        Detected::Credentials { .. } => SuggestedAuth::Header,
        Detected::Open | Detected::Other(_) => SuggestedAuth::None,
    };
    Ok(AuthDetection {
        suggested,
        finding: detected.finding(),
    })
}

/// A provider template the window offers when adding an OAuth connection (the data lives in
/// `oauth/upstream/templates.json`, not in code branches).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
pub struct OAuthTemplateView {
    /// What `OAuthRequest.template` names (`github`, `okta`, …).
    pub key: String,
    /// What the user reads ("GitHub", "Okta").
    pub name: String,
    /// Whether its endpoints take a tenant domain (Okta, Auth0, Microsoft).
    pub takes_tenant: bool,
    /// Whether a tenant domain must be given (it takes one and has no default).
    pub needs_tenant: bool,
}

/// Every provider template, by key.
pub fn oauth_templates() -> Vec<OAuthTemplateView> {
    crate::oauth::upstream::registration::templates()
        .into_iter()
        .map(|(key, template)| OAuthTemplateView {
            takes_tenant: template.needs_tenant(),
            needs_tenant: template.needs_tenant() && template.default_tenant.is_none(),
            name: template.name,
            key,
        })
        .collect()
}

/// What starting a sign-in produced.
pub enum SigninLaunch {
    /// Open this URL in the system browser; the gateway's callback completes it.
    Browser(SigninStart),
    /// A client_credentials connection: already connected.
    Connected,
}

/// Starts signing in the connection `key`, coming back through `callback` (the loopback one of a
/// gateway on `port`, or the deep link).
pub async fn start_signin(
    oauth: &Arc<UpstreamOAuth>,
    port: u16,
    key: &str,
    callback: SigninCallback,
) -> Result<SigninLaunch, AdminError> {
    let row = find(oauth.vault().store(), key)?;
    if row.settings.auth_kind != AuthKind::OAuth {
        return Err(AdminError::invalid(
            "auth",
            "this connection does not use OAuth",
        ));
    }
    if row.settings.oauth.grant == Some(OAuthGrant::ClientCredentials) {
        oauth.connect_client_credentials(&row.id).await?;
        return Ok(SigninLaunch::Connected);
    }
    let loopback = loopback_redirect_uri(port);
    Ok(SigninLaunch::Browser(
        oauth
            .start_signin_registering(
                &row.id,
                &callback.redirect_uri(port),
                &[&loopback, DEEP_LINK_REDIRECT_URI],
            )
            .await?,
    ))
}

/// Starts signing in the connection `key` and hands the authorization URL to `open` (the system
/// browser); what the window gets back carries no secret.
pub async fn start_signin_in_browser(
    oauth: &Arc<UpstreamOAuth>,
    port: u16,
    key: &str,
    callback: SigninCallback,
    open: impl FnOnce(&str) -> std::io::Result<()>,
) -> Result<SigninStarted, AdminError> {
    let row = find(oauth.vault().store(), key)?;
    let launched = start_signin(oauth, port, row.id.as_str(), callback).await?;
    let mut started = SigninStarted {
        connection_id: row.id.to_string(),
        slug: row.slug.clone(),
        outcome: "connected".to_owned(),
        callback,
        redirect_uri: None,
        signin_id: None,
        expires_at: None,
    };
    if let SigninLaunch::Browser(start) = launched {
        open(&start.authorization_url).map_err(|e| {
            AdminError::Upstream(UpstreamError::Config(format!(
                "cannot open the browser for the sign-in: {e}"
            )))
        })?;
        started.outcome = "browser".to_owned();
        started.redirect_uri = Some(callback.redirect_uri(port));
        started.signin_id = Some(start.signin_id);
        started.expires_at = Some(start.expires_at);
    }
    Ok(started)
}

/// The upstream OAuth state of a process that does not serve the gateway (the command line): made
/// once per process and handed to every use case that signs in or out, as the gateway's runtime
/// hands its own to the app's.
pub fn standalone_upstream_oauth(vault: &Vault) -> Arc<UpstreamOAuth> {
    UpstreamOAuth::new(vault)
}

/// Where a started sign-in stands.
pub async fn signin_progress(vault: &Vault, signin_id: &str) -> Result<SigninProgress, AdminError> {
    Ok(UpstreamOAuth::signin_progress(vault, signin_id).await?)
}

/// [`disconnect_connection`] as the window sees it.
pub async fn sign_out(oauth: &UpstreamOAuth, key: &str) -> Result<SignedOut, AdminError> {
    let row = find(oauth.vault().store(), key)?;
    let result = disconnect_connection(oauth, row.id.as_str()).await?;
    Ok(SignedOut {
        slug: row.slug,
        revocation: result.as_str().to_owned(),
    })
}

/// Signs the connection out: revokes at the upstream (best effort, audited), deletes the tokens.
/// `oauth` is the process's one upstream OAuth state (the running gateway's, in the app), so the
/// proxy's cached token goes with the sign-out.
pub async fn disconnect_connection(
    oauth: &UpstreamOAuth,
    key: &str,
) -> Result<RevokeResult, AdminError> {
    let row = find(oauth.vault().store(), key)?;
    if row.settings.auth_kind != AuthKind::OAuth {
        return Err(AdminError::invalid(
            "auth",
            "this connection does not use OAuth",
        ));
    }
    Ok(oauth.sign_out(&row.id).await?)
}

/// What became of a `dev.gatehouse:` link handed to the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeepLinkOutcome {
    /// Not a sign-in callback: nothing was done.
    Ignored,
    /// The sign-in of this connection completed.
    SignedIn { connection_id: String },
    /// Why the sign-in did not complete, in words for the person; never the code or the state.
    Failed(String),
}

/// Completes an upstream sign-in that came back through the deep link (RFC 8252 §7.1:
/// `dev.gatehouse:/oauth/callback?…`) on the process's upstream OAuth state (`None`: the gateway
/// is not running). The state is burned first, RFC 9207 `iss` is checked, then the RFC 6749
/// §4.1.3 exchange is made.
pub async fn complete_deep_link(oauth: Option<&UpstreamOAuth>, link: &str) -> DeepLinkOutcome {
    let query = match callback_query(link) {
        Ok(query) => query,
        Err(DeepLinkError::NotACallback) => return DeepLinkOutcome::Ignored,
        Err(error) => return DeepLinkOutcome::Failed(error.to_string()),
    };
    let Some(oauth) = oauth else {
        return DeepLinkOutcome::Failed(
            "the sign-in came back, but Gatehouse's gateway is not running".to_owned(),
        );
    };
    match oauth.complete_signin(&query).await {
        Ok(done) => DeepLinkOutcome::SignedIn {
            connection_id: done.connection_id.to_string(),
        },
        Err(error) => DeepLinkOutcome::Failed(error.to_string()),
    }
}
