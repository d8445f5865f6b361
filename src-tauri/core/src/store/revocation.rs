//! The one revocation path.
//!
//! Every reason a grant stops being valid — the user's revoke or bulk revoke, a connection disabled,
//! deleted or materially changed, a client forgotten or re-registered with less metadata, a reused
//! refresh token or authorization code, an RFC 7009 revoke, a newer consent superseding an older one
//! — ends up in [`revoke_grants_in`]. In the caller's transaction it:
//!
//! 1. moves each grant that is not yet revoked to `revoked`, with the reason and the time (a grant
//!    already revoked keeps its original reason and time, so revoking is idempotent);
//! 2. cascades to that grant's pending authorization requests (`revoked`), unused authorization
//!    codes, access tokens and refresh tokens (`revoked_at`);
//! 3. writes one `grant.revoked` audit event per grant it revoked.
//!
//! An id that names no grant fails the whole call, and with it the transaction: a bulk revoke either
//! happens entirely or not at all. The caller broadcasts [`RevocationOutcome::event`] after the
//! commit (the proxy closes the grants' open streams on it); [`Store::revoke_grants`] does all of it.
//!
//! The token check does not rely on the cascade alone: `access_tokens::lookup` also reads the grant's
//! status, so even a token the cascade missed would stop working. The cascade is what makes every
//! artefact *individually* dead, which RFC 7009 introspection-style lookups and retention rely on.

use rusqlite::{OptionalExtension, Transaction, params};

use super::audit::{self, AuditKind, AuditSubject};
use super::ids::{ClientId, ConnectionId, GrantId};
use super::text::text_enum;
use super::{Store, StoreError, StoreEvent};
use crate::clock::UnixMillis;

text_enum! {
    /// Why grants were revoked. The text is stored in `grants.revoked_reason` and the audit log.
    pub enum RevocationReason {
        /// The user revoked it in the app (single or bulk).
        UserRevoked = "user_revoked",
        ConnectionDisabled = "connection_disabled",
        ConnectionDeleted = "connection_deleted",
        /// A material change (URL, transport, auth settings) bumped the connection's config_version.
        ConnectionChanged = "connection_changed",
        ClientForgotten = "client_forgotten",
        /// The client re-registered without a redirect URI, scope, grant type or response type it had.
        ClientMetadataShrunk = "client_metadata_shrunk",
        /// A refresh token that had already been rotated away was presented again.
        RefreshTokenReuse = "refresh_token_reuse",
        /// An authorization code was presented a second time.
        AuthorizationCodeReuse = "authorization_code_reuse",
        /// The client revoked its token (RFC 7009).
        TokenRevoked = "token_revoked",
        /// The user consented again on the same binding with other scopes or tools; the new grant
        /// replaces the old one (only one active grant per client, connection and redirect URI).
        Superseded = "superseded",
        /// The connection was signed in again as another upstream account: grants approved while
        /// it acted as the previous account must not silently act as the new one.
        UpstreamAccountChanged = "upstream_account_changed",
    }
}

/// What one call of the revocation path did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RevocationOutcome {
    pub reason: RevocationReason,
    /// Grants revoked by this call, in the order given.
    pub revoked: Vec<GrantId>,
    /// Grants that were already revoked and were left as they were.
    pub already_revoked: Vec<GrantId>,
    pub authorization_requests: u64,
    pub authorization_codes: u64,
    pub access_tokens: u64,
    pub refresh_tokens: u64,
}

impl RevocationOutcome {
    fn empty(reason: RevocationReason) -> Self {
        Self {
            reason,
            revoked: Vec::new(),
            already_revoked: Vec::new(),
            authorization_requests: 0,
            authorization_codes: 0,
            access_tokens: 0,
            refresh_tokens: 0,
        }
    }

    /// The event to broadcast once the transaction has committed; `None` when nothing changed.
    pub fn event(&self) -> Option<StoreEvent> {
        (!self.revoked.is_empty()).then(|| StoreEvent::GrantsRevoked {
            grant_ids: self.revoked.clone(),
            reason: self.reason,
        })
    }
}

/// Revokes `ids` and everything tied to them inside `tx`. See the module docs.
pub fn revoke_grants_in(
    tx: &Transaction,
    ids: &[GrantId],
    reason: RevocationReason,
    now: UnixMillis,
) -> Result<RevocationOutcome, StoreError> {
    let mut outcome = RevocationOutcome::empty(reason);
    let mut revoke_grant = tx.prepare_cached(
        "UPDATE grants SET status = 'revoked', revoked_reason = ?2, revoked_at = ?3
         WHERE id = ?1 AND status <> 'revoked'
         RETURNING client_id, connection_id",
    )?;
    let mut grant_exists = tx.prepare_cached("SELECT 1 FROM grants WHERE id = ?1")?;
    let mut revoke_requests = tx.prepare_cached(
        "UPDATE authorization_requests SET status = 'revoked'
         WHERE grant_id = ?1 AND status = 'pending'",
    )?;
    let mut revoke_codes = tx.prepare_cached(
        "UPDATE authorization_codes SET revoked_at = ?2
         WHERE grant_id = ?1 AND used_at IS NULL AND revoked_at IS NULL",
    )?;
    let mut revoke_access = tx.prepare_cached(
        "UPDATE access_tokens SET revoked_at = ?2 WHERE grant_id = ?1 AND revoked_at IS NULL",
    )?;
    let mut revoke_refresh = tx.prepare_cached(
        "UPDATE refresh_tokens SET revoked_at = ?2 WHERE grant_id = ?1 AND revoked_at IS NULL",
    )?;

    for id in ids {
        if outcome.revoked.contains(id) || outcome.already_revoked.contains(id) {
            continue;
        }
        let subjects: Option<(ClientId, ConnectionId)> = revoke_grant
            .query_row(params![id, reason, now], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()?;
        let Some((client_id, connection_id)) = subjects else {
            if grant_exists.exists([id])? {
                outcome.already_revoked.push(id.clone());
                continue;
            }
            return Err(StoreError::NotFound {
                kind: "grant",
                id: id.to_string(),
            });
        };

        outcome.authorization_requests += count(revoke_requests.execute([id])?);
        outcome.authorization_codes += count(revoke_codes.execute(params![id, now])?);
        outcome.access_tokens += count(revoke_access.execute(params![id, now])?);
        outcome.refresh_tokens += count(revoke_refresh.execute(params![id, now])?);
        audit::append(
            tx,
            now,
            AuditKind::GrantRevoked,
            &AuditSubject {
                grant_id: Some(id),
                client_id: Some(&client_id),
                connection_id: Some(&connection_id),
                reason: Some(reason.as_str()),
                detail: None,
            },
        )?;
        outcome.revoked.push(id.clone());
    }
    Ok(outcome)
}

/// Revokes every grant of a connection that is not revoked yet (pending ones included).
pub fn revoke_for_connection_in(
    tx: &Transaction,
    connection_id: &ConnectionId,
    reason: RevocationReason,
    now: UnixMillis,
) -> Result<RevocationOutcome, StoreError> {
    let ids = live_grant_ids(
        tx,
        "SELECT id FROM grants WHERE connection_id = ?1 AND status <> 'revoked' ORDER BY created_at, id",
        connection_id.as_str(),
    )?;
    revoke_grants_in(tx, &ids, reason, now)
}

/// Revokes every grant of a client that is not revoked yet (pending ones included).
pub fn revoke_for_client_in(
    tx: &Transaction,
    client_id: &ClientId,
    reason: RevocationReason,
    now: UnixMillis,
) -> Result<RevocationOutcome, StoreError> {
    let ids = live_grant_ids(
        tx,
        "SELECT id FROM grants WHERE client_id = ?1 AND status <> 'revoked' ORDER BY created_at, id",
        client_id.as_str(),
    )?;
    revoke_grants_in(tx, &ids, reason, now)
}

fn live_grant_ids(tx: &Transaction, sql: &str, key: &str) -> Result<Vec<GrantId>, StoreError> {
    let mut stmt = tx.prepare_cached(sql)?;
    let ids = stmt
        .query_map([key], |row| row.get(0))?
        .collect::<Result<Vec<GrantId>, _>>()?;
    Ok(ids)
}

fn count(rows: usize) -> u64 {
    u64::try_from(rows).unwrap_or(u64::MAX)
}

impl Store {
    /// Revokes `ids` in one transaction (see the module docs), then broadcasts
    /// [`StoreEvent::GrantsRevoked`]. Blocking.
    pub fn revoke_grants(
        &self,
        ids: &[GrantId],
        reason: RevocationReason,
    ) -> Result<RevocationOutcome, StoreError> {
        let now = self.now();
        self.write_with_events_blocking(|tx| with_event(revoke_grants_in(tx, ids, reason, now)?))
    }

    /// Async form of [`Store::revoke_grants`].
    pub async fn revoke_grants_async(
        &self,
        ids: Vec<GrantId>,
        reason: RevocationReason,
    ) -> Result<RevocationOutcome, StoreError> {
        let store = self.clone();
        super::run_blocking(move || store.revoke_grants(&ids, reason)).await
    }

    /// Revokes every live grant of a connection. Blocking.
    pub fn revoke_grants_for_connection(
        &self,
        connection_id: &ConnectionId,
        reason: RevocationReason,
    ) -> Result<RevocationOutcome, StoreError> {
        let now = self.now();
        self.write_with_events_blocking(|tx| {
            with_event(revoke_for_connection_in(tx, connection_id, reason, now)?)
        })
    }

    /// Revokes every live grant of a client. Blocking.
    pub fn revoke_grants_for_client(
        &self,
        client_id: &ClientId,
        reason: RevocationReason,
    ) -> Result<RevocationOutcome, StoreError> {
        let now = self.now();
        self.write_with_events_blocking(|tx| {
            with_event(revoke_for_client_in(tx, client_id, reason, now)?)
        })
    }
}

/// Pairs an outcome with the event it causes, for `write_with_events*`.
pub fn with_event(
    outcome: RevocationOutcome,
) -> Result<(RevocationOutcome, Vec<StoreEvent>), StoreError> {
    let events = outcome.event().into_iter().collect();
    Ok((outcome, events))
}
