//! Tests of the admin use cases against a real vault (store file + key file) in a temporary
//! directory, with a manual clock.
//!
//! This module is the fixture the tests share (the vault, connections, clients, grants and tokens
//! written through it); the tests are in its children, by use case.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use tempfile::TempDir;

use super::*;
use crate::clock::{DAY, HOUR, MINUTE, ManualClock};
use crate::crypto::{Aad, KeyBackend};
use crate::oauth::upstream::UpstreamOAuth;
use crate::store::access_tokens::{self, NewAccessToken};
use crate::store::grants::{self, GrantStatus, NewGrant};
use crate::store::refresh_tokens::{self, NewRefreshToken};
use crate::store::{ClientId, ConnectionId, GrantId, RefreshFamilyId, TokenHash, connections};
use crate::vault::Vault;

mod activity_and_settings;
mod connection_changes;
mod connection_sign_in;
mod grants_and_clients;

const T0: i64 = 1_750_004_800_000;
const PORT: u16 = 47_474;
const SECRET: &str = "sk-canary-6f1d2e9a-never-in-the-database";

struct Fixture {
    dir: TempDir,
    vault: Vault,
    clock: ManualClock,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("a temporary directory must be creatable");
    let clock = ManualClock::new(T0);
    let vault = Vault::open(
        &dir.path().join("data"),
        KeyBackend::File,
        Arc::new(clock.clone()),
    )
    .expect("a fresh vault must open with a key file");
    Fixture { dir, vault, clock }
}

fn header(name: &str, value: &str) -> UpstreamAuth {
    UpstreamAuth::Header {
        name: name.to_owned(),
        value: SecretString::from(value.to_owned()),
    }
}

fn input(slug: &str, url: &str, auth: UpstreamAuth) -> NewConnectionInput {
    NewConnectionInput {
        slug: slug.to_owned(),
        name: format!("Connection {slug}"),
        upstream_url: url.to_owned(),
        auth,
        account_name: None,
    }
}

impl Fixture {
    fn add(&self, slug: &str) -> ConnectionView {
        add_connection(
            &self.vault,
            PORT,
            &input(
                slug,
                "https://upstream.example/mcp",
                header("X-API-Key", SECRET),
            ),
        )
        .expect("a valid connection must be added")
    }

    fn client(&self, name: &str) -> ClientId {
        let view = add_client(&self.vault, name, &["http://127.0.0.1/callback".to_owned()])
            .expect("a valid pre-registered client must be added");
        ClientId::new(view.client_id).expect("a minted client id is never empty")
    }

    fn grant(&self, client: &ClientId, connection: &str) -> GrantId {
        let id = GrantId::new();
        let new = NewGrant {
            id: id.clone(),
            client_id: client.clone(),
            connection_id: ConnectionId::parse(connection).expect("views carry canonical ids"),
            redirect_uri: "http://127.0.0.1/callback".into(),
            scopes: "mcp:access".into(),
            tools: Some(vec!["echo".into()]),
        };
        let store = self.vault.store();
        let now = store.now();
        store
            .write_blocking(|tx| grants::create_pending(tx, &new, now))
            .expect("a pending grant for a known client and connection must be created");
        store
            .activate_grant(&id)
            .expect("a fresh pending grant must activate");
        id
    }

    fn access_token(&self, grant: &GrantId, client: &ClientId, tag: u8, ttl: i64) {
        let store = self.vault.store();
        let now = store.now();
        let token = NewAccessToken {
            token_hash: [tag; 32],
            grant_id: grant.clone(),
            client_id: client.clone(),
            resource: "http://127.0.0.1:47474/mcp/x".into(),
            scopes: "mcp:access".into(),
            expires_at: now + ttl,
        };
        store
            .write_blocking(|tx| access_tokens::insert(tx, &token, now))
            .expect("an access token for an active grant must be stored");
    }

    fn refresh_token(&self, grant: &GrantId, client: &ClientId, tag: u8, ttl: i64) {
        let store = self.vault.store();
        let now = store.now();
        let hash: TokenHash = [tag; 32];
        let token = NewRefreshToken {
            token_hash: hash,
            grant_id: grant.clone(),
            family_id: RefreshFamilyId::new(),
            parent_hash: None,
            client_id: client.clone(),
            scopes: "mcp:access".into(),
            expires_at: now + ttl,
        };
        store
            .write_blocking(|tx| refresh_tokens::insert(tx, &token, now))
            .expect("a refresh token for an active grant must be stored");
    }

    fn health(&self, grant: &GrantId) -> TokenHealth {
        list_grants(&self.vault, true)
            .expect("listing grants must work")
            .into_iter()
            .find(|g| g.id == grant.as_str())
            .expect("the grant must be listed")
            .token_health
    }

    fn database_bytes(&self) -> Vec<u8> {
        let db = crate::config::database_path(&self.dir.path().join("data"));
        let mut bytes = std::fs::read(&db).expect("the database file must be readable");
        let wal = db.with_extension("sqlite3-wal");
        if let Ok(more) = std::fs::read(&wal) {
            bytes.extend(more);
        }
        bytes
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}
