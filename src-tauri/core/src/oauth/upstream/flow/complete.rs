//! Completing a sign-in from the authorization server's redirect (loopback or deep link): the
//! state is burnt first (single use), then `iss` is checked (RFC 9207 §2.4) **before** the code
//! goes anywhere, and `error` / `error_description` are shown only from the issuer asked; the code
//! is exchanged (OAuth 2.1 §4.1.3) with `code_verifier`, `resource`, `redirect_uri` and the client
//! the sign-in started with. The account ("on behalf of") comes from the id_token claims, decoded
//! for display only, or from userinfo.

use http::{HeaderMap, HeaderValue, Method, header};
use secrecy::ExposeSecret;

use super::{
    CallbackQuery, SignedIn, hex, id_token_claims, label_from_claims, state_hash, verifier_aad,
};
use crate::net::outbound::Body;
use crate::oauth::upstream::registration::{self, OAuthClient};
use crate::oauth::upstream::token_endpoint::{Grant, token_request};
use crate::oauth::upstream::{
    ServerMetadata, TokenResponse, UpstreamError, UpstreamOAuth, read_credential,
};
use crate::store::connections::ConnectionRow;
use crate::store::upstream_credentials;
use crate::store::upstream_signins::{self, SigninOutcome, UpstreamSignin};

impl UpstreamOAuth {
    /// Completes a sign-in from the authorization server's redirect (loopback or deep link).
    pub async fn complete_signin(&self, query: &CallbackQuery) -> Result<SignedIn, UpstreamError> {
        let state = query.state.as_deref().ok_or(UpstreamError::UnknownState)?;
        let hash = state_hash(state);
        let now = self.vault.store().now();
        // Burn first: whatever happens next, this state is spent.
        let signin = self
            .vault
            .store()
            .write(move |tx| upstream_signins::burn(tx, &hash, now))
            .await?
            .ok_or(UpstreamError::UnknownState)?;
        let result = self.exchange(&signin, query).await;
        let (outcome, detail) = match &result {
            Ok(_) => (SigninOutcome::Connected, None),
            Err(e) => (SigninOutcome::Failed, Some(e.to_string())),
        };
        if let Err(e) = &result {
            tracing::warn!(connection = %signin.connection_id, error = %e, "upstream sign-in failed");
        }
        self.vault
            .store()
            .write(move |tx| upstream_signins::finish(tx, &hash, outcome, detail.as_deref()))
            .await?;
        result
    }

    async fn exchange(
        &self,
        signin: &UpstreamSignin,
        query: &CallbackQuery,
    ) -> Result<SignedIn, UpstreamError> {
        // RFC 9207 §2.4, before anything else is believed.
        match &query.iss {
            Some(iss) if *iss != signin.issuer => return Err(UpstreamError::IssuerMismatch),
            None if signin.iss_supported => return Err(UpstreamError::IssuerMissing),
            _ => {}
        }
        if let Some(error) = &query.error {
            // The issuer is the one asked (or says nothing and is not expected to): its own words
            // may be shown, cut short and without control characters; the page escapes them.
            let code: String = error
                .chars()
                .filter(char::is_ascii_graphic)
                .take(64)
                .collect();
            let description: Option<String> = query.error_description.as_deref().map(|d| {
                d.chars()
                    .filter(|c| !c.is_control())
                    .take(200)
                    .collect::<String>()
            });
            return Err(UpstreamError::Denied(match description {
                Some(d) if !d.trim().is_empty() => format!("{code}: {}", d.trim()),
                _ => code,
            }));
        }
        let code = query
            .code
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| UpstreamError::Denied("no code".into()))?;
        let row = self.connection(&signin.connection_id).await?;
        if row.config_version != signin.config_version {
            return Err(UpstreamError::Stale);
        }
        let previous = read_credential(&self.vault, &row.id).await?;
        let client = self.client_for(&row, previous.as_ref(), signin)?;
        let hash_hex = hex(&signin.state_hash);
        let verifier = self
            .vault
            .cipher()
            .open_string(&signin.verifier_sealed, &verifier_aad(&hash_hex))?;
        let policy = Self::policy(&row);
        let grant = Grant::AuthorizationCode {
            code,
            redirect_uri: &signin.redirect_uri,
            verifier: verifier.expose_secret(),
            resource: &signin.resource,
        };
        let tokens = match token_request(&policy, &signin.token_endpoint, &client, grant).await {
            Ok(t) => t,
            Err(crate::oauth::upstream::TokenFailure::Refused { error, .. })
                if error == "invalid_client" =>
            {
                return Err(registration::client_refused(&self.vault, &row.id, &client).await);
            }
            Err(e) => return Err(e.into()),
        };
        let label = self.account_label(&row, &tokens).await;
        self.save_signed_in(
            &row,
            previous,
            &signin.issuer,
            &tokens,
            label.clone(),
            "authorization_code",
        )
        .await?;
        // After the save, which writes the credential row (registration included) as read before.
        registration::client_worked(&self.vault, &row.id, &client).await?;
        Ok(SignedIn {
            connection_id: row.id.clone(),
            connection_name: row.name.clone(),
            account_label: label,
        })
    }

    /// The client a pending sign-in was started with.
    fn client_for(
        &self,
        row: &ConnectionRow,
        credential: Option<&upstream_credentials::UpstreamCredential>,
        signin: &UpstreamSignin,
    ) -> Result<OAuthClient, UpstreamError> {
        let metadata = ServerMetadata {
            issuer: signin.issuer.clone(),
            ..ServerMetadata::default()
        };
        if let Some(c) = registration::preregistered(&self.vault, row, &metadata)?
            && c.client_id == signin.client_id
        {
            return Ok(c);
        }
        registration::stored_dcr(
            &self.vault,
            credential,
            &signin.issuer,
            Some(&signin.redirect_uri),
        )?
        .filter(|c| c.client_id == signin.client_id)
        .ok_or(UpstreamError::Stale)
    }

    /// "On behalf of": id_token claims, else userinfo (best effort; failures leave it unset).
    async fn account_label(&self, row: &ConnectionRow, tokens: &TokenResponse) -> Option<String> {
        if let Some(label) = tokens
            .id_token
            .as_deref()
            .and_then(id_token_claims)
            .as_ref()
            .and_then(label_from_claims)
        {
            return Some(label);
        }
        let endpoint = self.endpoints(row).await.ok()?.metadata.userinfo_endpoint?;
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let mut bearer =
            HeaderValue::from_str(&format!("Bearer {}", tokens.access_token.expose_secret()))
                .ok()?;
        bearer.set_sensitive(true);
        headers.insert(header::AUTHORIZATION, bearer);
        let fetched = Self::policy(row)
            .send(Method::GET, &endpoint, headers, Body::Empty)
            .await
            .ok()?;
        if !fetched.status.is_success() {
            return None;
        }
        label_from_claims(&serde_json::from_slice(&fetched.body).ok()?)
    }
}
