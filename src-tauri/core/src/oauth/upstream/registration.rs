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

use std::collections::BTreeMap;

use http::{HeaderMap, HeaderValue, Method, header};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::UpstreamError;
use super::discovery::ServerMetadata;
use crate::crypto::Aad;
use crate::net::outbound::{Body, Outbound};
use crate::store::ConnectionId;
use crate::store::connections::ConnectionRow;
use crate::store::upstream_credentials::{self, UpstreamCredential};
use crate::vault::Vault;

/// Largest registration response accepted.
pub const MAX_REGISTRATION_BYTES: usize = 16 * 1024;

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

/// A provider template: endpoints and default scopes for a pre-registered client.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Template {
    pub name: String,
    pub issuer: Option<String>,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub revocation_endpoint: Option<String>,
    pub userinfo_endpoint: Option<String>,
    pub scopes: Option<String>,
    #[serde(default)]
    pub iss_supported: bool,
    /// Replaces `{tenant}` when the user gives none.
    pub default_tenant: Option<String>,
    pub token_endpoint_auth_method: Option<String>,
}

const TEMPLATES_JSON: &str = include_str!("templates.json");

/// Every template by key (`github`, `google`, `microsoft`, `okta`, `auth0`, `custom`).
pub fn templates() -> BTreeMap<String, Template> {
    serde_json::from_str(TEMPLATES_JSON).unwrap_or_default()
}

impl Template {
    /// Whether the endpoints contain the `{tenant}` placeholder.
    pub fn needs_tenant(&self) -> bool {
        [
            &self.issuer,
            &self.authorization_endpoint,
            &self.token_endpoint,
        ]
        .iter()
        .any(|v| v.as_deref().is_some_and(|s| s.contains("{tenant}")))
    }

    /// The tenant that [`Self::for_tenant`] put into `token_endpoint` (read back for an edit form).
    pub fn tenant_in(&self, token_endpoint: &str) -> Option<String> {
        let (prefix, suffix) = self.token_endpoint.as_deref()?.split_once("{tenant}")?;
        let tenant = token_endpoint.strip_prefix(prefix)?.strip_suffix(suffix)?;
        (!tenant.is_empty()).then(|| tenant.to_owned())
    }

    /// The template with `{tenant}` replaced (a host such as `dev-123.okta.com`).
    pub fn for_tenant(&self, tenant: Option<&str>) -> Result<Template, UpstreamError> {
        let tenant = tenant.or(self.default_tenant.as_deref());
        if self.needs_tenant() {
            let Some(t) = tenant else {
                return Err(UpstreamError::Config(format!(
                    "the {} template needs a tenant domain",
                    self.name
                )));
            };
            if t.is_empty()
                || !t
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            {
                return Err(UpstreamError::Config(
                    "the tenant must be a host name such as dev-123.okta.com".into(),
                ));
            }
        }
        let fill = |v: &Option<String>| {
            v.as_ref()
                .map(|s| s.replace("{tenant}", tenant.unwrap_or("")))
        };
        Ok(Template {
            issuer: fill(&self.issuer),
            authorization_endpoint: fill(&self.authorization_endpoint),
            token_endpoint: fill(&self.token_endpoint),
            revocation_endpoint: fill(&self.revocation_endpoint),
            userinfo_endpoint: fill(&self.userinfo_endpoint),
            ..self.clone()
        })
    }
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

pub(crate) fn client_secret_aad(id: &ConnectionId) -> Aad<'_> {
    Aad {
        table: "connections",
        column: "oauth_client_secret_sealed",
        row_id: id.as_str(),
    }
}

fn dcr_aad(id: &ConnectionId) -> Aad<'_> {
    Aad {
        table: "upstream_credentials",
        column: "dcr_client_json_sealed",
        row_id: id.as_str(),
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

/// The pre-registered client of the connection, if the user entered one.
pub fn preregistered(
    vault: &Vault,
    row: &ConnectionRow,
    metadata: &ServerMetadata,
) -> Result<Option<OAuthClient>, UpstreamError> {
    let o = &row.settings.oauth;
    let Some(client_id) = o.client_id.clone() else {
        return Ok(None);
    };
    if let Some(bound) = &o.issuer
        && *bound != metadata.issuer
    {
        return Err(UpstreamError::Config(format!(
            "the client id entered for this connection belongs to {bound}, but the server now uses \
             {}; Gatehouse will not send it there. Edit the connection.",
            metadata.issuer
        )));
    }
    let client_secret = o
        .client_secret_sealed
        .as_deref()
        .map(|sealed| {
            vault
                .cipher()
                .open_string(sealed, &client_secret_aad(&row.id))
        })
        .transpose()?;
    let template_method = o
        .template
        .as_deref()
        .and_then(|t| templates().get(t).cloned())
        .and_then(|t| t.token_endpoint_auth_method);
    let auth = auth_of(
        template_method.as_deref(),
        client_secret.is_some(),
        &metadata.token_endpoint_auth_methods,
    );
    Ok(Some(OAuthClient {
        client_id,
        client_secret,
        auth,
        origin: ClientOrigin::PreRegistered,
    }))
}

/// The stored DCR registration of the connection, refused or not.
fn stored_registration(
    vault: &Vault,
    credential: Option<&UpstreamCredential>,
) -> Result<Option<StoredRegistration>, UpstreamError> {
    let Some(c) = credential else { return Ok(None) };
    let Some(sealed) = c.dcr_client_json_sealed.as_deref() else {
        return Ok(None);
    };
    let plain = zeroize::Zeroizing::new(vault.cipher().open(sealed, &dcr_aad(&c.connection_id))?);
    Ok(serde_json::from_slice::<StoredRegistration>(&plain).ok())
}

/// The stored DCR client of the connection, if it was made for this issuer and redirect URI and
/// the authorization server has not refused it.
pub fn stored_dcr(
    vault: &Vault,
    credential: Option<&UpstreamCredential>,
    issuer: &str,
    redirect_uri: Option<&str>,
) -> Result<Option<OAuthClient>, UpstreamError> {
    let Some(stored) = stored_registration(vault, credential)? else {
        return Ok(None);
    };
    let registered =
        |r: &str| r == stored.redirect_uri || stored.redirect_uris.iter().any(|u| u == r);
    if stored.refused || stored.issuer != issuer || redirect_uri.is_some_and(|r| !registered(r)) {
        return Ok(None);
    }
    Ok(Some(stored.client()))
}

/// Rewrites the stored registration of `id` with `change`, if it is still the one of `client_id`;
/// returns whether it was a replacement before the change (`None`: no such registration).
async fn update_registration(
    vault: &Vault,
    id: &ConnectionId,
    client_id: &str,
    change: fn(&mut StoredRegistration),
) -> Result<Option<bool>, UpstreamError> {
    let (id, client_id) = (id.clone(), client_id.to_owned());
    let cipher = vault.cipher().clone();
    let now = vault.store().now();
    Ok(vault
        .store()
        .write(move |tx| {
            let Some(mut c) = upstream_credentials::get(tx, &id)? else {
                return Ok(None);
            };
            let Some(sealed) = c.dcr_client_json_sealed.as_deref() else {
                return Ok(None);
            };
            let Ok(plain) = cipher
                .open(sealed, &dcr_aad(&id))
                .map(zeroize::Zeroizing::new)
            else {
                return Ok(None);
            };
            let Ok(mut stored) = serde_json::from_slice::<StoredRegistration>(&plain) else {
                return Ok(None);
            };
            if stored.client_id != client_id {
                // Another sign-in registered meanwhile: its registration is not the refused one.
                return Ok(None);
            }
            let was_replacement = stored.replacement;
            change(&mut stored);
            let plain = zeroize::Zeroizing::new(serde_json::to_vec(&stored)?);
            c.dcr_client_json_sealed = Some(cipher.seal(&plain, &dcr_aad(&id)));
            upstream_credentials::put(tx, &c, now)?;
            Ok(Some(was_replacement))
        })
        .await?)
}

/// What the token endpoint's `invalid_client` for `client` means, and the error to report (see the
/// module docs): a pre-registered client is the user's to fix; a DCR registration is marked
/// refused, so the next sign-in registers once more, unless it was itself that one more.
pub async fn client_refused(
    vault: &Vault,
    id: &ConnectionId,
    client: &OAuthClient,
) -> UpstreamError {
    if client.origin == ClientOrigin::PreRegistered {
        return UpstreamError::ClientRejected;
    }
    match update_registration(vault, id, &client.client_id, |r| r.refused = true).await {
        Ok(Some(true)) => {
            tracing::warn!(connection = %id, "the authorization server refused a fresh registration too; not registering again");
            UpstreamError::RegistrationRejectedAgain
        }
        Ok(_) => {
            tracing::info!(connection = %id, "the authorization server refused Gatehouse's registration; the next sign-in registers once more");
            UpstreamError::RegistrationRejected
        }
        Err(e) => e,
    }
}

/// A registration that worked (a code exchange succeeded with it) is no longer a replacement: if
/// the authorization server forgets it some day, Gatehouse may register once more.
pub async fn client_worked(
    vault: &Vault,
    id: &ConnectionId,
    client: &OAuthClient,
) -> Result<(), UpstreamError> {
    if client.origin == ClientOrigin::Dynamic {
        update_registration(vault, id, &client.client_id, |r| r.replacement = false).await?;
    }
    Ok(())
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

/// Seals `stored` into the connection's credential row and returns its client.
async fn keep_registration(
    vault: &Vault,
    id: &ConnectionId,
    stored: StoredRegistration,
) -> Result<OAuthClient, UpstreamError> {
    let plain = zeroize::Zeroizing::new(serde_json::to_vec(&stored)?);
    let sealed = vault.cipher().seal(&plain, &dcr_aad(id));
    let id = id.clone();
    let now = vault.store().now();
    vault
        .store()
        .write(move |tx| {
            let mut c = upstream_credentials::get(tx, &id)?.unwrap_or(UpstreamCredential {
                connection_id: id.clone(),
                access_token_sealed: None,
                refresh_token_sealed: None,
                expires_at: None,
                scopes: None,
                issuer: None,
                token_type: None,
                dcr_client_json_sealed: None,
                updated_at: now,
            });
            c.dcr_client_json_sealed = Some(sealed);
            upstream_credentials::put(tx, &c, now)
        })
        .await?;
    Ok(stored.client())
}

/// The client metadata Gatehouse registers with (RFC 7591 §2) for these redirect URIs.
fn client_metadata(redirect_uris: &[&str]) -> Value {
    json!({
        "client_name": "Gatehouse",
        "application_type": "native",
        "redirect_uris": redirect_uris,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    })
}

/// The client metadata document to publish at `url` (Client ID Metadata Document draft §3: the
/// registration metadata plus `client_id`, which must equal the URL it is served from).
pub fn client_metadata_document(url: &str, redirect_uris: &[&str]) -> Value {
    let mut document = client_metadata(redirect_uris);
    document["client_id"] = Value::String(url.to_owned());
    document
}

/// One RFC 7591 registration request; the response's JSON on success.
async fn register(
    policy: &Outbound,
    endpoint: &str,
    redirect_uris: &[&str],
) -> Result<Value, UpstreamError> {
    let body = client_metadata(redirect_uris);
    let registration_policy = Outbound {
        max_bytes: MAX_REGISTRATION_BYTES,
        ..*policy
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    let fetched = registration_policy
        .send(Method::POST, endpoint, headers, Body::Json(&body))
        .await
        .map_err(|source| UpstreamError::Outbound {
            what: "registering with the authorization server",
            source,
        })?;
    let answer: Value = serde_json::from_slice(&fetched.body).unwrap_or(Value::Null);
    if !fetched.status.is_success() {
        return Err(UpstreamError::Registration(super::oauth_error_text(
            &answer,
            fetched.status,
        )));
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_data() {
        let all = templates();
        for key in ["github", "google", "microsoft", "okta", "auth0", "custom"] {
            assert!(all.contains_key(key), "the {key} template must exist");
        }
        let okta = &all["okta"];
        assert!(okta.needs_tenant(), "Okta has a tenant placeholder");
        assert!(okta.for_tenant(None).is_err(), "Okta needs a tenant");
        assert!(
            okta.for_tenant(Some("evil/x")).is_err(),
            "a tenant is a host name"
        );
        let filled = okta.for_tenant(Some("dev-1.okta.com")).unwrap();
        assert_eq!(
            filled.token_endpoint.as_deref(),
            Some("https://dev-1.okta.com/oauth2/default/v1/token")
        );
        let ms = all["microsoft"].for_tenant(None).unwrap();
        assert!(
            ms.authorization_endpoint.unwrap().contains("/common/"),
            "Microsoft falls back to the common tenant"
        );
    }
}

#[cfg(test)]
#[path = "registration_cimd_tests.rs"]
mod cimd_tests;
