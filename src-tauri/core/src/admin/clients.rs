//! Registered MCP clients: list, add a pre-registered one (for clients that cannot do dynamic
//! registration), forget one (revoking its grants through the one revocation path).
//!
//! A pre-registered client is a public client like every other (`token_endpoint_auth_method`
//! `none`, authorization code + refresh token, the supported scopes). Its redirect URIs pass the same
//! registration policy as DCR ([`register_redirect_uris`]), but strictly: a person typing a URI wants
//! to hear that it was refused, not find it silently dropped.

use serde::Serialize;
use ts_rs::TS;

use super::AdminError;
use crate::clock::UnixMillis;
use crate::oauth::server::policy::SUPPORTED_SCOPES;
use crate::oauth::server::redirect_uri::{RedirectUri, register_redirect_uris};
use crate::store::clients::{self, ClientRegistration, ClientRow, RegistrationSource};
use crate::store::grants::{self, GrantFilter};
use crate::store::{ClientId, Store};
use crate::vault::Vault;

/// Longest client name accepted, in characters.
pub const MAX_CLIENT_NAME_CHARS: usize = 200;

/// A registered client. Everything but `client_id` and `registration_source` is self-reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ClientView {
    pub client_id: String,
    /// Reported by the client (or typed by the user for a pre-registered one); unverified.
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub software_id: Option<String>,
    pub redirect_uris: Vec<String>,
    #[ts(type = "\"dcr\" | \"cimd\" | \"preregistered\"")]
    pub registration_source: String,
    #[ts(type = "number")]
    pub created_at: UnixMillis,
    #[ts(type = "number")]
    pub updated_at: UnixMillis,
    #[ts(type = "number")]
    pub active_grants: u64,
}

/// What forgetting a client did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ClientForgotten {
    pub client_id: String,
    #[ts(type = "number")]
    pub revoked_grants: u64,
}

/// Every client, oldest registration first.
pub fn list_clients(vault: &Vault) -> Result<Vec<ClientView>, AdminError> {
    let store = vault.store();
    let rows = store.read_blocking(clients::list)?;
    rows.into_iter().map(|row| view(store, row)).collect()
}

/// Registers a client by hand and returns it (with its new `client_id`).
pub fn add_client(
    vault: &Vault,
    name: &str,
    redirect_uris: &[String],
) -> Result<ClientView, AdminError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AdminError::invalid(
            "name",
            "the client name must not be empty",
        ));
    }
    if name.chars().count() > MAX_CLIENT_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(AdminError::invalid(
            "name",
            format!(
                "the client name must be at most {MAX_CLIENT_NAME_CHARS} characters, without control \
                 characters"
            ),
        ));
    }
    if redirect_uris.is_empty() {
        return Err(AdminError::invalid(
            "redirect_uri",
            "give at least one redirect URI",
        ));
    }
    let accepted = match register_redirect_uris(redirect_uris) {
        Ok((accepted, rejected)) if rejected.is_empty() => accepted,
        Ok((_, rejected))
        | Err(crate::oauth::server::redirect_uri::NoUsableRedirectUri { rejected }) => {
            let reasons: Vec<String> = rejected
                .iter()
                .map(|r| format!("{:?}: {}", r.uri, r.reason))
                .collect();
            return Err(AdminError::invalid("redirect_uri", reasons.join("; ")));
        }
    };
    let redirect_uris: Vec<String> = accepted
        .iter()
        .map(RedirectUri::as_str)
        .map(str::to_owned)
        .collect();
    let client_id = ClientId::generate();
    let scope = SUPPORTED_SCOPES.join(" ");
    let grant_types = vec!["authorization_code".to_owned(), "refresh_token".to_owned()];
    let response_types = vec!["code".to_owned()];
    let metadata = serde_json::json!({
        "client_name": name,
        "redirect_uris": redirect_uris,
        "grant_types": grant_types,
        "response_types": response_types,
        "token_endpoint_auth_method": "none",
        "scope": scope,
    });
    let registration = ClientRegistration {
        client_id: client_id.clone(),
        client_name: Some(name.to_owned()),
        client_uri: None,
        software_id: None,
        software_version: None,
        redirect_uris,
        scope: Some(scope),
        grant_types,
        response_types,
        token_endpoint_auth_method: "none".to_owned(),
        application_type: Some("native".to_owned()),
        registration_source: RegistrationSource::Preregistered,
        metadata,
    };
    vault.store().upsert_client(&registration)?;
    let row = find(vault.store(), &client_id)?;
    view(vault.store(), row)
}

/// Revokes the client's grants, then deletes it.
pub fn forget_client(vault: &Vault, client_id: &str) -> Result<ClientForgotten, AdminError> {
    let not_found = || AdminError::NotFound {
        what: "client",
        key: client_id.to_owned(),
    };
    let id = ClientId::new(client_id.trim()).ok_or_else(not_found)?;
    let outcome = vault.store().forget_client(&id)?.ok_or_else(not_found)?;
    Ok(ClientForgotten {
        client_id: id.to_string(),
        revoked_grants: u64::try_from(outcome.revoked.len()).unwrap_or(u64::MAX),
    })
}

fn find(store: &Store, id: &ClientId) -> Result<ClientRow, AdminError> {
    let key = id.clone();
    store
        .read_blocking(move |conn| clients::get(conn, &key))?
        .ok_or_else(|| AdminError::NotFound {
            what: "client",
            key: id.to_string(),
        })
}

fn view(store: &Store, row: ClientRow) -> Result<ClientView, AdminError> {
    let filter = GrantFilter {
        active_only: true,
        client_id: Some(row.registration.client_id.clone()),
        ..GrantFilter::default()
    };
    let active_grants = store
        .read_blocking(move |conn| grants::list(conn, &filter))?
        .len();
    let r = row.registration;
    Ok(ClientView {
        client_id: r.client_id.to_string(),
        client_name: r.client_name,
        client_uri: r.client_uri,
        software_id: r.software_id,
        redirect_uris: r.redirect_uris,
        registration_source: r.registration_source.as_str().to_owned(),
        created_at: row.created_at,
        updated_at: row.updated_at,
        active_grants: u64::try_from(active_grants).unwrap_or(u64::MAX),
    })
}

/// How many distinct clients hold at least one active grant (the tray's "N clients authorized").
pub fn authorized_client_count(vault: &Vault) -> Result<u64, AdminError> {
    let filter = GrantFilter {
        active_only: true,
        ..GrantFilter::default()
    };
    let grants = vault
        .store()
        .read_blocking(move |conn| grants::list(conn, &filter))?;
    let clients: std::collections::HashSet<_> = grants.into_iter().map(|g| g.client_id).collect();
    Ok(u64::try_from(clients.len()).unwrap_or(u64::MAX))
}
