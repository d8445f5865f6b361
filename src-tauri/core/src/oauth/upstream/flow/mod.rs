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
//!
//! The parts: [`start`] (the authorization request and its pending record), [`complete`] (the
//! callback, `iss`, the code exchange and the account), [`client_credentials`] (machine-to-machine
//! connections, RFC 6749 §4.4). This module keeps the types they share, the state and verifier
//! helpers, and [`UpstreamOAuth::save_signed_in`], which both ways of connecting end with.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{TokenResponse, UpstreamError, UpstreamOAuth, credential_for};
use crate::clock::{MINUTE, UnixMillis};
use crate::crypto::Aad;
use crate::net::outbound::Outbound;
use crate::store::audit::{self, AuditKind, AuditSubject};
use crate::store::connections::{self, ConnectionRow, ConnectionStatus};
use crate::store::revocation::{self, RevocationReason};
use crate::store::upstream_credentials;
use crate::store::{ConnectionId, StoreEvent};

mod client_credentials;
mod complete;
mod start;

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
mod tests;
