//! Signing a connection out: RFC 7009 token revocation at the upstream's `revocation_endpoint`
//! (best effort; the result goes to the audit log), then the local tokens are deleted. The
//! registration is kept for the next sign-in.

use secrecy::ExposeSecret;

use super::registration::{self};
use super::token_endpoint::{RevokedKind, revoke};
use super::{UpstreamError, UpstreamOAuth, read_credential};
use crate::store::ConnectionId;
use crate::store::audit::{self, AuditKind, AuditSubject};
use crate::store::connections::{self, ConnectionRow, ConnectionStatus};
use crate::store::upstream_credentials;

use super::flow::status_event;

/// What a sign-out did at the upstream (RFC 7009, best effort).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeResult {
    Revoked,
    Failed,
    NotSupported,
    NothingToRevoke,
}

impl RevokeResult {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Revoked => "revoked",
            Self::Failed => "revoke_failed",
            Self::NotSupported => "not_supported",
            Self::NothingToRevoke => "nothing_to_revoke",
        }
    }
}

impl UpstreamOAuth {
    /// Signs a connection out: revokes its tokens at the upstream (RFC 7009, best effort; the
    /// result goes to the audit log), then deletes them locally. The DCR client is kept for the
    /// next sign-in. The connection shows "Sign-in needed".
    pub async fn sign_out(
        &self,
        connection_id: &ConnectionId,
    ) -> Result<RevokeResult, UpstreamError> {
        let row = self.connection(connection_id).await?;
        let credential = read_credential(&self.vault, &row.id).await?;
        let result = match &credential {
            Some(c) if c.access_token_sealed.is_some() || c.refresh_token_sealed.is_some() => {
                self.revoke(&row, c).await
            }
            _ => RevokeResult::NothingToRevoke,
        };
        let id = row.id.clone();
        let now = self.vault.store().now();
        self.vault
            .store()
            .write_with_events(move |tx| {
                if let Some(mut c) = upstream_credentials::get(tx, &id)? {
                    c.access_token_sealed = None;
                    c.refresh_token_sealed = None;
                    c.expires_at = None;
                    c.scopes = None;
                    upstream_credentials::put(tx, &c, now)?;
                }
                connections::set_status(
                    tx,
                    &id,
                    ConnectionStatus::NeedsAuth,
                    Some("Signed out"),
                    now,
                )?;
                // Its grants were approved for this account: remember it through the sign-out.
                connections::set_last_account(tx, &id, None)?;
                connections::set_account_label(tx, &id, None, now)?;
                audit::append(
                    tx,
                    now,
                    AuditKind::UpstreamSignedOut,
                    &AuditSubject {
                        connection_id: Some(&id),
                        reason: Some(result.as_str()),
                        ..AuditSubject::default()
                    },
                )?;
                Ok(((), vec![status_event(&id, ConnectionStatus::NeedsAuth)]))
            })
            .await?;
        self.tokens().forget(&row.id);
        Ok(result)
    }

    async fn revoke(
        &self,
        row: &ConnectionRow,
        credential: &upstream_credentials::UpstreamCredential,
    ) -> RevokeResult {
        let Ok(endpoints) = self.endpoints(row).await else {
            return RevokeResult::Failed;
        };
        let Some(endpoint) = endpoints.metadata.revocation_endpoint.clone() else {
            return RevokeResult::NotSupported;
        };
        let issuer = credential.issuer.clone().unwrap_or_default();
        let client = match registration::preregistered(&self.vault, row, &endpoints.metadata) {
            Ok(Some(c)) => Some(c),
            _ => registration::stored_dcr(&self.vault, Some(credential), &issuer, None)
                .ok()
                .flatten(),
        };
        let Some(client) = client else {
            return RevokeResult::Failed;
        };
        let policy = Self::policy(row);
        let cipher = self.vault.cipher();
        let mut all_ok = true;
        for (sealed, aad, kind) in [
            (
                &credential.refresh_token_sealed,
                super::refresh_aad(&row.id),
                RevokedKind::RefreshToken,
            ),
            (
                &credential.access_token_sealed,
                super::access_aad(&row.id),
                RevokedKind::AccessToken,
            ),
        ] {
            let Some(sealed) = sealed else { continue };
            let Ok(token) = cipher.open_string(sealed, &aad) else {
                all_ok = false;
                continue;
            };
            all_ok &= revoke(&policy, &endpoint, &client, token.expose_secret(), kind).await;
        }
        if all_ok {
            RevokeResult::Revoked
        } else {
            RevokeResult::Failed
        }
    }
}
