//! Changing a connection: an edit of its name, slug or settings, where a material change (upstream
//! URL, transport, anything about upstream authentication) bumps `config_version`, resets the
//! status, drops the upstream credential and revokes the connection's grants in the same
//! transaction; enabling and disabling (which revokes); and the status the upstream side reported.

use rusqlite::{Transaction, params};

use super::{
    AuthKind, ConnectionSettings, ConnectionStatus, get, not_found, slug_conflict, stdio_json,
};
use crate::clock::UnixMillis;
use crate::store::audit::{self, AuditKind, AuditSubject};
use crate::store::ids::ConnectionId;
use crate::store::revocation::{self, RevocationOutcome, RevocationReason};
use crate::store::{Store, StoreError, StoreEvent};

/// An edit; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ConnectionEdit {
    pub slug: Option<String>,
    pub name: Option<String>,
    pub settings: Option<ConnectionSettings>,
}

/// What [`update`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionUpdate {
    pub material: bool,
    pub config_version: i64,
    /// Present when the change was material.
    pub revocation: Option<RevocationOutcome>,
}

/// Applies `edit`. A material change bumps `config_version`, resets the status to what a fresh
/// connection of that auth kind has, deletes the upstream credential and revokes the grants.
pub fn update(
    tx: &Transaction,
    id: &ConnectionId,
    edit: &ConnectionEdit,
    now: UnixMillis,
) -> Result<ConnectionUpdate, StoreError> {
    let current = get(tx, id)?.ok_or_else(|| not_found(id))?;
    let slug = edit.slug.as_ref().unwrap_or(&current.slug);
    let name = edit.name.as_ref().unwrap_or(&current.name);
    let settings = edit.settings.as_ref().unwrap_or(&current.settings);
    let material = *settings != current.settings;
    let config_version = current.config_version + i64::from(material);
    let (status, status_detail, account_label) = if material {
        // As for a new connection: only OAuth has a sign-in to wait for; a header or no
        // authentication is usable at once, and the proxy reports what the upstream thinks of it.
        let fresh = match settings.auth_kind {
            AuthKind::None | AuthKind::Header => ConnectionStatus::Connected,
            AuthKind::OAuth => ConnectionStatus::NeedsAuth,
        };
        (fresh, None, None)
    } else {
        (
            current.status,
            current.status_detail.clone(),
            current.account_label.clone(),
        )
    };
    let o = &settings.oauth;
    tx.prepare_cached(
        "UPDATE connections SET
            slug = ?2, name = ?3, upstream_url = ?4, transport = ?5, auth_kind = ?6, header_name = ?7,
            header_value_sealed = ?8, oauth_source = ?9, oauth_issuer = ?10,
            oauth_authorization_endpoint = ?11, oauth_token_endpoint = ?12,
            oauth_registration_endpoint = ?13, oauth_revocation_endpoint = ?14,
            oauth_userinfo_endpoint = ?15, oauth_client_id = ?16, oauth_client_secret_sealed = ?17,
            oauth_scopes = ?18, oauth_resource = ?19, oauth_template = ?20, config_version = ?21,
            status = ?22, status_detail = ?23, account_label = ?24, updated_at = ?25,
            oauth_grant = ?26, oauth_legacy_discovery = ?27, stdio_command = ?28,
            stdio_env_sealed = ?29
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        slug,
        name,
        settings.upstream_url,
        settings.transport,
        settings.auth_kind,
        settings.header_name,
        settings.header_value_sealed,
        o.source,
        o.issuer,
        o.authorization_endpoint,
        o.token_endpoint,
        o.registration_endpoint,
        o.revocation_endpoint,
        o.userinfo_endpoint,
        o.client_id,
        o.client_secret_sealed,
        o.scopes,
        o.resource,
        o.template,
        config_version,
        status,
        status_detail,
        account_label,
        now,
        o.grant,
        o.legacy_discovery,
        stdio_json(settings)?,
        settings.stdio.as_ref().and_then(|c| c.env_sealed.as_deref()),
    ])
    .map_err(|e| slug_conflict(e, slug))?;

    let revocation = if material {
        crate::store::upstream_credentials::delete(tx, id)?;
        Some(revocation::revoke_for_connection_in(
            tx,
            id,
            RevocationReason::ConnectionChanged,
            now,
        )?)
    } else {
        None
    };
    let detail = serde_json::json!({ "material": material, "config_version": config_version });
    audit::append(
        tx,
        now,
        AuditKind::ConnectionUpdated,
        &AuditSubject {
            connection_id: Some(id),
            detail: Some(&detail),
            ..AuditSubject::default()
        },
    )?;
    Ok(ConnectionUpdate {
        material,
        config_version,
        revocation,
    })
}

/// Enables or disables a connection; disabling revokes its grants.
pub fn set_enabled(
    tx: &Transaction,
    id: &ConnectionId,
    enabled: bool,
    now: UnixMillis,
) -> Result<Option<RevocationOutcome>, StoreError> {
    let changed = tx
        .prepare_cached("UPDATE connections SET enabled = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![id, enabled, now])?;
    if changed == 0 {
        return Err(not_found(id));
    }
    if enabled {
        return Ok(None);
    }
    revocation::revoke_for_connection_in(tx, id, RevocationReason::ConnectionDisabled, now)
        .map(Some)
}

/// Records what the upstream side last reported (not a material change).
pub fn set_status(
    tx: &Transaction,
    id: &ConnectionId,
    status: ConnectionStatus,
    status_detail: Option<&str>,
    now: UnixMillis,
) -> Result<(), StoreError> {
    let changed = tx
        .prepare_cached(
            "UPDATE connections SET status = ?2, status_detail = ?3, updated_at = ?4 WHERE id = ?1",
        )?
        .execute(params![id, status, status_detail, now])?;
    if changed == 0 {
        return Err(not_found(id));
    }
    Ok(())
}

impl Store {
    /// [`update`] in its own transaction; broadcasts the revocation, if any. Blocking.
    pub fn update_connection(
        &self,
        id: &ConnectionId,
        edit: &ConnectionEdit,
    ) -> Result<ConnectionUpdate, StoreError> {
        let now = self.now();
        self.write_with_events_blocking(|tx| {
            let update = update(tx, id, edit, now)?;
            let events = events_of(update.revocation.as_ref());
            Ok((update, events))
        })
    }

    /// [`set_enabled`] in its own transaction; broadcasts the revocation, if any. Blocking.
    pub fn set_connection_enabled(
        &self,
        id: &ConnectionId,
        enabled: bool,
    ) -> Result<Option<RevocationOutcome>, StoreError> {
        let now = self.now();
        self.write_with_events_blocking(|tx| {
            let outcome = set_enabled(tx, id, enabled, now)?;
            let events = events_of(outcome.as_ref());
            Ok((outcome, events))
        })
    }
}

fn events_of(outcome: Option<&RevocationOutcome>) -> Vec<StoreEvent> {
    outcome
        .and_then(RevocationOutcome::event)
        .into_iter()
        .collect()
}
