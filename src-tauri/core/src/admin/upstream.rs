//! Role 2 use cases: probe a URL for OAuth, sign a connection in (browser or client credentials), see
//! how a sign-in went, and sign it out (RFC 7009 revocation, then local deletion). Unlike the rest of
//! `admin` these are async: they talk to the upstream.

use std::sync::Arc;

use super::AdminError;
use super::connections::find;
use crate::net::outbound::Outbound;
use crate::oauth::upstream::discovery::{self, Probe};
use crate::oauth::upstream::flow::{RevokeResult, SigninProgress, loopback_redirect_uri};
use crate::oauth::upstream::{MAX_TOKEN_RESPONSE_BYTES, SigninStart, UpstreamOAuth};
use crate::store::connections::{AuthKind, OAuthGrant};
use crate::vault::Vault;

/// Whether the upstream at `url` asks for OAuth (an unauthenticated probe answered 401).
pub async fn detect_oauth(url: &str) -> Result<bool, AdminError> {
    let policy = Outbound::for_upstream(url, MAX_TOKEN_RESPONSE_BYTES);
    match discovery::probe(&policy, url).await {
        Ok(Probe::OAuth(_)) => Ok(true),
        Ok(_) => Ok(false),
        Err(e) => Err(AdminError::Upstream(e.into())),
    }
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
pub enum SigninStarted {
    /// Open this URL in the system browser; the gateway's callback completes it.
    Browser(SigninStart),
    /// A client_credentials connection: already connected.
    Connected,
}

/// Starts signing in the connection `key`, with the loopback callback of a gateway on `port`.
pub async fn start_signin(
    oauth: &Arc<UpstreamOAuth>,
    port: u16,
    key: &str,
) -> Result<SigninStarted, AdminError> {
    let row = find(oauth.vault().store(), key)?;
    if row.settings.auth_kind != AuthKind::OAuth {
        return Err(AdminError::invalid(
            "auth",
            "this connection does not use OAuth",
        ));
    }
    if row.settings.oauth.grant == Some(OAuthGrant::ClientCredentials) {
        oauth.connect_client_credentials(&row.id).await?;
        return Ok(SigninStarted::Connected);
    }
    Ok(SigninStarted::Browser(
        oauth
            .start_signin(&row.id, &loopback_redirect_uri(port))
            .await?,
    ))
}

/// Where a started sign-in stands.
pub async fn signin_progress(vault: &Vault, signin_id: &str) -> Result<SigninProgress, AdminError> {
    Ok(UpstreamOAuth::signin_progress(vault, signin_id).await?)
}

/// Signs the connection out: revokes at the upstream (best effort, audited), deletes the tokens.
pub async fn disconnect_connection(vault: &Vault, key: &str) -> Result<RevokeResult, AdminError> {
    let row = find(vault.store(), key)?;
    if row.settings.auth_kind != AuthKind::OAuth {
        return Err(AdminError::invalid(
            "auth",
            "this connection does not use OAuth",
        ));
    }
    let oauth = UpstreamOAuth::new(vault);
    Ok(oauth.sign_out(&row.id).await?)
}

/// Removes a connection; an OAuth one is signed out first (RFC 7009 at the upstream, best effort and
/// audited), so its tokens do not outlive it at the authorization server.
pub async fn remove_connection_signed_out(
    vault: &Vault,
    key: &str,
) -> Result<super::ConnectionRemoved, AdminError> {
    let row = find(vault.store(), key)?;
    if row.settings.auth_kind == AuthKind::OAuth
        && let Err(err) = UpstreamOAuth::new(vault).sign_out(&row.id).await
    {
        tracing::warn!(connection = %row.id, error = %err, "signing out before removal failed");
    }
    let vault = vault.clone();
    let key = row.id.to_string();
    tokio::task::spawn_blocking(move || super::remove_connection(&vault, &key))
        .await
        .map_err(|e| {
            AdminError::Upstream(crate::oauth::upstream::UpstreamError::Config(e.to_string()))
        })?
}
