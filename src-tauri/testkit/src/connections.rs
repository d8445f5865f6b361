//! Connections written through the store's own insert: one that carries a sealed header
//! credential (an API-key upstream), one that signs in with OAuth (an upstream whose
//! authorization server Gatehouse discovers) and one that sends no credential.

use gatehouse_core::crypto::Aad;
use gatehouse_core::store::ConnectionId;
use gatehouse_core::store::connections::{
    self, AuthKind, ConnectionSettings, ConnectionStatus, NewConnection, OAuthSettings,
    OAuthSource, Transport,
};
use gatehouse_core::vault::Vault;

/// The header a header connection sends its credential in.
pub const API_KEY_HEADER: &str = "X-Api-Key";

/// A connected Streamable HTTP connection named "Connection `slug`" that sends `secret`, sealed in
/// the store, as [`API_KEY_HEADER`] to `url`.
pub fn add_header_connection(vault: &Vault, slug: &str, url: &str, secret: &str) -> ConnectionId {
    add_header_connection_in(vault, slug, url, API_KEY_HEADER, secret)
}

/// [`add_header_connection`] with the credential in `header` (an upstream's own header name).
pub fn add_header_connection_in(
    vault: &Vault,
    slug: &str,
    url: &str,
    header: &str,
    secret: &str,
) -> ConnectionId {
    let id = ConnectionId::new();
    let sealed = vault.cipher().seal_str(
        secret,
        &Aad {
            table: "connections",
            column: "header_value_sealed",
            row_id: id.as_str(),
        },
    );
    let settings = ConnectionSettings {
        upstream_url: url.into(),
        transport: Transport::StreamableHttp,
        auth_kind: AuthKind::Header,
        header_name: Some(header.into()),
        header_value_sealed: Some(sealed),
        oauth: OAuthSettings::default(),
        stdio: None,
    };
    let name = format!("Connection {slug}");
    insert(vault, id, slug, name, settings, ConnectionStatus::Connected)
}

/// A Streamable HTTP connection named "Upstream `slug`" to `url` that needs an OAuth sign-in, its
/// authorization server to be discovered.
pub fn add_oauth_connection(vault: &Vault, slug: &str, url: &str) -> ConnectionId {
    let settings = ConnectionSettings {
        upstream_url: url.into(),
        transport: Transport::StreamableHttp,
        auth_kind: AuthKind::OAuth,
        header_name: None,
        header_value_sealed: None,
        oauth: OAuthSettings {
            source: Some(OAuthSource::Discovered),
            ..OAuthSettings::default()
        },
        stdio: None,
    };
    let name = format!("Upstream {slug}");
    let status = ConnectionStatus::NeedsAuth;
    insert(vault, ConnectionId::new(), slug, name, settings, status)
}

/// A connected Streamable HTTP connection named "Connection `slug`" to `url` that sends no
/// credential.
pub fn add_open_connection(vault: &Vault, slug: &str, url: &str) -> ConnectionId {
    let settings = ConnectionSettings {
        upstream_url: url.into(),
        transport: Transport::StreamableHttp,
        auth_kind: AuthKind::None,
        header_name: None,
        header_value_sealed: None,
        oauth: OAuthSettings::default(),
        stdio: None,
    };
    let name = format!("Connection {slug}");
    let status = ConnectionStatus::Connected;
    insert(vault, ConnectionId::new(), slug, name, settings, status)
}

fn insert(
    vault: &Vault,
    id: ConnectionId,
    slug: &str,
    name: String,
    settings: ConnectionSettings,
    status: ConnectionStatus,
) -> ConnectionId {
    let new = NewConnection {
        id: id.clone(),
        slug: slug.into(),
        name,
        settings,
        enabled: true,
        status,
    };
    let store = vault.store();
    let now = store.now();
    store
        .write_blocking(|tx| connections::insert(tx, &new, now))
        .unwrap_or_else(|e| panic!("connection {slug}: {e}"));
    id
}

/// The stored row of a connection.
pub fn row(vault: &Vault, id: &ConnectionId) -> connections::ConnectionRow {
    let id = id.clone();
    vault
        .store()
        .read_blocking(move |c| connections::get(c, &id))
        .unwrap_or_else(|e| panic!("reading a connection: {e}"))
        .unwrap_or_else(|| panic!("the connection is in the store"))
}
