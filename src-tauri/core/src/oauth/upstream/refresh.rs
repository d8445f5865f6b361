//! Staying signed in (OAuth 2.1 §4.3: refresh, rotation): the proxy's source of upstream access
//! tokens.
//!
//! [`UpstreamTokens::access_token`] answers from memory while the token has more than
//! [`REFRESH_AHEAD`] to live (keyed by `config_version`, so a material change never reuses a token
//! minted for the old settings, and by the connection row's `updated_at`, which moves with every
//! sign-in, sign-out and status change, so a sign-out or a sign-in as someone else, in this process
//! or another, is seen on the next request). Otherwise it takes the connection's async mutex and **re-checks**
//! before refreshing, so however many requests wait, one refresh goes out per connection; the others
//! get its result. A concurrent refresh with the same rotated token would look like reuse to the AS
//! and revoke the grant (OAuth 2.1 §4.3.1).
//!
//! The refresh sends `resource` (RFC 8707). A rotated refresh token replaces the old one in the same
//! transaction as the new access token, before the new access token is used. `invalid_grant` means
//! the user must sign in again: the connection turns `reauth_required` ("Sign in again") and the
//! proxy answers its clients with a JSON-RPC error, never HTTP 401. `invalid_client` does the same,
//! and marks a DCR registration refused so the next sign-in registers once more (see
//! [`registration::client_refused`]). A client_credentials connection simply gets a new token.
//!
//! [`UpstreamTokens::after_rejection`] is the proxy's path after an upstream 401: one forced refresh
//! (unless another request already replaced the rejected token), then the caller retries once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};

use secrecy::{ExposeSecret, SecretString};

use super::registration;
use super::token_endpoint::{Grant, token_request};
use super::{
    SIGN_IN_AGAIN, TokenFailure, UpstreamError, UpstreamOAuth, access_aad, credential_for,
    read_credential,
};
use crate::clock::{SECOND, UnixMillis};
use crate::store::ConnectionId;
use crate::store::connections::{self, ConnectionStatus, OAuthGrant};
use crate::store::upstream_credentials;

/// Refresh this long before the access token expires, or a quarter of its lifetime when that is
/// shorter (a 20 s token would otherwise count as expiring on every request).
pub const REFRESH_AHEAD: UnixMillis = 60 * SECOND;

struct Cached {
    config_version: i64,
    /// The connection row's `updated_at` when the token was cached.
    generation: UnixMillis,
    token: SecretString,
    expires_at: Option<UnixMillis>,
    /// When the token was obtained (its lifetime is `expires_at - issued_at`).
    issued_at: UnixMillis,
}

/// When a token expires and when it was obtained.
#[derive(Clone, Copy)]
struct Lifetime {
    expires_at: Option<UnixMillis>,
    issued_at: UnixMillis,
}

/// Upstream access tokens by connection, with single-flight refresh.
pub struct UpstreamTokens {
    owner: Weak<UpstreamOAuth>,
    cache: RwLock<HashMap<ConnectionId, Cached>>,
    locks: Mutex<HashMap<ConnectionId, Arc<tokio::sync::Mutex<()>>>>,
}

fn fresh(expires_at: Option<UnixMillis>, issued_at: UnixMillis, now: UnixMillis) -> bool {
    expires_at.is_none_or(|e| e - now > refresh_margin(e - issued_at))
}

/// How long before expiry a token of this lifetime is refreshed.
fn refresh_margin(lifetime: UnixMillis) -> UnixMillis {
    REFRESH_AHEAD.min(lifetime.max(0) / 4)
}

impl UpstreamTokens {
    pub(crate) fn new(owner: Weak<UpstreamOAuth>) -> Self {
        Self {
            owner,
            cache: RwLock::new(HashMap::new()),
            locks: Mutex::new(HashMap::new()),
        }
    }

    /// Drops the in-memory token of a connection (sign-in, sign-out, reauth).
    pub fn forget(&self, id: &ConnectionId) {
        self.cache
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }

    fn cached(
        &self,
        id: &ConnectionId,
        config_version: i64,
        generation: Option<UnixMillis>,
        now: UnixMillis,
    ) -> Option<SecretString> {
        let cache = self.cache.read().unwrap_or_else(PoisonError::into_inner);
        let c = cache.get(id)?;
        (c.config_version == config_version
            && generation.is_none_or(|g| g == c.generation)
            && fresh(c.expires_at, c.issued_at, now))
        .then(|| c.token.clone())
    }

    fn remember(&self, row: &connections::ConnectionRow, token: &SecretString, life: Lifetime) {
        self.cache
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                row.id.clone(),
                Cached {
                    config_version: row.config_version,
                    generation: row.updated_at,
                    token: token.clone(),
                    expires_at: life.expires_at,
                    issued_at: life.issued_at,
                },
            );
    }

    fn lock_of(&self, id: &ConnectionId) -> Arc<tokio::sync::Mutex<()>> {
        self.locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(id.clone())
            .or_default()
            .clone()
    }

    /// A usable access token for the connection at `config_version`.
    pub async fn access_token(
        &self,
        id: &ConnectionId,
        config_version: i64,
    ) -> Result<SecretString, UpstreamError> {
        self.access_token_at(id, config_version, None).await
    }

    /// Like [`Self::access_token`], for the connection row as last read at `generation` (its
    /// `updated_at`): a token cached at another generation is not used (the proxy passes the one
    /// its token lookup joined in).
    pub async fn access_token_at(
        &self,
        id: &ConnectionId,
        config_version: i64,
        generation: Option<UnixMillis>,
    ) -> Result<SecretString, UpstreamError> {
        let owner = self
            .owner
            .upgrade()
            .ok_or(UpstreamError::UnknownConnection)?;
        if let Some(t) = self.cached(id, config_version, generation, owner.vault.store().now()) {
            return Ok(t);
        }
        self.obtain(&owner, id, config_version, None).await
    }

    /// After the upstream answered 401 to `rejected`: a new token (refreshed once), or
    /// [`UpstreamError::ReauthRequired`].
    pub async fn after_rejection(
        &self,
        id: &ConnectionId,
        config_version: i64,
        rejected: &SecretString,
    ) -> Result<SecretString, UpstreamError> {
        let owner = self
            .owner
            .upgrade()
            .ok_or(UpstreamError::UnknownConnection)?;
        self.obtain(&owner, id, config_version, Some(rejected))
            .await
    }

    async fn obtain(
        &self,
        owner: &UpstreamOAuth,
        id: &ConnectionId,
        config_version: i64,
        rejected: Option<&SecretString>,
    ) -> Result<SecretString, UpstreamError> {
        let lock = self.lock_of(id);
        let _one_at_a_time = lock.lock().await;
        let now = owner.vault.store().now();
        let is_rejected =
            |t: &SecretString| rejected.is_some_and(|r| r.expose_secret() == t.expose_secret());
        // Re-check: another waiter may have refreshed while we queued.
        let row = owner.connection(id).await?;
        if row.config_version != config_version {
            return Err(UpstreamError::Stale);
        }
        if let Some(t) = self.cached(id, config_version, Some(row.updated_at), now)
            && !is_rejected(&t)
        {
            return Ok(t);
        }
        let credential = read_credential(&owner.vault, id).await?;
        if let Some(c) = &credential
            && let Some(sealed) = &c.access_token_sealed
        {
            let token = owner.vault.cipher().open_string(sealed, &access_aad(id))?;
            if fresh(c.expires_at, c.updated_at, now) && !is_rejected(&token) {
                let life = Lifetime {
                    expires_at: c.expires_at,
                    issued_at: c.updated_at,
                };
                self.remember(&row, &token, life);
                return Ok(token);
            }
        }
        if row.status == ConnectionStatus::ReauthRequired {
            return Err(UpstreamError::ReauthRequired);
        }
        let never_signed_in = credential
            .as_ref()
            .is_none_or(|c| c.access_token_sealed.is_none() && c.refresh_token_sealed.is_none());
        if never_signed_in && row.settings.oauth.grant != Some(OAuthGrant::ClientCredentials) {
            return Err(UpstreamError::NotSignedIn);
        }
        if row.settings.oauth.grant == Some(OAuthGrant::ClientCredentials) {
            let tokens = owner.client_credentials_tokens(&row).await?;
            let issuer = credential
                .as_ref()
                .and_then(|c| c.issuer.clone())
                .unwrap_or_default();
            return self.save(owner, &row, credential, &issuer, &tokens).await;
        }
        let Some(refresh_sealed) = credential
            .as_ref()
            .and_then(|c| c.refresh_token_sealed.clone())
        else {
            owner.require_reauth(id, "no refresh token").await?;
            return Err(UpstreamError::ReauthRequired);
        };
        let refresh_token = owner
            .vault
            .cipher()
            .open_string(&refresh_sealed, &super::refresh_aad(id))?;
        let endpoints = owner.endpoints(&row).await?;
        let issuer = credential
            .as_ref()
            .and_then(|c| c.issuer.clone())
            .unwrap_or_default();
        if issuer != endpoints.metadata.issuer {
            // The server now points at another AS: its tokens are not ours to send there.
            owner
                .require_reauth(id, "authorization server changed")
                .await?;
            return Err(UpstreamError::ReauthRequired);
        }
        let client = match registration::preregistered(&owner.vault, &row, &endpoints.metadata)? {
            Some(c) => c,
            None => registration::stored_dcr(&owner.vault, credential.as_ref(), &issuer, None)?
                .ok_or(UpstreamError::ReauthRequired)?,
        };
        let grant = Grant::RefreshToken {
            refresh_token: refresh_token.expose_secret(),
            resource: &endpoints.resource,
        };
        let policy = UpstreamOAuth::policy(&row);
        match token_request(&policy, &endpoints.metadata.token_endpoint, &client, grant).await {
            Ok(tokens) => {
                tracing::info!(connection = %id, "upstream token refreshed");
                self.save(owner, &row, credential, &issuer, &tokens).await
            }
            Err(TokenFailure::Refused { error, text }) if error == "invalid_grant" => {
                tracing::warn!(connection = %id, %error, "upstream refused the refresh token");
                owner.require_reauth(id, &text).await?;
                Err(UpstreamError::ReauthRequired)
            }
            Err(TokenFailure::Refused { error, .. }) if error == "invalid_client" => {
                tracing::warn!(connection = %id, %error, "upstream refused the client");
                let why = registration::client_refused(&owner.vault, id, &client).await;
                owner.require_reauth(id, &why.to_string()).await?;
                Err(UpstreamError::ReauthRequired)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn save(
        &self,
        owner: &UpstreamOAuth,
        row: &connections::ConnectionRow,
        previous: Option<upstream_credentials::UpstreamCredential>,
        issuer: &str,
        tokens: &super::TokenResponse,
    ) -> Result<SecretString, UpstreamError> {
        let now = owner.vault.store().now();
        let credential = credential_for(
            &owner.vault,
            &row.id,
            previous.as_ref(),
            issuer,
            tokens,
            now,
        );
        let expires_at = credential.expires_at;
        let id = row.id.clone();
        let config_version = row.config_version;
        let saved = owner
            .vault
            .store()
            .write(move |tx| {
                if connections::get(tx, &id)?.is_none_or(|c| c.config_version != config_version) {
                    return Ok(false);
                }
                upstream_credentials::put(tx, &credential, now)?;
                Ok(true)
            })
            .await?;
        if !saved {
            return Err(UpstreamError::Stale);
        }
        let life = Lifetime {
            expires_at,
            issued_at: now,
        };
        self.remember(row, &tokens.access_token, life);
        Ok(tokens.access_token.clone())
    }
}

/// What the proxy tells a local client when the upstream needs the user (a JSON-RPC error, never
/// HTTP 401: that would restart the client's OAuth with Gatehouse).
pub fn client_message(connection_name: &str, err: &UpstreamError) -> String {
    match err {
        UpstreamError::ReauthRequired => format!(
            "Gatehouse needs a new sign-in to {connection_name} (it expired, was refused, or the server moved to another authorization server): open Gatehouse and choose \"{SIGN_IN_AGAIN}\" on the connection"
        ),
        UpstreamError::NotSignedIn => format!(
            "Gatehouse is not signed in to {connection_name} yet: open Gatehouse and sign in to the connection"
        ),
        UpstreamError::Stale => "the connection changed; try again".to_owned(),
        other => {
            format!("Gatehouse could not get an upstream token for {connection_name}: {other}")
        }
    }
}

#[cfg(test)]
mod margin_tests {
    use super::{REFRESH_AHEAD, fresh, refresh_margin};
    use crate::clock::{HOUR, SECOND};

    #[test]
    fn short_lived_tokens_are_used_for_most_of_their_life() {
        assert_eq!(
            refresh_margin(HOUR),
            REFRESH_AHEAD,
            "an hour-long token refreshes a minute ahead"
        );
        assert_eq!(
            refresh_margin(20 * SECOND),
            5 * SECOND,
            "a 20 s token refreshes 5 s ahead"
        );
        assert!(
            fresh(Some(20 * SECOND), 0, 10 * SECOND),
            "halfway through a 20 s token it is still fresh"
        );
        assert!(
            !fresh(Some(20 * SECOND), 0, 16 * SECOND),
            "in its last quarter it is refreshed"
        );
        assert!(
            fresh(None, 0, i64::MAX / 2),
            "a token without expiry is used until rejected"
        );
    }
}
