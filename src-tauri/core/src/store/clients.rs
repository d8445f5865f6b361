//! Clients: the registrations of local MCP clients (RFC 7591 DCR, CIMD, pre-registered).
//!
//! Everything a client says about itself is self-reported; `client_name` in particular is shown as
//! unverified. Redirect URIs are stored one per row in registration order (`client_redirect_uris`),
//! already normalized by the OAuth layer, so exact matching is an indexed lookup.
//!
//! **Re-registration that shrinks the metadata revokes**: when [`upsert`] replaces a
//! registration and the new one lacks a redirect URI, scope, grant type or response type the old one
//! had, every grant of the client is revoked (`client_metadata_shrunk`) in the same transaction.
//! Additions and cosmetic changes (name, URI, software version) revoke nothing; the OAuth layer
//! normalizes redirect URIs first so a trailing slash or host case does not look like a removal.
//!
//! **Registrations that never led to a grant are bounded**: anyone on this machine may register
//! (RFC 7591 §3, open registration, rate-limited at the endpoint), so at most
//! [`MAX_UNGRANTED_DCR_CLIENTS`] dynamic or CIMD registrations without any grant are kept; a new one
//! evicts the oldest beyond that (RFC 7591 §3 lets a server expire registrations; a client whose
//! id was evicted registers again, and a CIMD client's document is simply fetched again by the next
//! `/authorize`). Clients with an active or revoked grant and pre-registered clients are never
//! evicted. A DCR or CIMD client whose grants are all *pending* (consents nobody answered) is
//! evicted once they are older than [`PENDING_ONLY_CLIENT_TTL`], so loading `/authorize` for a flood
//! of registrations or metadata URLs (a web page can do the latter) does not keep them forever.

use std::collections::BTreeSet;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::audit::{self, AuditKind, AuditSubject};
use super::authorization_requests::CallerProcess;
use super::ids::ClientId;
use super::revocation::{self, RevocationOutcome, RevocationReason};
use super::text::{canonical_tokens, split_tokens, text_enum};
use super::{Store, StoreError};
use crate::clock::UnixMillis;

text_enum! {
    /// How a client came to be known.
    pub enum RegistrationSource {
        /// RFC 7591 dynamic client registration.
        Dcr = "dcr",
        /// A Client ID Metadata Document fetched from the https `client_id` URL.
        Cimd = "cimd",
        Preregistered = "preregistered",
    }
}

/// A client's registration as the OAuth layer validated it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRegistration {
    pub client_id: ClientId,
    /// Self-reported; never trusted.
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub software_id: Option<String>,
    pub software_version: Option<String>,
    /// Normalized, in registration order.
    pub redirect_uris: Vec<String>,
    /// Space-separated scopes the client registered, if any.
    pub scope: Option<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    /// `none` for public clients.
    pub token_endpoint_auth_method: String,
    pub application_type: Option<String>,
    pub registration_source: RegistrationSource,
    /// The validated metadata as received (for the technical details view). Never a secret.
    pub metadata: serde_json::Value,
}

/// A stored client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRow {
    pub registration: ClientRegistration,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

/// What [`upsert`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientUpsert {
    pub created: bool,
    /// The new registration removed something the old one had.
    pub shrunk: bool,
    /// The revocation caused by a shrink.
    pub revocation: Option<RevocationOutcome>,
}

/// Whether `new` lacks something `old` had (order, duplicates and additions do not count).
pub fn shrinks(old: &ClientRegistration, new: &ClientRegistration) -> bool {
    fn lost<'a>(
        old: impl IntoIterator<Item = &'a str>,
        new: impl IntoIterator<Item = &'a str>,
    ) -> bool {
        let new: BTreeSet<&str> = new.into_iter().collect();
        old.into_iter().any(|item| !new.contains(item))
    }
    let scopes = |r: &'_ ClientRegistration| -> Vec<String> {
        r.scope.as_deref().map(split_tokens).unwrap_or_default()
    };
    let (old_scopes, new_scopes) = (scopes(old), scopes(new));
    lost(
        old.redirect_uris.iter().map(String::as_str),
        new.redirect_uris.iter().map(String::as_str),
    ) || lost(
        old.grant_types.iter().map(String::as_str),
        new.grant_types.iter().map(String::as_str),
    ) || lost(
        old.response_types.iter().map(String::as_str),
        new.response_types.iter().map(String::as_str),
    ) || lost(
        old_scopes.iter().map(String::as_str),
        new_scopes.iter().map(String::as_str),
    )
}

/// How many DCR registrations without any grant are kept (see the module docs).
pub const MAX_UNGRANTED_DCR_CLIENTS: u32 = 1_000;

/// Deletes the oldest DCR registrations without any grant beyond [`MAX_UNGRANTED_DCR_CLIENTS`]
/// (never `keep`, the one just registered). Returns how many went.
fn evict_ungranted_dcr(tx: &Transaction, keep: &ClientId) -> Result<u64, StoreError> {
    let evicted = tx
        .prepare_cached(
            "DELETE FROM clients WHERE client_id IN (
                SELECT c.client_id FROM clients c
                WHERE c.registration_source IN ('dcr', 'cimd') AND c.client_id != ?1
                  AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.client_id = c.client_id)
                ORDER BY c.created_at DESC, c.rowid DESC
                LIMIT -1 OFFSET ?2)",
        )?
        .execute(params![keep, MAX_UNGRANTED_DCR_CLIENTS - 1])?;
    Ok(u64::try_from(evicted).unwrap_or(u64::MAX))
}

/// How long a DCR client whose only grants are pending (a consent nobody answered) is kept.
pub const PENDING_ONLY_CLIENT_TTL: UnixMillis = 60 * 60 * 1000;

/// Deletes the DCR registrations (never `keep`) whose grants are all pending and older than
/// [`PENDING_ONLY_CLIENT_TTL`]: loading `/authorize` must not make a flood of registrations
/// permanent. Their pending grants and requests go with them. Returns how many went.
fn evict_pending_only_dcr(
    tx: &Transaction,
    keep: &ClientId,
    now: UnixMillis,
) -> Result<u64, StoreError> {
    let evicted = tx
        .prepare_cached(
            "DELETE FROM clients WHERE client_id IN (
                SELECT c.client_id FROM clients c
                WHERE c.registration_source IN ('dcr', 'cimd') AND c.client_id != ?1
                  AND EXISTS (SELECT 1 FROM grants g WHERE g.client_id = c.client_id)
                  AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.client_id = c.client_id
                                  AND (g.status <> 'pending' OR g.created_at > ?2)))",
        )?
        .execute(params![keep, now - PENDING_ONLY_CLIENT_TTL])?;
    Ok(u64::try_from(evicted).unwrap_or(u64::MAX))
}

/// Creates or replaces a registration; revokes the client's grants when it shrinks.
pub fn upsert(
    tx: &Transaction,
    reg: &ClientRegistration,
    now: UnixMillis,
) -> Result<ClientUpsert, StoreError> {
    let old = get(tx, &reg.client_id)?;
    let metadata = serde_json::to_string(&reg.metadata)?;
    tx.prepare_cached(
        "INSERT INTO clients (client_id, client_name, client_uri, software_id, software_version, scope,
                              grant_types, response_types, token_endpoint_auth_method, application_type,
                              registration_source, metadata_json, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)
         ON CONFLICT (client_id) DO UPDATE SET
            client_name = excluded.client_name, client_uri = excluded.client_uri,
            software_id = excluded.software_id, software_version = excluded.software_version,
            scope = excluded.scope, grant_types = excluded.grant_types,
            response_types = excluded.response_types,
            token_endpoint_auth_method = excluded.token_endpoint_auth_method,
            application_type = excluded.application_type,
            registration_source = excluded.registration_source,
            metadata_json = excluded.metadata_json, updated_at = excluded.updated_at",
    )?
    .execute(params![
        reg.client_id,
        reg.client_name,
        reg.client_uri,
        reg.software_id,
        reg.software_version,
        reg.scope.as_deref().map(|s| canonical_tokens(s.split(' '))),
        canonical_tokens(reg.grant_types.iter().map(String::as_str)),
        canonical_tokens(reg.response_types.iter().map(String::as_str)),
        reg.token_endpoint_auth_method,
        reg.application_type,
        reg.registration_source,
        metadata,
        now,
    ])?;

    tx.prepare_cached("DELETE FROM client_redirect_uris WHERE client_id = ?1")?
        .execute([&reg.client_id])?;
    let mut insert_uri = tx.prepare_cached(
        "INSERT OR IGNORE INTO client_redirect_uris (client_id, position, redirect_uri) VALUES (?1, ?2, ?3)",
    )?;
    for (position, uri) in (0_i64..).zip(&reg.redirect_uris) {
        insert_uri.execute(params![reg.client_id, position, uri])?;
    }

    let shrunk = old
        .as_ref()
        .is_some_and(|old| shrinks(&old.registration, reg));
    let revocation = if shrunk {
        Some(revocation::revoke_for_client_in(
            tx,
            &reg.client_id,
            RevocationReason::ClientMetadataShrunk,
            now,
        )?)
    } else {
        None
    };
    let kind = if old.is_some() {
        AuditKind::ClientUpdated
    } else {
        AuditKind::ClientRegistered
    };
    let evicted = if old.is_none()
        && matches!(
            reg.registration_source,
            RegistrationSource::Dcr | RegistrationSource::Cimd
        ) {
        evict_ungranted_dcr(tx, &reg.client_id)? + evict_pending_only_dcr(tx, &reg.client_id, now)?
    } else {
        0
    };
    if evicted > 0 {
        tracing::warn!(
            evicted,
            "too many dynamic registrations without a grant: the oldest were removed"
        );
    }
    let detail = serde_json::json!({ "source": reg.registration_source, "shrunk": shrunk, "evicted": evicted });
    audit::append(
        tx,
        now,
        kind,
        &AuditSubject {
            client_id: Some(&reg.client_id),
            detail: Some(&detail),
            ..AuditSubject::default()
        },
    )?;
    Ok(ClientUpsert {
        created: old.is_none(),
        shrunk,
        revocation,
    })
}

pub fn get(conn: &Connection, client_id: &ClientId) -> Result<Option<ClientRow>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT client_id, client_name, client_uri, software_id, software_version, scope, grant_types,
                    response_types, token_endpoint_auth_method, application_type, registration_source,
                    metadata_json, created_at, updated_at
             FROM clients WHERE client_id = ?1",
        )?
        .query_row([client_id], |row| {
            Ok((
                ClientRow {
                    registration: ClientRegistration {
                        client_id: row.get(0)?,
                        client_name: row.get(1)?,
                        client_uri: row.get(2)?,
                        software_id: row.get(3)?,
                        software_version: row.get(4)?,
                        redirect_uris: Vec::new(),
                        scope: row.get(5)?,
                        grant_types: split_tokens(&row.get::<_, String>(6)?),
                        response_types: split_tokens(&row.get::<_, String>(7)?),
                        token_endpoint_auth_method: row.get(8)?,
                        application_type: row.get(9)?,
                        registration_source: row.get(10)?,
                        metadata: serde_json::Value::Null,
                    },
                    created_at: row.get(12)?,
                    updated_at: row.get(13)?,
                },
                row.get::<_, String>(11)?,
            ))
        })
        .optional()?;
    let Some((mut client, metadata)) = row else {
        return Ok(None);
    };
    client.registration.metadata = serde_json::from_str(&metadata)?;
    client.registration.redirect_uris = conn
        .prepare_cached(
            "SELECT redirect_uri FROM client_redirect_uris WHERE client_id = ?1 ORDER BY position",
        )?
        .query_map([client_id], |row| row.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(Some(client))
}

/// Every client, oldest registration first (the admin list; redirect URIs included).
pub fn list(conn: &Connection) -> Result<Vec<ClientRow>, StoreError> {
    let ids = conn
        .prepare_cached("SELECT client_id FROM clients ORDER BY created_at, client_id")?
        .query_map([], |row| row.get(0))?
        .collect::<Result<Vec<ClientId>, _>>()?;
    let mut clients = Vec::with_capacity(ids.len());
    for id in &ids {
        clients.extend(get(conn, id)?);
    }
    Ok(clients)
}

/// Whether `redirect_uri` (normalized) is registered for the client, exactly.
pub fn has_redirect_uri(
    conn: &Connection,
    client_id: &ClientId,
    redirect_uri: &str,
) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM client_redirect_uris WHERE client_id = ?1 AND redirect_uri = ?2",
        )?
        .exists(params![client_id, redirect_uri])?)
}

/// Revokes the client's grants (`client_forgotten`), then deletes it and, cascading, its grants.
/// Returns `None` if there was no such client.
pub fn forget(
    tx: &Transaction,
    client_id: &ClientId,
    now: UnixMillis,
) -> Result<Option<RevocationOutcome>, StoreError> {
    if get(tx, client_id)?.is_none() {
        return Ok(None);
    }
    let outcome =
        revocation::revoke_for_client_in(tx, client_id, RevocationReason::ClientForgotten, now)?;
    tx.prepare_cached("DELETE FROM clients WHERE client_id = ?1")?
        .execute([client_id])?;
    audit::append(
        tx,
        now,
        AuditKind::ClientForgotten,
        &AuditSubject {
            client_id: Some(client_id),
            ..AuditSubject::default()
        },
    )?;
    Ok(Some(outcome))
}

impl Store {
    /// [`upsert`] in its own transaction; broadcasts a shrink's revocation. Blocking.
    pub fn upsert_client(&self, reg: &ClientRegistration) -> Result<ClientUpsert, StoreError> {
        let now = self.now();
        self.write_with_events_blocking(|tx| {
            let upsert = upsert(tx, reg, now)?;
            let events = upsert
                .revocation
                .as_ref()
                .and_then(RevocationOutcome::event)
                .into_iter()
                .collect();
            Ok((upsert, events))
        })
    }

    /// [`forget`] in its own transaction; broadcasts the revocation. Blocking.
    pub fn forget_client(
        &self,
        client_id: &ClientId,
    ) -> Result<Option<RevocationOutcome>, StoreError> {
        let now = self.now();
        self.write_with_events_blocking(|tx| {
            let outcome = forget(tx, client_id, now)?;
            let events = outcome
                .as_ref()
                .and_then(RevocationOutcome::event)
                .into_iter()
                .collect();
            Ok((outcome, events))
        })
    }
}

/// The process the OS saw registering `client_id` (DCR at `/register`), when it was seen.
pub fn registrant(
    conn: &Connection,
    client_id: &ClientId,
) -> Result<Option<CallerProcess>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT registered_by_pid, registered_by_exe FROM clients WHERE client_id = ?1",
        )?
        .query_row([client_id], |row| {
            Ok(CallerProcess::from_columns(row.get(0)?, row.get(1)?))
        })
        .optional()?
        .flatten())
}

/// Records the process that registered `client_id`.
pub fn set_registrant(
    tx: &Transaction,
    client_id: &ClientId,
    caller: &CallerProcess,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE clients SET registered_by_pid = ?2, registered_by_exe = ?3 WHERE client_id = ?1",
    )?
    .execute(params![client_id, caller.pid, caller.exe])?;
    Ok(())
}

#[cfg(test)]
#[path = "clients_list_tests.rs"]
mod list_tests;
