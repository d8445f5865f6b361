//! Signing in to an upstream (OAuth 2.1 §4.1 with PKCE, RFC 8707 resource, RFC 9207 `iss`).
//!
//! [`UpstreamOAuth::start_signin`] builds the authorization URL: PKCE S256 with a fresh 32-byte
//! verifier, a 256-bit `state` of which only the SHA-256 is stored (10 min TTL) together with the
//! sealed verifier, the issuer recorded from validated metadata, the redirect URI and the RFC 8707
//! resource. [`UpstreamOAuth::complete_signin`] burns the state first (single use: a second delivery
//! of the same callback is ignored), then checks `iss` (RFC 9207 §2.4) **before** the code goes
//! anywhere, and never acts on `error` / `error_description` from a response whose `iss` does not
//! match. Then it exchanges the code with `code_verifier`, `resource`, `redirect_uri` and `client_id`,
//! stores the tokens sealed, records the account ("on behalf of") from the id_token claims (decoded for
//! display only, never trusted) or userinfo, and marks the connection `connected`.
//!
//! Because the pending state is in the store, `gatehoused connections signin` (another process) can
//! start a sign-in that the running gateway's `/oauth/callback` (or the app's deep link) completes.
//!
//! Signing out (RFC 7009) is in [`super::signout`]; re-authorization and step-up in [`super::reauth`].

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, HeaderValue, Method, header};
use rand::RngCore;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;

use super::deep_link::DEEP_LINK_REDIRECT_URI;
use super::reauth::union_scopes;
use super::registration::{self, OAuthClient};
use super::token_endpoint::{Grant, token_request};
use super::{
    ServerMetadata, TokenResponse, UpstreamError, UpstreamOAuth, credential_for, read_credential,
};
use crate::clock::{MINUTE, UnixMillis};
use crate::crypto::Aad;
use crate::net::outbound::{Body, Outbound};
use crate::store::audit::{self, AuditKind, AuditSubject};
use crate::store::connections::{self, ConnectionRow, ConnectionStatus, OAuthGrant};
use crate::store::revocation::{self, RevocationReason};
use crate::store::upstream_credentials;
use crate::store::upstream_signins::{self, SigninOutcome, UpstreamSignin};
use crate::store::upstream_step_up;
use crate::store::{ConnectionId, StoreEvent};
use crate::vault::Vault;

pub use super::reauth::STEP_UP_ATTEMPTS;
pub use super::signout::RevokeResult;

/// How long a sign-in may take.
pub const SIGNIN_TTL: UnixMillis = 10 * MINUTE;

/// A started sign-in.
#[derive(Debug, Clone)]
pub struct SigninStart {
    /// Open this in the system browser.
    pub authorization_url: String,
    pub expires_at: UnixMillis,
    /// The hex SHA-256 of the state: names the pending sign-in without revealing the state.
    pub signin_id: String,
}

/// Where a sign-in stands (for a CLI waiting on another process's callback).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigninProgress {
    Pending,
    Connected,
    Failed(String),
    Expired,
}

/// The query of the redirect back from the authorization server.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// How a completed sign-in went (for the page).
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub connection_id: ConnectionId,
    pub connection_name: String,
    pub account_label: Option<String>,
}

fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

fn state_hash(state: &str) -> [u8; 32] {
    Sha256::digest(state.as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
        out[i] = u8::from_str_radix(std::str::from_utf8(chunk).ok()?, 16).ok()?;
    }
    Some(out)
}

fn verifier_aad(hash_hex: &str) -> Aad<'_> {
    Aad {
        table: "upstream_signins",
        column: "verifier_sealed",
        row_id: hash_hex,
    }
}

/// The loopback redirect URI of a gateway on `port`.
pub fn loopback_redirect_uri(port: u16) -> String {
    format!("http://127.0.0.1:{port}/oauth/callback")
}

/// A display label from claims: email, else preferred_username, else name (else login: GitHub).
fn label_from_claims(claims: &Value) -> Option<String> {
    ["email", "preferred_username", "name", "login"]
        .iter()
        .find_map(|k| claims.get(*k).and_then(Value::as_str))
        .map(|s| {
            s.chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect::<String>()
        })
        .filter(|s| !s.is_empty())
}

/// The id_token's payload, decoded for display only (no signature check: nothing trusts it).
fn id_token_claims(id_token: &str) -> Option<Value> {
    let payload = id_token.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?).ok()
}

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
            Err(super::TokenFailure::Refused { error, .. }) if error == "invalid_client" => {
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

    pub(crate) async fn save_signed_in(
        &self,
        row: &ConnectionRow,
        previous: Option<upstream_credentials::UpstreamCredential>,
        issuer: &str,
        tokens: &TokenResponse,
        label: Option<String>,
        how: &'static str,
    ) -> Result<(), UpstreamError> {
        let now = self.vault.store().now();
        let credential =
            credential_for(&self.vault, &row.id, previous.as_ref(), issuer, tokens, now);
        let id = row.id.clone();
        let config_version = row.config_version;
        self.vault
            .store()
            .write_with_events(move |tx| {
                let current = connections::get(tx, &id)?;
                let Some(current) = current.filter(|c| c.config_version == config_version) else {
                    // A material change raced the exchange: its purge wins.
                    return Ok((false, Vec::new()));
                };
                // Signed in as another account than before: the grants were approved for the
                // previous one, so they end here (the person approves again for the new account).
                let mut events = Vec::new();
                let before = connections::last_account(tx, &current.id)?;
                if let (Some(before), Some(after)) = (before.as_deref(), label.as_deref())
                    && before != after
                {
                    let outcome = revocation::revoke_for_connection_in(
                        tx,
                        &id,
                        RevocationReason::UpstreamAccountChanged,
                        now,
                    )?;
                    events.extend(outcome.event());
                }
                upstream_credentials::put(tx, &credential, now)?;
                connections::set_status(tx, &id, ConnectionStatus::Connected, None, now)?;
                connections::set_account_label(tx, &id, label.as_deref(), now)?;
                connections::set_last_account(tx, &id, label.as_deref())?;
                audit::append(
                    tx,
                    now,
                    AuditKind::UpstreamSignedIn,
                    &AuditSubject {
                        connection_id: Some(&id),
                        reason: Some(how),
                        ..AuditSubject::default()
                    },
                )?;
                events.push(status_event(&id, ConnectionStatus::Connected));
                Ok((true, events))
            })
            .await?
            .then_some(())
            .ok_or(UpstreamError::Stale)?;
        self.tokens().forget(&row.id);
        tracing::info!(connection = %row.id, "upstream sign-in completed");
        Ok(())
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

    /// Connects a machine-to-machine connection with the client_credentials grant (RFC 6749 §4.4).
    pub async fn connect_client_credentials(
        &self,
        connection_id: &ConnectionId,
    ) -> Result<(), UpstreamError> {
        let row = self.connection(connection_id).await?;
        let tokens = self.client_credentials_tokens(&row).await?;
        let endpoints = self.endpoints(&row).await?;
        let previous = read_credential(&self.vault, &row.id).await?;
        let label = row
            .settings
            .oauth
            .client_id
            .clone()
            .map(|c| format!("client {c}"));
        self.save_signed_in(
            &row,
            previous,
            &endpoints.metadata.issuer,
            &tokens,
            label,
            "client_credentials",
        )
        .await
    }

    pub(crate) async fn client_credentials_tokens(
        &self,
        row: &ConnectionRow,
    ) -> Result<TokenResponse, UpstreamError> {
        let endpoints = self.endpoints(row).await?;
        let client = registration::preregistered(&self.vault, row, &endpoints.metadata)?
            .filter(|c| c.client_secret.is_some())
            .ok_or_else(|| {
                UpstreamError::Config(
                    "client credentials need a pre-registered client id and secret".into(),
                )
            })?;
        let grant = Grant::ClientCredentials {
            scope: endpoints.scope.as_deref(),
            resource: &endpoints.resource,
        };
        match token_request(
            &Self::policy(row),
            &endpoints.metadata.token_endpoint,
            &client,
            grant,
        )
        .await
        {
            Ok(tokens) => Ok(tokens),
            Err(super::TokenFailure::Refused { error, .. }) if error == "invalid_client" => {
                Err(UpstreamError::ClientRejected)
            }
            Err(e) => Err(e.into()),
        }
    }
}

pub(super) fn status_event(id: &ConnectionId, status: ConnectionStatus) -> StoreEvent {
    StoreEvent::ConnectionStatusChanged {
        connection_id: id.clone(),
        status,
    }
}

/// Used by tests and the policy check of a URL before launching a browser.
pub fn is_launchable(policy: &Outbound, url: &str) -> bool {
    policy.check_url(url).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_claims_and_hex_round_trips() {
        let claims = serde_json::json!({"sub": "1", "name": "Ada", "email": "ada@example.com"});
        assert_eq!(
            label_from_claims(&claims).as_deref(),
            Some("ada@example.com")
        );
        let token = format!(
            "x.{}.y",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap())
        );
        assert_eq!(id_token_claims(&token), Some(claims));
        let h = state_hash("abc");
        assert_eq!(unhex(&hex(&h)), Some(h));
        assert_eq!(
            random_b64(32).len(),
            43,
            "a 32-byte verifier is 43 base64url characters"
        );
    }
}
