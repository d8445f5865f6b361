//! Grants as the "Authorized clients" tab and `gatehoused grants` show them: joined with the client's
//! reported name and the connection, with a token health computed from the grant's live tokens, and
//! revoked only through the store's one revocation path (reason `user_revoked`).

use std::collections::HashMap;

use serde::Serialize;
use ts_rs::TS;

use super::AdminError;
use crate::clock::{MINUTE, UnixMillis};
use crate::store::grants::{self, GrantFilter, GrantTokenState};
use crate::store::{ClientId, ConnectionId, GrantId, RevocationReason, clients, connections};
use crate::vault::Vault;

/// An access token with less than this left (and no usable refresh token) is "expiring soon".
pub const EXPIRING_SOON: UnixMillis = 5 * MINUTE;

/// Whether the client holding a grant can still call without signing in again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TokenHealth {
    /// A usable refresh token, or an access token with more than five minutes left.
    Valid,
    /// Only an access token that expires within five minutes.
    ExpiringSoon,
    /// Tokens were issued but none is usable any more.
    Expired,
    /// No token was ever issued (consent not finished, or retention removed them all).
    None,
}

impl TokenHealth {
    pub fn of(state: &GrantTokenState, now: UnixMillis) -> TokenHealth {
        let refresh_usable = state.refresh_expires_at.is_some_and(|at| now < at);
        match state.access_expires_at {
            _ if refresh_usable => TokenHealth::Valid,
            Some(at) if at - now > EXPIRING_SOON => TokenHealth::Valid,
            Some(at) if now < at => TokenHealth::ExpiringSoon,
            _ if state.issued => TokenHealth::Expired,
            _ => TokenHealth::None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TokenHealth::Valid => "valid",
            TokenHealth::ExpiringSoon => "expiring_soon",
            TokenHealth::Expired => "expired",
            TokenHealth::None => "none",
        }
    }
}

/// One grant. Never a token, hash or secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct GrantView {
    pub id: String,
    #[ts(type = "\"pending\" | \"active\" | \"revoked\"")]
    pub status: String,
    pub client_id: String,
    /// As the client reported it: unverified, and absent when it gave none.
    pub client_name: Option<String>,
    pub connection_id: String,
    pub connection_slug: String,
    pub connection_name: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    /// `null` = every tool of the connection.
    pub tools: Option<Vec<String>>,
    #[ts(type = "number")]
    pub created_at: UnixMillis,
    #[ts(type = "number | null")]
    pub activated_at: Option<UnixMillis>,
    #[ts(type = "number | null")]
    pub last_used_at: Option<UnixMillis>,
    #[ts(type = "number | null")]
    pub revoked_at: Option<UnixMillis>,
    pub revoked_reason: Option<String>,
    pub token_health: TokenHealth,
    /// The program the OS saw behind the client (not reported by it): the one that redeemed the
    /// grant's code, else the one that registered the client; `null` when Gatehouse saw neither.
    pub caller: Option<CallerView>,
}

/// A process as the OS showed it to Gatehouse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct CallerView {
    /// The executable's path, when the OS showed it.
    pub exe: Option<String>,
    pub pid: u32,
}

impl From<crate::store::authorization_requests::CallerProcess> for CallerView {
    fn from(process: crate::store::authorization_requests::CallerProcess) -> Self {
        CallerView {
            exe: process.exe,
            pid: process.pid,
        }
    }
}

/// What a revoke did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct GrantsRevoked {
    /// Grants revoked just now.
    pub revoked: Vec<String>,
    /// Grants that were revoked before and were left as they were.
    pub already_revoked: Vec<String>,
}

/// Active grants (or, with `include_inactive`, every grant), newest first.
pub fn list_grants(vault: &Vault, include_inactive: bool) -> Result<Vec<GrantView>, AdminError> {
    let store = vault.store();
    let now = store.now();
    let filter = GrantFilter {
        active_only: !include_inactive,
        ..GrantFilter::default()
    };
    store
        .read_blocking(move |conn| {
            let rows = grants::list(conn, &filter)?;
            let mut client_names: HashMap<ClientId, Option<String>> = HashMap::new();
            let mut registrants: HashMap<ClientId, Option<CallerView>> = HashMap::new();
            let mut connection_names: HashMap<ConnectionId, (String, String)> = HashMap::new();
            let mut views = Vec::with_capacity(rows.len());
            for row in rows {
                if !client_names.contains_key(&row.client_id) {
                    let name = clients::get(conn, &row.client_id)?
                        .and_then(|c| c.registration.client_name);
                    client_names.insert(row.client_id.clone(), name);
                }
                if !connection_names.contains_key(&row.connection_id) {
                    let (slug, name) = connections::get(conn, &row.connection_id)?
                        .map(|c| (c.slug, c.name))
                        .unwrap_or_default();
                    connection_names.insert(row.connection_id.clone(), (slug, name));
                }
                if !registrants.contains_key(&row.client_id) {
                    let registrant =
                        clients::registrant(conn, &row.client_id)?.map(|c| CallerView {
                            exe: c.exe,
                            pid: c.pid,
                        });
                    registrants.insert(row.client_id.clone(), registrant);
                }
                let caller = row
                    .caller
                    .clone()
                    .map(CallerView::from)
                    .or_else(|| registrants.get(&row.client_id).cloned().flatten());
                let state = grants::token_state(conn, &row.id)?;
                let (connection_slug, connection_name) = connection_names
                    .get(&row.connection_id)
                    .cloned()
                    .unwrap_or_default();
                views.push(GrantView {
                    id: row.id.to_string(),
                    status: row.status.as_str().to_owned(),
                    client_name: client_names.get(&row.client_id).cloned().flatten(),
                    client_id: row.client_id.to_string(),
                    connection_id: row.connection_id.to_string(),
                    connection_slug,
                    connection_name,
                    redirect_uri: row.redirect_uri,
                    scopes: crate::store::split_tokens(&row.scopes),
                    tools: row.tools,
                    created_at: row.created_at,
                    activated_at: row.activated_at,
                    last_used_at: row.last_used_at,
                    revoked_at: row.revoked_at,
                    revoked_reason: row.revoked_reason.map(|r| r.as_str().to_owned()),
                    token_health: TokenHealth::of(&state, now),
                    caller,
                });
            }
            Ok(views)
        })
        .map_err(AdminError::from)
}

/// Revokes these grants (reason `user_revoked`) in one transaction: an unknown id fails the whole
/// call and nothing is revoked.
pub fn revoke_grants(vault: &Vault, ids: &[String]) -> Result<GrantsRevoked, AdminError> {
    if ids.is_empty() {
        return Err(AdminError::invalid("id", "name at least one grant id"));
    }
    let ids = ids
        .iter()
        .map(|raw| {
            GrantId::parse(raw.trim()).ok_or_else(|| AdminError::NotFound {
                what: "grant",
                key: raw.clone(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let outcome = vault
        .store()
        .revoke_grants(&ids, RevocationReason::UserRevoked)?;
    Ok(GrantsRevoked {
        revoked: outcome.revoked.iter().map(ToString::to_string).collect(),
        already_revoked: outcome
            .already_revoked
            .iter()
            .map(ToString::to_string)
            .collect(),
    })
}
