//! The client metadata document URL as Gatehouse's client id at an upstream authorization server
//! (MCP 2025-11-25 Authorization, "Client ID Metadata Documents"; the OAuth Client ID Metadata
//! Document draft), against a loopback authorization server that counts registrations (RFC 7591).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;

use super::*;
use crate::clock::ManualClock;
use crate::crypto::KeyBackend;
use crate::store::ConnectionId;
use crate::store::connections::{
    self, AuthKind, ConnectionSettings, ConnectionStatus, NewConnection, OAuthSettings, Transport,
};

const DOCUMENT_URL: &str = "https://gatehouse.example/oauth/client.json";
const REDIRECT: &str = "http://127.0.0.1:47474/oauth/callback";

struct World {
    _dir: tempfile::TempDir,
    vault: Vault,
    base: String,
    registrations: Arc<AtomicUsize>,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let vault = Vault::open(
        &dir.path().join("data"),
        KeyBackend::File,
        Arc::new(ManualClock::new(1_750_000_000_000)),
    )
    .unwrap_or_else(|e| panic!("vault: {e}"));
    let registrations = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&registrations);
    let app = Router::new().route(
        "/register",
        post(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                (
                    http::StatusCode::CREATED,
                    Json(json!({ "client_id": format!("dcr-{n}") })),
                )
            }
        }),
    );
    let base = crate::net::test_server::serve(app).await;
    World {
        _dir: dir,
        vault,
        base,
        registrations,
    }
}

impl World {
    fn connection(&self, slug: &str) -> ConnectionRow {
        let new = NewConnection {
            id: ConnectionId::new(),
            slug: slug.to_owned(),
            name: slug.to_owned(),
            settings: ConnectionSettings {
                upstream_url: format!("{}/mcp", self.base),
                transport: Transport::StreamableHttp,
                auth_kind: AuthKind::OAuth,
                header_name: None,
                header_value_sealed: None,
                oauth: OAuthSettings::default(),
                stdio: None,
            },
            enabled: true,
            status: ConnectionStatus::NeedsAuth,
        };
        let now = self.vault.store().now();
        self.vault
            .store()
            .write_blocking(|tx| connections::insert(tx, &new, now))
            .unwrap_or_else(|e| panic!("insert: {e}"));
        self.vault
            .store()
            .read_blocking(|c| connections::get(c, &new.id))
            .unwrap_or_else(|e| panic!("get: {e}"))
            .unwrap_or_else(|| panic!("the connection was inserted"))
    }

    fn metadata(&self, supported: bool) -> ServerMetadata {
        ServerMetadata {
            issuer: self.base.clone(),
            authorization_endpoint: format!("{}/authorize", self.base),
            token_endpoint: format!("{}/token", self.base),
            registration_endpoint: Some(format!("{}/register", self.base)),
            client_id_metadata_document_supported: supported,
            ..ServerMetadata::default()
        }
    }

    async fn client(&self, row: &ConnectionRow, supported: bool) -> OAuthClient {
        let policy = Outbound::for_upstream(&row.settings.upstream_url, 64 * 1024);
        ensure_client(
            &self.vault,
            &policy,
            row,
            &self.metadata(supported),
            REDIRECT,
            &[REDIRECT],
        )
        .await
        .unwrap_or_else(|e| panic!("ensure_client: {e}"))
    }

    fn registrations(&self) -> usize {
        self.registrations.load(Ordering::SeqCst)
    }

    fn save_url(&self) {
        crate::admin::set_client_metadata_url(self.vault.data_dir(), Some(DOCUMENT_URL))
            .unwrap_or_else(|e| panic!("saving the URL: {e}"));
    }
}

#[tokio::test]
async fn the_document_url_is_the_client_id_where_the_server_supports_it_and_nothing_registers() {
    let w = world().await;
    w.save_url();
    let row = w.connection("cimd");
    let client = w.client(&row, true).await;
    assert_eq!(client.client_id, DOCUMENT_URL);
    assert_eq!(client.auth, ClientAuth::None, "a public client");
    assert!(client.client_secret.is_none());
    assert_eq!(w.registrations(), 0, "no RFC 7591 request");
    let again = w.client(&row, true).await;
    assert_eq!(
        again.client_id, DOCUMENT_URL,
        "kept for refresh and sign-out"
    );
    assert_eq!(w.registrations(), 0);
}

#[tokio::test]
async fn a_server_that_does_not_advertise_support_gets_a_registration() {
    let w = world().await;
    w.save_url();
    let row = w.connection("plain");
    let client = w.client(&row, false).await;
    assert_eq!(client.client_id, "dcr-1");
    assert_eq!(w.registrations(), 1);
}

#[tokio::test]
async fn without_a_saved_url_gatehouse_registers_even_where_documents_are_supported() {
    let w = world().await;
    let row = w.connection("unset");
    assert_eq!(w.client(&row, true).await.client_id, "dcr-1");
}

#[tokio::test]
async fn a_document_url_the_token_endpoint_refuses_is_set_aside_for_a_registration() {
    let w = world().await;
    w.save_url();
    let row = w.connection("refused");
    let client = w.client(&row, true).await;
    assert_eq!(client.client_id, DOCUMENT_URL);
    let refused = client_refused(&w.vault, &row.id, &client).await;
    assert!(
        matches!(refused, UpstreamError::RegistrationRejected),
        "{refused:?}"
    );
    let next = w.client(&row, true).await;
    assert_eq!(
        next.client_id, "dcr-1",
        "the next sign-in registers instead"
    );
    assert_eq!(w.registrations(), 1);
}
