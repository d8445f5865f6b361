//! Starting a sign-in: the authorization request (OAuth 2.1 §4.1.1) with PKCE S256 (a fresh
//! 32-byte verifier; RFC 7636 §4.1-4.2), a 256-bit `state`, the RFC 8707 `resource` and the scopes
//! (with those a 403 asked for: MCP 2026-07-28 authorization §Step-Up Authorization Flow), after
//! the client is settled ([`registration::ensure_client`]). The pending sign-in is kept in the
//! store (`upstream_signins`) under the SHA-256 of its state, with the verifier sealed, so another
//! process can start what the gateway's callback completes; [`UpstreamOAuth::signin_progress`]
//! tells a waiting CLI how it went.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use url::Url;

use super::{
    SIGNIN_TTL, SigninProgress, SigninStart, hex, random_b64, state_hash, unhex, verifier_aad,
};
use crate::clock::MINUTE;
use crate::oauth::upstream::deep_link::DEEP_LINK_REDIRECT_URI;
use crate::oauth::upstream::reauth::union_scopes;
use crate::oauth::upstream::registration;
use crate::oauth::upstream::{UpstreamError, UpstreamOAuth};
use crate::store::ConnectionId;
use crate::store::connections::OAuthGrant;
use crate::store::upstream_signins::{self, SigninOutcome, UpstreamSignin};
use crate::store::upstream_step_up;
use crate::vault::Vault;

impl UpstreamOAuth {
    /// Starts a browser sign-in for a connection whose callback is `redirect_uri`; a new DCR
    /// registration also carries the app's deep link ([`DEEP_LINK_REDIRECT_URI`]).
    pub async fn start_signin(
        &self,
        connection_id: &ConnectionId,
        redirect_uri: &str,
    ) -> Result<SigninStart, UpstreamError> {
        self.start_signin_registering(
            connection_id,
            redirect_uri,
            &[redirect_uri, DEEP_LINK_REDIRECT_URI],
        )
        .await
    }

    /// Starts a browser sign-in that comes back to `redirect_uri`. When Gatehouse has to register
    /// (DCR), it registers every URI of `redirect_uris` at once (see [`registration`]: switching
    /// between the loopback and the deep-link callback then reuses the client).
    pub async fn start_signin_registering(
        &self,
        connection_id: &ConnectionId,
        redirect_uri: &str,
        redirect_uris: &[&str],
    ) -> Result<SigninStart, UpstreamError> {
        let row = self.connection(connection_id).await?;
        if row.settings.oauth.grant == Some(OAuthGrant::ClientCredentials) {
            return Err(UpstreamError::Config(
                "this connection uses client credentials; connect it instead of signing in".into(),
            ));
        }
        let endpoints = self.endpoints(&row).await?;
        let policy = Self::policy(&row);
        let client = registration::ensure_client(
            &self.vault,
            &policy,
            &row,
            &endpoints.metadata,
            redirect_uri,
            redirect_uris,
        )
        .await?;

        // Step-up (MCP 2026-07-28 authorization §Step-Up Authorization Flow): the union of the
        // usual scopes and those a 403 asked for.
        let (step_id, version) = (row.id.clone(), row.config_version);
        let step_up = self
            .vault
            .store()
            .read(move |conn| upstream_step_up::get(conn, &step_id, version))
            .await?;
        let scope = union_scopes(
            endpoints.scope.as_deref(),
            step_up.map(|s| s.scopes).as_deref(),
        );
        let verifier = SecretString::from(random_b64(32));
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.expose_secret().as_bytes()));
        let state = random_b64(32);
        let hash = state_hash(&state);
        let hash_hex = hex(&hash);
        let now = self.vault.store().now();
        let expires_at = now + SIGNIN_TTL;

        let mut url = Url::parse(&endpoints.metadata.authorization_endpoint)
            .map_err(|_| UpstreamError::Config("the authorization endpoint is not a URL".into()))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code");
            q.append_pair("client_id", &client.client_id);
            q.append_pair("redirect_uri", redirect_uri);
            q.append_pair("code_challenge", &challenge);
            q.append_pair("code_challenge_method", "S256");
            q.append_pair("state", &state);
            q.append_pair("resource", &endpoints.resource);
            if let Some(scope) = &scope {
                q.append_pair("scope", scope);
            }
        }
        let signin = UpstreamSignin {
            state_hash: hash,
            connection_id: row.id.clone(),
            config_version: row.config_version,
            verifier_sealed: self
                .vault
                .cipher()
                .seal_str(verifier.expose_secret(), &verifier_aad(&hash_hex)),
            issuer: endpoints.metadata.issuer.clone(),
            iss_supported: endpoints.metadata.iss_supported,
            client_id: client.client_id.clone(),
            token_endpoint: endpoints.metadata.token_endpoint.clone(),
            redirect_uri: redirect_uri.to_owned(),
            resource: endpoints.resource.clone(),
            scopes: scope.clone(),
            created_at: now,
            expires_at,
            used_at: None,
            outcome: None,
            outcome_detail: None,
        };
        self.vault
            .store()
            .write(move |tx| {
                upstream_signins::purge_expired(tx, now - 24 * 60 * MINUTE)?;
                upstream_signins::insert(tx, &signin)
            })
            .await?;
        tracing::info!(connection = %row.id, issuer = %endpoints.metadata.issuer, "upstream sign-in started");
        Ok(SigninStart {
            authorization_url: url.to_string(),
            expires_at,
            signin_id: hash_hex,
        })
    }

    /// Where the sign-in named by `signin_id` ([`SigninStart::signin_id`]) stands.
    pub async fn signin_progress(
        vault: &Vault,
        signin_id: &str,
    ) -> Result<SigninProgress, UpstreamError> {
        let hash = unhex(signin_id).ok_or(UpstreamError::UnknownState)?;
        let row = vault
            .store()
            .read(move |conn| upstream_signins::get(conn, &hash))
            .await?
            .ok_or(UpstreamError::UnknownState)?;
        Ok(match row.outcome {
            Some(SigninOutcome::Connected) => SigninProgress::Connected,
            Some(SigninOutcome::Failed) => {
                SigninProgress::Failed(row.outcome_detail.unwrap_or_default())
            }
            None if row.used_at.is_none() && row.expires_at <= vault.store().now() => {
                SigninProgress::Expired
            }
            None => SigninProgress::Pending,
        })
    }
}
