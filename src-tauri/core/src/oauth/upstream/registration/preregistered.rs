//! A pre-registered client: the client id (and secret, sealed with AAD
//! `connections/oauth_client_secret_sealed/<id>`) the person entered for a connection (MCP
//! 2026-07-28 client registration §Pre-registration). It is bound to the issuer it was entered
//! for and never sent to another authorization server (§Authorization Server Binding); it
//! authenticates at the token endpoint as its template says, else as the metadata's
//! `token_endpoint_auth_methods_supported` allows (RFC 8414 §2).

use super::{ClientOrigin, OAuthClient, auth_of, templates};
use crate::crypto::Aad;
use crate::oauth::upstream::UpstreamError;
use crate::oauth::upstream::discovery::ServerMetadata;
use crate::store::ConnectionId;
use crate::store::connections::ConnectionRow;
use crate::vault::Vault;

pub(crate) fn client_secret_aad(id: &ConnectionId) -> Aad<'_> {
    Aad {
        table: "connections",
        column: "oauth_client_secret_sealed",
        row_id: id.as_str(),
    }
}

/// The pre-registered client of the connection, if the user entered one.
pub fn preregistered(
    vault: &Vault,
    row: &ConnectionRow,
    metadata: &ServerMetadata,
) -> Result<Option<OAuthClient>, UpstreamError> {
    let o = &row.settings.oauth;
    let Some(client_id) = o.client_id.clone() else {
        return Ok(None);
    };
    if let Some(bound) = &o.issuer
        && *bound != metadata.issuer
    {
        return Err(UpstreamError::Config(format!(
            "the client id entered for this connection belongs to {bound}, but the server now uses \
             {}; Gatehouse will not send it there. Edit the connection.",
            metadata.issuer
        )));
    }
    let client_secret = o
        .client_secret_sealed
        .as_deref()
        .map(|sealed| {
            vault
                .cipher()
                .open_string(sealed, &client_secret_aad(&row.id))
        })
        .transpose()?;
    let template_method = o
        .template
        .as_deref()
        .and_then(|t| templates().get(t).cloned())
        .and_then(|t| t.token_endpoint_auth_method);
    let auth = auth_of(
        template_method.as_deref(),
        client_secret.is_some(),
        &metadata.token_endpoint_auth_methods,
    );
    Ok(Some(OAuthClient {
        client_id,
        client_secret,
        auth,
        origin: ClientOrigin::PreRegistered,
    }))
}
