//! How a connection authenticates upstream, as the user gives it ([`UpstreamAuth`], [`OAuthInput`])
//! and as the store keeps it: a header value sealed with the data key to
//! `connections.header_value_sealed` of its row; OAuth settings that a provider template fills
//! (data, not code) with the client secret sealed to its row, or the stored one kept; and whether
//! an edit gives the credentials the connection already has (compared on the opened values, since
//! sealing again gives new bytes and would look like a material change).

use secrecy::{ExposeSecret, SecretString};

use super::AdminError;
use super::connection_input::{validate_header_name, validate_header_value};
use crate::crypto::Aad;
use crate::store::ConnectionId;
use crate::store::connections::{AuthKind, ConnectionRow, OAuthGrant, OAuthSettings, OAuthSource};
use crate::vault::Vault;

/// How Gatehouse authenticates to an upstream.
#[derive(Debug, Clone)]
pub enum UpstreamAuth {
    None,
    /// A fixed header such as `Authorization: Bearer …` or `X-API-Key: …`.
    Header {
        name: String,
        value: SecretString,
    },
    /// OAuth (role 2): the connection starts as "Sign-in needed".
    OAuth(OAuthInput),
}

/// OAuth settings given when adding a connection. All optional: with none, Gatehouse discovers the
/// authorization server and registers itself (DCR).
#[derive(Debug, Clone, Default)]
pub struct OAuthInput {
    /// A pre-registered client id (used before DCR; bound to the issuer it is first used with).
    pub client_id: Option<String>,
    /// Its secret, sealed before it is stored.
    pub client_secret: Option<SecretString>,
    /// A provider template key: `github`, `google`, `microsoft`, `okta`, `auth0`, `custom`.
    pub template: Option<String>,
    /// The tenant domain for templates with a `{tenant}` placeholder (Okta, Auth0, Microsoft).
    pub tenant: Option<String>,
    /// Scopes to request instead of the discovered ones.
    pub scopes: Option<String>,
    /// Machine to machine: the client_credentials grant (needs a client id and secret).
    pub client_credentials: bool,
    /// Opt in to the 2025-03-26 discovery fallback for an upstream without protected resource
    /// metadata (AS metadata or default endpoints at the MCP URL's origin).
    pub legacy_discovery: bool,
}

/// The sealed client secret an OAuth edit keeps: the stored one, when the edit names the same
/// client id and gives no secret (the window never shows it back) or gives the same secret again
/// (sealing anew would make an unchanged secret look like a material change).
pub(super) fn kept_secret(
    vault: &Vault,
    row: &ConnectionRow,
    input: &OAuthInput,
) -> Result<Option<Vec<u8>>, AdminError> {
    let current = &row.settings.oauth;
    let (true, Some(sealed)) = (
        row.settings.auth_kind == AuthKind::OAuth
            && current.client_id.as_deref() == input.client_id.as_deref().map(str::trim),
        current.client_secret_sealed.as_ref(),
    ) else {
        return Ok(None);
    };
    let Some(given) = &input.client_secret else {
        return Ok(Some(sealed.clone()));
    };
    let stored = vault.cipher().open_string(
        sealed,
        &crate::oauth::upstream::registration::client_secret_aad(&row.id),
    )?;
    Ok((stored.expose_secret() == given.expose_secret().trim()).then(|| sealed.clone()))
}

/// Whether `auth` is exactly what the connection already has (same header name and value, or none
/// for none). Sealing again would produce new bytes, so the comparison is on the opened value.
pub(super) fn same_header(
    vault: &Vault,
    row: &ConnectionRow,
    auth: &UpstreamAuth,
) -> Result<bool, AdminError> {
    match (auth, row.settings.auth_kind) {
        (UpstreamAuth::None, AuthKind::None) => Ok(true),
        (UpstreamAuth::Header { name, value }, AuthKind::Header) => {
            let (Some(current_name), Some(sealed)) = (
                row.settings.header_name.as_deref(),
                row.settings.header_value_sealed.as_deref(),
            ) else {
                return Ok(false);
            };
            if !current_name.eq_ignore_ascii_case(name.trim()) {
                return Ok(false);
            }
            let current = vault.cipher().open_string(sealed, &header_aad(&row.id))?;
            Ok(current.expose_secret() == value.expose_secret().trim())
        }
        _ => Ok(false),
    }
}

fn header_aad(id: &ConnectionId) -> Aad<'_> {
    Aad {
        table: "connections",
        column: "header_value_sealed",
        row_id: id.as_str(),
    }
}

type SealedAuth = (AuthKind, Option<String>, Option<Vec<u8>>);

pub(super) fn seal_auth(
    vault: &Vault,
    id: &ConnectionId,
    auth: &UpstreamAuth,
) -> Result<SealedAuth, AdminError> {
    match auth {
        UpstreamAuth::None => Ok((AuthKind::None, None, None)),
        UpstreamAuth::Header { name, value } => {
            let name = validate_header_name(name)?;
            let value = value.expose_secret().trim();
            validate_header_value(value)?;
            let sealed = vault.cipher().seal_str(value, &header_aad(id));
            Ok((AuthKind::Header, Some(name), Some(sealed)))
        }
        UpstreamAuth::OAuth(_) => Err(AdminError::invalid(
            "auth",
            "OAuth settings are not a header",
        )),
    }
}

/// The OAuth settings of a new or edited connection: a template fills the endpoints (data, not
/// code); a client secret is sealed to this row, or `kept` (already sealed to it) stays.
pub(super) fn oauth_settings(
    vault: &Vault,
    id: &ConnectionId,
    input: &OAuthInput,
    kept: Option<Vec<u8>>,
) -> Result<OAuthSettings, AdminError> {
    let client_id = input
        .client_id
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    if client_id
        .as_deref()
        .is_some_and(|c| c.len() > 512 || c.chars().any(char::is_control))
    {
        return Err(AdminError::invalid(
            "client_id",
            "the client id is not valid",
        ));
    }
    if input.client_secret.is_some() && client_id.is_none() {
        return Err(AdminError::invalid(
            "client_secret",
            "a client secret needs a client id",
        ));
    }
    let client_secret_sealed = kept.or_else(|| {
        input.client_secret.as_ref().map(|secret| {
            vault.cipher().seal_str(
                secret.expose_secret().trim(),
                &crate::oauth::upstream::registration::client_secret_aad(id),
            )
        })
    });
    if input.client_credentials && client_secret_sealed.is_none() {
        return Err(AdminError::invalid(
            "grant",
            "client credentials need a pre-registered client id and secret",
        ));
    }
    let scopes = input
        .scopes
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let mut settings = OAuthSettings {
        source: Some(OAuthSource::Discovered),
        client_id: client_id.clone(),
        client_secret_sealed,
        scopes,
        grant: input
            .client_credentials
            .then_some(OAuthGrant::ClientCredentials),
        legacy_discovery: input.legacy_discovery,
        ..OAuthSettings::default()
    };
    if let Some(key) = input.template.as_deref().map(str::to_ascii_lowercase) {
        let templates = crate::oauth::upstream::templates();
        let Some(template) = templates.get(&key) else {
            return Err(AdminError::invalid(
                "template",
                format!(
                    "unknown template {key:?}; one of: {}",
                    templates.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        };
        let filled = template
            .for_tenant(input.tenant.as_deref())
            .map_err(|e| AdminError::invalid("tenant", e.to_string()))?;
        if filled.token_endpoint.is_some() && client_id.is_none() {
            return Err(AdminError::invalid(
                "client_id",
                format!(
                    "the {} template needs the client id you registered there",
                    filled.name
                ),
            ));
        }
        settings.source = Some(if filled.token_endpoint.is_some() {
            OAuthSource::Template
        } else {
            OAuthSource::Manual
        });
        settings.template = Some(key);
        settings.issuer = filled.issuer;
        settings.authorization_endpoint = filled.authorization_endpoint;
        settings.token_endpoint = filled.token_endpoint;
        settings.revocation_endpoint = filled.revocation_endpoint;
        settings.userinfo_endpoint = filled.userinfo_endpoint;
        if settings.scopes.is_none() {
            settings.scopes = filled.scopes;
        }
    }
    Ok(settings)
}
