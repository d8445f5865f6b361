//! Authorization codes: one use, 60 seconds, stored only as `code_hash` (SHA-256 of the code).
//!
//! [`redeem`] marks a code used and hands back what the token endpoint must verify (client,
//! redirect URI, PKCE challenge, resource). A code presented a second time revokes its grant through
//! the one revocation path, inside the same transaction (RFC 6749 §4.1.2, OAuth 2.1 §4.1.3).
//!
//! **The caller must commit** after a [`Redemption::Reused`]: it returns `Ok`, and the token endpoint
//! turns it into `invalid_grant` *after* the write, otherwise the revocation would be rolled back.

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::grants::GrantStatus;
use super::ids::{ClientId, GrantId};
use super::revocation::{self, RevocationOutcome, RevocationReason};
use super::text::canonical_tokens;
use super::{StoreError, TokenHash};
use crate::clock::UnixMillis;

/// A code to store.
#[derive(Debug, Clone)]
pub struct NewAuthorizationCode {
    pub code_hash: TokenHash,
    pub grant_id: GrantId,
    pub client_id: ClientId,
    pub redirect_uri: String,
    /// The PKCE S256 challenge (already a hash; not a secret).
    pub code_challenge: String,
    pub resource: String,
    pub scopes: String,
    pub expires_at: UnixMillis,
}

/// A stored code with its grant's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCodeRow {
    pub grant_id: GrantId,
    pub client_id: ClientId,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub resource: String,
    pub scopes: String,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub used_at: Option<UnixMillis>,
    pub revoked_at: Option<UnixMillis>,
    pub grant_status: GrantStatus,
}

impl AuthorizationCodeRow {
    /// Whether the code could still be redeemed at `now`.
    pub fn is_usable(&self, now: UnixMillis) -> bool {
        self.used_at.is_none()
            && self.revoked_at.is_none()
            && now < self.expires_at
            && self.grant_status == GrantStatus::Active
    }
}

/// What [`redeem`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// First use: the code is now marked used. The caller verifies client, redirect URI and PKCE.
    Redeemed(AuthorizationCodeRow),
    /// The code had been used before: its grant was revoked just now (or already was).
    Reused(RevocationOutcome),
    Expired,
    Revoked,
    Unknown,
}

/// Stores a code for an **active** grant.
pub fn insert(
    tx: &Transaction,
    code: &NewAuthorizationCode,
    now: UnixMillis,
) -> Result<(), StoreError> {
    let inserted = tx
        .prepare_cached(
            "INSERT INTO authorization_codes (code_hash, grant_id, client_id, redirect_uri, code_challenge,
                                              resource, scopes, created_at, expires_at)
             SELECT ?1, g.id, ?3, ?4, ?5, ?6, ?7, ?8, ?9 FROM grants g WHERE g.id = ?2 AND g.status = 'active'",
        )?
        .execute(params![
            code.code_hash.as_slice(),
            code.grant_id,
            code.client_id,
            code.redirect_uri,
            code.code_challenge,
            code.resource,
            canonical_tokens(code.scopes.split(' ')),
            now,
            code.expires_at,
        ])?;
    if inserted == 0 {
        return Err(super::grant_not_active(tx, &code.grant_id)?);
    }
    Ok(())
}

const SELECT: &str =
    "SELECT a.grant_id, a.client_id, a.redirect_uri, a.code_challenge, a.resource, a.scopes,
            a.created_at, a.expires_at, a.used_at, a.revoked_at, g.status
     FROM authorization_codes a JOIN grants g ON g.id = a.grant_id
     WHERE a.code_hash = ?1";

fn from_row(row: &Row<'_>) -> rusqlite::Result<AuthorizationCodeRow> {
    Ok(AuthorizationCodeRow {
        grant_id: row.get(0)?,
        client_id: row.get(1)?,
        redirect_uri: row.get(2)?,
        code_challenge: row.get(3)?,
        resource: row.get(4)?,
        scopes: row.get(5)?,
        created_at: row.get(6)?,
        expires_at: row.get(7)?,
        used_at: row.get(8)?,
        revoked_at: row.get(9)?,
        grant_status: row.get(10)?,
    })
}

pub fn lookup(
    conn: &Connection,
    code_hash: &TokenHash,
) -> Result<Option<AuthorizationCodeRow>, StoreError> {
    Ok(conn
        .prepare_cached(SELECT)?
        .query_row([code_hash.as_slice()], from_row)
        .optional()?)
}

/// Marks the code used if it is usable; classifies it otherwise. A reused code revokes its grant.
pub fn redeem(
    tx: &Transaction,
    code_hash: &TokenHash,
    now: UnixMillis,
) -> Result<Redemption, StoreError> {
    let Some(code) = lookup(tx, code_hash)? else {
        return Ok(Redemption::Unknown);
    };
    if code.used_at.is_some() {
        let outcome = revocation::revoke_grants_in(
            tx,
            std::slice::from_ref(&code.grant_id),
            RevocationReason::AuthorizationCodeReuse,
            now,
        )?;
        return Ok(Redemption::Reused(outcome));
    }
    if code.revoked_at.is_some() || code.grant_status != GrantStatus::Active {
        return Ok(Redemption::Revoked);
    }
    if now >= code.expires_at {
        return Ok(Redemption::Expired);
    }
    let marked = tx
        .prepare_cached(
            "UPDATE authorization_codes SET used_at = ?2 WHERE code_hash = ?1 AND used_at IS NULL",
        )?
        .execute(params![code_hash.as_slice(), now])?;
    assert_eq!(
        marked, 1,
        "the code was read unused in this same write transaction, so exactly one row must change"
    );
    Ok(Redemption::Redeemed(AuthorizationCodeRow {
        used_at: Some(now),
        ..code
    }))
}
