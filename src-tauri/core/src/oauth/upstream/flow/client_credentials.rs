//! Machine-to-machine connections: the client_credentials grant (RFC 6749 §4.4) with a
//! pre-registered client id and secret, sending the RFC 8707 `resource`; the connection is then
//! saved as signed in, labelled with its client id.

use crate::oauth::upstream::registration;
use crate::oauth::upstream::token_endpoint::{Grant, token_request};
use crate::oauth::upstream::{TokenResponse, UpstreamError, UpstreamOAuth, read_credential};
use crate::store::ConnectionId;
use crate::store::connections::ConnectionRow;

impl UpstreamOAuth {
    /// Connects a machine-to-machine connection with the client_credentials grant (RFC 6749 §4.4).
    pub async fn connect_client_credentials(
        &self,
        connection_id: &ConnectionId,
    ) -> Result<(), UpstreamError> {
        let row = self.connection(connection_id).await?;
        let tokens = self.client_credentials_tokens(&row).await?;
        let endpoints = self.endpoints(&row).await?;
        let previous = read_credential(&self.vault, &row.id).await?;
        let label = row
            .settings
            .oauth
            .client_id
            .clone()
            .map(|c| format!("client {c}"));
        self.save_signed_in(
            &row,
            previous,
            &endpoints.metadata.issuer,
            &tokens,
            label,
            "client_credentials",
        )
        .await
    }

    pub(crate) async fn client_credentials_tokens(
        &self,
        row: &ConnectionRow,
    ) -> Result<TokenResponse, UpstreamError> {
        let endpoints = self.endpoints(row).await?;
        let client = registration::preregistered(&self.vault, row, &endpoints.metadata)?
            .filter(|c| c.client_secret.is_some())
            .ok_or_else(|| {
                UpstreamError::Config(
                    "client credentials need a pre-registered client id and secret".into(),
                )
            })?;
        let grant = Grant::ClientCredentials {
            scope: endpoints.scope.as_deref(),
            resource: &endpoints.resource,
        };
        match token_request(
            &Self::policy(row),
            &endpoints.metadata.token_endpoint,
            &client,
            grant,
        )
        .await
        {
            Ok(tokens) => Ok(tokens),
            Err(crate::oauth::upstream::TokenFailure::Refused { error, .. })
                if error == "invalid_client" =>
            {
                Err(UpstreamError::ClientRejected)
            }
            Err(e) => Err(e.into()),
        }
    }
}
