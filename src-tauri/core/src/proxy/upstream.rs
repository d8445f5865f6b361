//! One connection's upstream as the proxy reaches it: its URL, its era and the credential injected
//! into every request (a sealed header, or an OAuth bearer from the token source, RFC 6750 §2.1).
//! The credential is never taken from, or handed to, the client (no token passthrough).

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use axum::response::Response;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use secrecy::{ExposeSecret, SecretString};

use super::elicitation::{self, Asker};
use super::{Proxy, jsonrpc};
use crate::crypto::Aad;
use crate::oauth::upstream::UpstreamError;
use crate::oauth::upstream::refresh::client_message;
use crate::stdio::StdioHost;
use crate::store::ConnectionId;
use crate::store::access_tokens::AccessTokenRow;
use crate::store::connections::{self, AuthKind, ConnectionRow, ConnectionStatus, Transport};
use crate::vault::Vault;

/// How to reach one connection's upstream: its URL and the credential to inject.
pub struct Upstream {
    pub(super) url: reqwest::Url,
    pub(super) connection_id: ConnectionId,
    pub(super) connection_name: String,
    pub(super) connection_slug: String,
    pub(super) credential: Option<(HeaderName, HeaderValue)>,
    pub(super) config_version: i64,
    pub(super) auth_kind: AuthKind,
}

/// Upstream targets by connection, valid for one `config_version` (a material edit bumps it, so a
/// changed URL or secret is picked up on the next request). Opening the sealed secret once per
/// configuration keeps AES-GCM and a second store query off the hot path.
#[derive(Default)]
pub struct Upstreams {
    map: RwLock<HashMap<ConnectionId, Arc<Upstream>>>,
}

/// Opens the connection's header secret (sealed with AAD connections/header_value_sealed/<id>).
pub(super) fn credential_of(
    vault: &Vault,
    row: &ConnectionRow,
) -> Result<Option<(HeaderName, HeaderValue)>, String> {
    match row.settings.auth_kind {
        AuthKind::None => Ok(None),
        AuthKind::Header => {
            let (Some(name), Some(sealed)) = (
                row.settings.header_name.as_deref(),
                row.settings.header_value_sealed.as_deref(),
            ) else {
                return Err("the connection's header credential is incomplete: open Gatehouse and check the connection".into());
            };
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                "the connection's header name is not a valid HTTP header name".to_owned()
            })?;
            let secret = vault
                .cipher()
                .open_string(
                    sealed,
                    &Aad {
                        table: "connections",
                        column: "header_value_sealed",
                        row_id: row.id.as_str(),
                    },
                )
                .map_err(|err| {
                    tracing::error!(connection = %row.id, error = %err, "cannot open the header secret");
                    "Gatehouse cannot open the connection's stored credential: open Gatehouse and re-enter it".to_owned()
                })?;
            let mut value = HeaderValue::from_str(secret.expose_secret()).map_err(|_| {
                "the connection's header value is not a valid HTTP header value".to_owned()
            })?;
            value.set_sensitive(true);
            Ok(Some((name, value)))
        }
        // The upstream OAuth token is fetched per request (it is refreshed): see `bearer_for`.
        AuthKind::OAuth => Ok(None),
    }
}

/// The upstream target of a connection row (used by the catalog as well). A stdio connection's
/// target is the [`StdioHost`]'s private endpoint for it, with the host's secret as credential.
pub fn upstream_of(
    vault: &Vault,
    stdio: Option<&Arc<StdioHost>>,
    row: &ConnectionRow,
) -> Result<Upstream, String> {
    let (url, credential) = if row.settings.transport == Transport::Stdio {
        let host = stdio.ok_or_else(|| {
            "a local stdio server is only reachable through the running gateway".to_owned()
        })?;
        let (url, credential) = host.endpoint(vault, row)?;
        (url, Some(credential))
    } else {
        let url = reqwest::Url::parse(&row.settings.upstream_url).map_err(|_| {
            "the connection's upstream URL is not valid: open Gatehouse and check the connection"
                .to_owned()
        })?;
        (url, credential_of(vault, row)?)
    };
    Ok(Upstream {
        url,
        connection_id: row.id.clone(),
        connection_name: row.name.clone(),
        connection_slug: row.slug.clone(),
        credential,
        config_version: row.config_version,
        auth_kind: row.settings.auth_kind,
    })
}

impl Upstream {
    /// A request to the upstream URL with the credential injected.
    pub fn request(
        &self,
        http: &reqwest::Client,
        method: Method,
        mut headers: HeaderMap,
    ) -> reqwest::RequestBuilder {
        if let Some((name, value)) = &self.credential {
            headers.insert(name.clone(), value.clone());
        }
        http.request(method, self.url.clone()).headers(headers)
    }
}

/// The upstream OAuth access token for an OAuth connection (refreshed as needed), or the JSON-RPC
/// error telling the user to sign in again (never HTTP 401 to the client: that would restart its
/// OAuth with Gatehouse).
pub(super) async fn bearer_for(
    proxy: &Proxy,
    upstream: &Upstream,
    token: &AccessTokenRow,
    asker: Asker<'_>,
) -> Result<Option<SecretString>, Response> {
    if upstream.auth_kind != AuthKind::OAuth {
        return Ok(None);
    }
    proxy
        .oauth
        .tokens()
        .access_token_at(
            &upstream.connection_id,
            upstream.config_version,
            Some(token.connection_updated_at),
        )
        .await
        .map(Some)
        .map_err(|err| {
            tracing::info!(connection = %upstream.connection_id, error = %err, "no upstream token");
            let message = client_message(&upstream.connection_name, &err);
            match err {
                UpstreamError::NotSignedIn | UpstreamError::ReauthRequired => {
                    elicitation::sign_in_first(
                        asker,
                        &proxy.local.base_url(),
                        &upstream.connection_slug,
                        &message,
                    )
                }
                _ => jsonrpc::answer_error(asker.id, jsonrpc::UPSTREAM_ERROR, &message),
            }
        })
}

pub(super) fn set_bearer(headers: &mut HeaderMap, token: &SecretString) {
    if let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())) {
        value.set_sensitive(true);
        headers.insert(header::AUTHORIZATION, value);
    }
}

impl Proxy {
    pub(super) async fn upstream(&self, token: &AccessTokenRow) -> Result<Arc<Upstream>, String> {
        self.upstream_of_connection(&token.connection_id, Some(token.connection_config_version))
            .await
    }

    /// The connection's upstream: the cached one if its configuration is `config_version` (any,
    /// if `None`), else read from the store.
    pub(super) async fn upstream_of_connection(
        &self,
        id: &ConnectionId,
        config_version: Option<i64>,
    ) -> Result<Arc<Upstream>, String> {
        if let Some(hit) = self
            .upstreams
            .map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .filter(|u| config_version.is_none_or(|v| u.config_version == v))
        {
            return Ok(hit.clone());
        }
        let wanted = id.clone();
        let row = self
            .vault
            .store()
            .read(move |conn| connections::get(conn, &wanted))
            .await
            .map_err(|err| {
                tracing::error!(error = %err, "cannot read the connection");
                "Gatehouse could not read the connection".to_owned()
            })?
            .ok_or_else(|| "the connection no longer exists".to_owned())?;
        let upstream = Arc::new(upstream_of(&self.vault, Some(&self.stdio), &row)?);
        self.upstreams
            .map
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.clone(), upstream.clone());
        Ok(upstream)
    }

    /// An upstream Gatehouse reached without credentials now asks for OAuth (a 401 naming protected
    /// resource metadata, RFC 9728 §5.1): the connection becomes an OAuth connection that needs a
    /// sign-in. A material change, so its grants end: they were approved for an open server and
    /// must not silently act as the account that signs in.
    pub(super) async fn became_oauth(&self, connection_id: &ConnectionId) {
        let store = self.vault.store().clone();
        let id = connection_id.clone();
        let now = store.now();
        let changed = store
            .write_with_events(move |tx| {
                let Some(row) = connections::get(tx, &id)? else {
                    return Ok(((), Vec::new()));
                };
                if row.settings.auth_kind != AuthKind::None {
                    return Ok(((), Vec::new()));
                }
                let mut settings = row.settings;
                settings.auth_kind = AuthKind::OAuth;
                settings.oauth.source = Some(connections::OAuthSource::Discovered);
                let update = connections::update(
                    tx,
                    &id,
                    &connections::ConnectionEdit {
                        slug: None,
                        name: None,
                        settings: Some(settings),
                    },
                    now,
                )?;
                connections::set_status(
                    tx,
                    &id,
                    ConnectionStatus::NeedsAuth,
                    Some("The server now asks for OAuth sign-in: Sign in…"),
                    now,
                )?;
                let events = update
                    .revocation
                    .and_then(|r| r.event())
                    .into_iter()
                    .chain(std::iter::once(
                        crate::store::StoreEvent::ConnectionStatusChanged {
                            connection_id: id,
                            status: ConnectionStatus::NeedsAuth,
                        },
                    ))
                    .collect();
                Ok(((), events))
            })
            .await;
        if let Err(err) = changed {
            tracing::warn!(error = %err, "cannot turn the connection into an OAuth connection");
        }
        self.upstreams
            .map
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(connection_id);
    }

    /// Records an upstream refusal of the credential (off the request path).
    pub(super) fn mark_rejected(&self, connection_id: &ConnectionId, status: StatusCode) {
        let store = self.vault.store().clone();
        let id = connection_id.clone();
        let detail = format!(
            "the upstream answered HTTP {} to Gatehouse's credentials",
            status.as_u16()
        );
        tokio::spawn(async move {
            let now = store.now();
            if let Err(err) = store
                .write(move |tx| {
                    connections::set_status(tx, &id, ConnectionStatus::Error, Some(&detail), now)
                })
                .await
            {
                tracing::warn!(error = %err, "cannot record the connection's upstream error");
            }
        });
    }
}
