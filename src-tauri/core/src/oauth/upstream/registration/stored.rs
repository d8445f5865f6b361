//! The registration Gatehouse keeps per connection: a DCR client (RFC 7591), or the person's
//! client metadata document URL, sealed in `upstream_credentials.dcr_client_json_sealed` (AAD
//! `upstream_credentials/dcr_client_json_sealed/<id>`) with the issuer and redirect URIs it was
//! made for. It is reused only with that issuer (MCP 2026-07-28 client registration
//! §Authorization Server Binding) and one of those redirect URIs; after `invalid_client` it is
//! kept, marked refused, and the next sign-in registers once more (see [`super`]).

use super::{ClientOrigin, OAuthClient, StoredRegistration};
use crate::crypto::Aad;
use crate::oauth::upstream::UpstreamError;
use crate::store::ConnectionId;
use crate::store::upstream_credentials::{self, UpstreamCredential};
use crate::vault::Vault;

fn dcr_aad(id: &ConnectionId) -> Aad<'_> {
    Aad {
        table: "upstream_credentials",
        column: "dcr_client_json_sealed",
        row_id: id.as_str(),
    }
}

/// The stored DCR registration of the connection, refused or not.
pub(super) fn stored_registration(
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

/// Seals `stored` into the connection's credential row and returns its client.
pub(super) async fn keep_registration(
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
