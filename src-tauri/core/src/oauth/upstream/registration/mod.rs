//! Who Gatehouse is at the upstream authorization server (MCP 2026-07-28 client registration).
//!
//! In order: a **pre-registered** client id (and sealed secret) the user entered, bound to the
//! connection's issuer (never sent to another AS); else a **client metadata document URL** (OAuth
//! Client ID Metadata Document draft; MCP 2025-11-25 Authorization, "Client ID Metadata
//! Documents", which clients SHOULD prefer over DCR) when the person has set one
//! (`settings.json` `client_metadata_url`, [`crate::settings::StoredSettings`]) and the AS
//! advertises `client_id_metadata_document_supported`: the URL is the `client_id`, a public client
//! with no registration request, kept like a DCR registration below so refreshes and sign-out find
//! it, and set aside like one when the token endpoint refuses it (the next sign-in then registers);
//! else a **DCR** registration (RFC 7591) kept sealed in
//! the connection's `upstream_credentials.dcr_client_json_sealed` together with the issuer and redirect
//! URIs it was made for, and reused while the issuer matches and the sign-in's redirect URI is one of
//! them (a new AS or a new port means a new registration); else an error asking for a client
//! id. Provider **templates** ([`Template`]) are data (`templates.json`), not code: they fill the
//! endpoints and default scopes of a pre-registered client.
//!
//! The DCR body is what MCP 2026-07-28 client registration §Application Type requires of a native
//! app: `application_type: "native"`, the redirect URIs, `token_endpoint_auth_method: "none"`, the
//! authorization-code and refresh grants, `response_types: ["code"]`, `client_name: "Gatehouse"`.
//! The response is read within [`MAX_REGISTRATION_BYTES`].
//!
//! **Both callbacks in one registration.** A sign-in may come back to the gateway's loopback callback
//! (RFC 8252 §7.3) or to the app's deep link (§7.1, [`super::deep_link::DEEP_LINK_REDIRECT_URI`]).
//! The caller passes every redirect URI Gatehouse may use with this port, and they are registered
//! together, so switching between the two callbacks reuses the client instead of registering a new
//! one each time (an AS keeps every registration; churn would leave a trail of dead clients). An AS
//! that refuses the pair (some accept only loopback redirects for native clients) gets one more
//! registration with the sign-in's own redirect URI alone; that client is then reused only for that
//! callback.
//!
//! **`invalid_client`, one re-registration** ([`client_refused`]). When the token endpoint answers
//! `invalid_client`, a pre-registered client is the user's to fix ([`UpstreamError::ClientRejected`]:
//! Gatehouse never registers in its place). A DCR registration is kept, marked refused: it is never
//! sent again, and the next sign-in registers once more, marking the new registration a
//! *replacement*. A replacement that the token endpoint refuses before it ever worked means
//! registering again would not help: it is marked refused too, and every later sign-in stops at
//! [`UpstreamError::RegistrationRejectedAgain`] before a browser opens, instead of registering
//! again and again. A replacement that worked once is an ordinary registration again.
//!
//! This module keeps the order ([`ensure_client`]) and the client types; the parts are
//! [`mod@templates`] (provider data), [`mod@preregistered`] (the client the person entered),
//! [`stored`] (the registration kept per connection, refused or not) and [`dynamic`] (the RFC 7591
//! request and the client metadata document).

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::UpstreamError;
use super::discovery::ServerMetadata;
use crate::net::outbound::Outbound;
use crate::store::connections::ConnectionRow;
use crate::store::upstream_credentials;
use crate::vault::Vault;

mod dynamic;
mod preregistered;
mod stored;
mod templates;

use dynamic::register;
pub use dynamic::{MAX_REGISTRATION_BYTES, client_metadata_document};
pub(crate) use preregistered::client_secret_aad;
pub use preregistered::preregistered;
pub use stored::{client_refused, client_worked, stored_dcr};
use stored::{keep_registration, stored_registration};
pub use templates::{Template, templates};

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// A public client: `client_id` in the body.
    None,
    ClientSecretBasic,
    ClientSecretPost,
}

/// Where a client id came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientOrigin {
    /// The user entered it (with its secret, if any).
    PreRegistered,
    /// Gatehouse registered itself (RFC 7591).
    Dynamic,
}

/// The client Gatehouse uses at one authorization server.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    pub auth: ClientAuth,
    pub origin: ClientOrigin,
}

/// A DCR registration as Gatehouse keeps it (sealed).
#[derive(Serialize, Deserialize)]
struct StoredRegistration {
    issuer: String,
    /// The redirect URI of the sign-in that registered (the only one before both were registered).
    redirect_uri: String,
    /// Every redirect URI registered; empty in registrations stored before there were two.
    #[serde(default)]
    redirect_uris: Vec<String>,
    client_id: String,
    client_secret: Option<String>,
    token_endpoint_auth_method: Option<String>,
    /// Made because the AS refused the registration before it, and not used successfully yet.
    #[serde(default)]
    replacement: bool,
    /// The token endpoint answered `invalid_client` for it: kept as a marker, never sent again.
    #[serde(default)]
    refused: bool,
}

impl StoredRegistration {
    fn client(self) -> OAuthClient {
        let has_secret = self.client_secret.is_some();
        OAuthClient {
            client_id: self.client_id,
            auth: auth_of(self.token_endpoint_auth_method.as_deref(), has_secret, &[]),
            client_secret: self.client_secret.map(SecretString::from),
            origin: ClientOrigin::Dynamic,
        }
    }
}

fn auth_of(method: Option<&str>, has_secret: bool, supported: &[String]) -> ClientAuth {
    if !has_secret {
        return ClientAuth::None;
    }
    match method {
        Some("client_secret_post") => ClientAuth::ClientSecretPost,
        Some("client_secret_basic") => ClientAuth::ClientSecretBasic,
        _ if !supported.is_empty()
            && !supported.iter().any(|m| m == "client_secret_basic")
            && supported.iter().any(|m| m == "client_secret_post") =>
        {
            ClientAuth::ClientSecretPost
        }
        _ => ClientAuth::ClientSecretBasic,
    }
}

/// The client to use for a sign-in that comes back to `redirect_uri`: pre-registered, else stored
/// DCR, else a new DCR registration for every URI of `redirect_uris` (which should contain
/// `redirect_uri`), or for `redirect_uri` alone when the AS refuses that set.
pub async fn ensure_client(
    vault: &Vault,
    policy: &Outbound,
    row: &ConnectionRow,
    metadata: &ServerMetadata,
    redirect_uri: &str,
    redirect_uris: &[&str],
) -> Result<OAuthClient, UpstreamError> {
    let id = row.id.clone();
    let credential = vault
        .store()
        .read(move |conn| upstream_credentials::get(conn, &id))
        .await?;
    if let Some(client) = preregistered(vault, row, metadata)? {
        // A pre-registered client is bound to the issuer it was first used with (MCP 2026-07-28
        // client registration §Authorization Server Binding): say so rather than silently trying it
        // elsewhere.
        if let Some(bound) = credential.as_ref().and_then(|c| c.issuer.as_deref())
            && bound != metadata.issuer
        {
            return Err(UpstreamError::Config(format!(
                "this connection's client id was used with {bound}, but the server now names {}; \
                 Gatehouse will not send it there. Edit the connection.",
                metadata.issuer
            )));
        }
        return Ok(client);
    }
    if let Some(client) = stored_dcr(
        vault,
        credential.as_ref(),
        &metadata.issuer,
        Some(redirect_uri),
    )? {
        return Ok(client);
    }
    let previous = stored_registration(vault, credential.as_ref())?
        .filter(|p| p.refused && p.issuer == metadata.issuer);
    if previous.as_ref().is_some_and(|p| p.replacement) {
        return Err(UpstreamError::RegistrationRejectedAgain);
    }
    if let Some(url) = client_metadata_url(vault, metadata)
        && previous.as_ref().is_none_or(|p| p.client_id != url)
    {
        let mut uris: Vec<&str> = vec![redirect_uri];
        uris.extend(redirect_uris.iter().copied().filter(|u| *u != redirect_uri));
        let stored = StoredRegistration {
            issuer: metadata.issuer.clone(),
            redirect_uri: redirect_uri.to_owned(),
            redirect_uris: uris.iter().map(|u| (*u).to_owned()).collect(),
            client_id: url,
            client_secret: None,
            token_endpoint_auth_method: Some("none".to_owned()),
            replacement: false,
            refused: false,
        };
        return keep_registration(vault, &row.id, stored).await;
    }
    let replacement = previous.is_some();
    let Some(endpoint) = &metadata.registration_endpoint else {
        return Err(UpstreamError::Config(
            "this server's authorization server does not offer dynamic registration: add the \
             connection with a client id (--client-id)"
                .into(),
        ));
    };
    let mut uris: Vec<&str> = vec![redirect_uri];
    uris.extend(redirect_uris.iter().copied().filter(|u| *u != redirect_uri));
    let answer = match register(policy, endpoint, &uris).await {
        Err(UpstreamError::Registration(_)) if uris.len() > 1 => {
            tracing::info!(
                connection = %row.id,
                "the authorization server refused both callbacks; registering this sign-in's alone"
            );
            uris.truncate(1);
            register(policy, endpoint, &uris).await?
        }
        other => other?,
    };
    let Some(client_id) = answer.get("client_id").and_then(Value::as_str) else {
        return Err(UpstreamError::Registration(
            "the registration response has no client_id".into(),
        ));
    };
    let stored = StoredRegistration {
        issuer: metadata.issuer.clone(),
        redirect_uri: redirect_uri.to_owned(),
        redirect_uris: uris.iter().map(|u| (*u).to_owned()).collect(),
        client_id: client_id.to_owned(),
        client_secret: answer
            .get("client_secret")
            .and_then(Value::as_str)
            .map(str::to_owned),
        token_endpoint_auth_method: answer
            .get("token_endpoint_auth_method")
            .and_then(Value::as_str)
            .map(str::to_owned),
        replacement,
        refused: false,
    };
    keep_registration(vault, &row.id, stored).await
}

/// The person's client metadata document URL, when the AS takes one (module docs).
fn client_metadata_url(vault: &Vault, metadata: &ServerMetadata) -> Option<String> {
    if !metadata.client_id_metadata_document_supported {
        return None;
    }
    let saved = crate::settings::load(vault.data_dir())
        .inspect_err(|error| tracing::warn!(%error, "settings unreadable; registering instead"))
        .ok()?;
    let url = saved.client_metadata_url?;
    crate::settings::check_client_metadata_url(&url)
        .inspect_err(|why| tracing::warn!(why, "the saved client metadata URL is not usable"))
        .ok()
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod cimd_tests;
