//! Refresh tokens: rotated on every use and tracked by family, stored only as `token_hash`.
//!
//! [`rotate`] marks the presented token used (`used_at`, "rotated away") and stores its child in the
//! same family, with `parent_hash` pointing back. A token that was already rotated away and is
//! presented again means two parties hold the chain: the grant is revoked through the one revocation
//! path in the same transaction (OAuth 2.1 §4.3.1, refresh token rotation).
//!
//! Rotated-away tokens are kept until they expire (plus the retention period) precisely so that such
//! a reuse is still recognised.
//!
//! **The caller must commit** after a [`Rotation::Reused`], as for codes.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::grants::GrantStatus;
use super::ids::{ClientId, GrantId, RefreshFamilyId};
use super::revocation::{self, RevocationOutcome, RevocationReason};
use super::text::canonical_tokens;
use super::{StoreError, TokenHash};
use crate::clock::UnixMillis;

/// A refresh token to store (the first of a family, or a child via [`rotate`]).
#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    pub token_hash: TokenHash,
    pub grant_id: GrantId,
    pub family_id: RefreshFamilyId,
    pub parent_hash: Option<TokenHash>,
    pub client_id: ClientId,
    pub scopes: String,
    pub expires_at: UnixMillis,
}

/// A stored refresh token with its grant's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRow {
    pub grant_id: GrantId,
    pub family_id: RefreshFamilyId,
    pub parent_hash: Option<TokenHash>,
    pub client_id: ClientId,
    pub scopes: String,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub used_at: Option<UnixMillis>,
    pub revoked_at: Option<UnixMillis>,
    pub grant_status: GrantStatus,
}

impl RefreshTokenRow {
    pub fn is_usable(&self, now: UnixMillis) -> bool {
        self.used_at.is_none()
            && self.revoked_at.is_none()
            && now < self.expires_at
            && self.grant_status == GrantStatus::Active
    }
}

/// What [`rotate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The old token is rotated away and the new one stored; the caller mints an access token.
    Rotated(RefreshTokenRow),
    /// The token had been rotated away before: the grant was revoked just now (or already was).
    Reused(RevocationOutcome),
    /// The token belongs to another client; nothing changed.
    WrongClient,
    Expired,
    Revoked,
    Unknown,
}

/// Stores a refresh token for an **active** grant.
pub fn insert(
    tx: &Transaction,
    token: &NewRefreshToken,
    now: UnixMillis,
) -> Result<(), StoreError> {
    let inserted = tx
        .prepare_cached(
            "INSERT INTO refresh_tokens (token_hash, grant_id, family_id, parent_hash, client_id, scopes,
                                         created_at, expires_at)
             SELECT ?1, g.id, ?3, ?4, ?5, ?6, ?7, ?8 FROM grants g WHERE g.id = ?2 AND g.status = 'active'",
        )?
        .execute(params![
            token.token_hash.as_slice(),
            token.grant_id,
            token.family_id,
            token.parent_hash.as_ref().map(|h| h.as_slice()),
            token.client_id,
            canonical_tokens(token.scopes.split(' ')),
            now,
            token.expires_at,
        ])?;
    if inserted == 0 {
        return Err(super::grant_not_active(tx, &token.grant_id)?);
    }
    Ok(())
}

pub fn lookup(
    conn: &Connection,
    token_hash: &TokenHash,
) -> Result<Option<RefreshTokenRow>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT r.grant_id, r.family_id, r.parent_hash, r.client_id, r.scopes, r.created_at, r.expires_at,
                    r.used_at, r.revoked_at, g.status
             FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id
             WHERE r.token_hash = ?1",
        )?
        .query_row([token_hash.as_slice()], |row| {
            Ok(RefreshTokenRow {
                grant_id: row.get(0)?,
                family_id: row.get(1)?,
                parent_hash: row.get(2)?,
                client_id: row.get(3)?,
                scopes: row.get(4)?,
                created_at: row.get(5)?,
                expires_at: row.get(6)?,
                used_at: row.get(7)?,
                revoked_at: row.get(8)?,
                grant_status: row.get(9)?,
            })
        })
        .optional()?)
}

/// Rotates `old_hash` (presented by `client_id`) into `new_hash`, in the same family and with the
/// same scopes. See the module docs for reuse.
pub fn rotate(
    tx: &Transaction,
    old_hash: &TokenHash,
    client_id: &ClientId,
    new_hash: &TokenHash,
    new_expires_at: UnixMillis,
    now: UnixMillis,
) -> Result<Rotation, StoreError> {
    let Some(old) = lookup(tx, old_hash)? else {
        return Ok(Rotation::Unknown);
    };
    if &old.client_id != client_id {
        return Ok(Rotation::WrongClient);
    }
    if old.used_at.is_some() {
        let outcome = revocation::revoke_grants_in(
            tx,
            std::slice::from_ref(&old.grant_id),
            RevocationReason::RefreshTokenReuse,
            now,
        )?;
        return Ok(Rotation::Reused(outcome));
    }
    if old.revoked_at.is_some() || old.grant_status != GrantStatus::Active {
        return Ok(Rotation::Revoked);
    }
    if now >= old.expires_at {
        return Ok(Rotation::Expired);
    }
    let marked = tx
        .prepare_cached(
            "UPDATE refresh_tokens SET used_at = ?2 WHERE token_hash = ?1 AND used_at IS NULL",
        )?
        .execute(params![old_hash.as_slice(), now])?;
    assert_eq!(
        marked, 1,
        "the token was read unused in this same write transaction, so exactly one row must change"
    );
    let child = NewRefreshToken {
        token_hash: *new_hash,
        grant_id: old.grant_id.clone(),
        family_id: old.family_id.clone(),
        parent_hash: Some(*old_hash),
        client_id: old.client_id.clone(),
        scopes: old.scopes.clone(),
        expires_at: new_expires_at,
    };
    insert(tx, &child, now)?;
    Ok(Rotation::Rotated(RefreshTokenRow {
        parent_hash: Some(*old_hash),
        created_at: now,
        expires_at: new_expires_at,
        used_at: None,
        revoked_at: None,
        ..old
    }))
}

/// Revokes one token (RFC 7009 on a refresh token). Returns whether it was live.
pub fn revoke(
    tx: &Transaction,
    token_hash: &TokenHash,
    now: UnixMillis,
) -> Result<bool, StoreError> {
    Ok(tx
        .prepare_cached(
            "UPDATE refresh_tokens SET revoked_at = ?2 WHERE token_hash = ?1 AND revoked_at IS NULL",
        )?
        .execute(params![token_hash.as_slice(), now])?
        > 0)
}
