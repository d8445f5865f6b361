//! What the store holds for the benchmark, written through the store's own functions from this
//! process (another handle on the SQLite file `gatehoused` serves): one header-credential
//! connection to the upstream, one client, active grants, and access tokens hashed as the product
//! hashes them (`TokenHash::of`, SHA-256 of the full text).
//!
//! Token texts have the product's shape (`gh_at_` and 43 base64url characters) but are made from a
//! label and a number, so a million of them need not be kept in memory to be sent.

use std::time::{Duration, Instant};

use gatehouse_core::crypto::{Aad, TokenHash};
use gatehouse_core::store::access_tokens::{self, NewAccessToken};
use gatehouse_core::store::clients::{ClientRegistration, RegistrationSource};
use gatehouse_core::store::connections::{
    self, AuthKind, ConnectionSettings, ConnectionStatus, NewConnection, OAuthSettings, Transport,
};
use gatehouse_core::store::grants::{self, NewGrant};
use gatehouse_core::store::{ClientId, ConnectionId, GrantId};
use gatehouse_core::vault::Vault;
use serde_json::json;

pub const SLUG: &str = "bench";
const TOKEN_LIFETIME_MS: i64 = 24 * 3_600_000;

/// An access token text: `gh_at_` + `label` + `n`, zero-padded to 43 characters.
pub fn token_text(label: &str, n: u64) -> String {
    let width = 43 - label.len();
    format!("gh_at_{label}{n:0width$}")
}

/// The label of the bulk tokens (the 1,000,000 of the token-check section).
pub const BULK: &str = "bulk";

/// A grant and one access token for it.
#[derive(Debug, Clone)]
pub struct Access {
    pub grant: GrantId,
    pub token: String,
}

pub struct World {
    pub vault: Vault,
    client: ClientId,
    resource: String,
    /// The grant of the latency and stream sections, with `few` tokens (`few[0]` is the main one).
    pub grant: GrantId,
    pub few: Vec<String>,
    /// One grant each, for the revocation section.
    pub revocable: Vec<Access>,
}

impl World {
    /// Writes the connection to `upstream_url`, the client, the grants and their tokens, for a
    /// gateway at `base_url`.
    pub fn create(
        vault: &Vault,
        upstream_url: &str,
        base_url: &str,
        few: u64,
        revocable: u64,
    ) -> anyhow::Result<World> {
        let store = vault.store();
        let connection = ConnectionId::new();
        let sealed = vault.cipher().seal_str(
            "bench-secret",
            &Aad {
                table: "connections",
                column: "header_value_sealed",
                row_id: connection.as_str(),
            },
        );
        let new = NewConnection {
            id: connection.clone(),
            slug: SLUG.into(),
            name: "Bench".into(),
            settings: ConnectionSettings {
                upstream_url: upstream_url.into(),
                transport: Transport::StreamableHttp,
                auth_kind: AuthKind::Header,
                header_name: Some("X-Api-Key".into()),
                header_value_sealed: Some(sealed),
                oauth: OAuthSettings::default(),
                stdio: None,
            },
            enabled: true,
            status: ConnectionStatus::Connected,
        };
        let now = store.now();
        store.write_blocking(|tx| connections::insert(tx, &new, now))?;
        let (grant, client) = new_grant(vault, &connection)?;
        let mut world = World {
            vault: vault.clone(),
            client,
            resource: format!("{base_url}/mcp/{SLUG}"),
            grant,
            few: Vec::new(),
            revocable: Vec::new(),
        };
        for n in 0..few.max(1) {
            let token = token_text("few", n);
            world.insert_token(&world.grant, &world.client, &token)?;
            world.few.push(token);
        }
        for n in 0..revocable {
            let (grant, client) = new_grant(vault, &connection)?;
            let token = token_text("rev", n);
            world.insert_token(&grant, &client, &token)?;
            world.revocable.push(Access { grant, token });
        }
        Ok(world)
    }

    fn row(&self, grant: &GrantId, client: &ClientId, token: &str, now: i64) -> NewAccessToken {
        NewAccessToken {
            token_hash: *TokenHash::of(token).as_bytes(),
            grant_id: grant.clone(),
            client_id: client.clone(),
            resource: self.resource.clone(),
            scopes: "mcp:access".into(),
            expires_at: now + TOKEN_LIFETIME_MS,
        }
    }

    fn insert_token(&self, grant: &GrantId, client: &ClientId, token: &str) -> anyhow::Result<()> {
        let store = self.vault.store();
        let now = store.now();
        let row = self.row(grant, client, token, now);
        store.write_blocking(|tx| access_tokens::insert(tx, &row, now))?;
        Ok(())
    }

    /// Inserts `count` bulk tokens for the main grant through `access_tokens::insert`, `batch` rows
    /// per transaction, off the async executor. Returns the time taken.
    pub async fn insert_bulk(&self, count: u64, batch: u64) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let mut start = 0;
        while start < count {
            let end = (start + batch).min(count);
            let store = self.vault.store().clone();
            let now = store.now();
            let rows: Vec<NewAccessToken> = (start..end)
                .map(|n| self.row(&self.grant, &self.client, &token_text(BULK, n), now))
                .collect();
            store
                .write(move |tx| {
                    for row in &rows {
                        access_tokens::insert(tx, row, now)?;
                    }
                    Ok(())
                })
                .await?;
            start = end;
        }
        Ok(started.elapsed())
    }
}

/// A client of its own (as each MCP client app registers one) with an active grant on
/// `connection`, made as consent makes one: pending, then activated.
fn new_grant(vault: &Vault, connection: &ConnectionId) -> anyhow::Result<(GrantId, ClientId)> {
    let store = vault.store();
    let client = ClientId::generate();
    store.upsert_client(&ClientRegistration {
        client_id: client.clone(),
        client_name: Some("bench".into()),
        client_uri: None,
        software_id: None,
        software_version: None,
        redirect_uris: vec!["http://127.0.0.1/callback".into()],
        scope: Some("mcp:access".into()),
        grant_types: vec!["authorization_code".into()],
        response_types: vec!["code".into()],
        token_endpoint_auth_method: "none".into(),
        application_type: Some("native".into()),
        registration_source: RegistrationSource::Preregistered,
        metadata: json!({}),
    })?;
    let grant = GrantId::new();
    let now = store.now();
    store.write_blocking(|tx| {
        grants::create_pending(
            tx,
            &NewGrant {
                id: grant.clone(),
                client_id: client.clone(),
                connection_id: connection.clone(),
                redirect_uri: "http://127.0.0.1/callback".into(),
                scopes: "mcp:access".into(),
                tools: None,
            },
            now,
        )
    })?;
    let activation = store.activate_grant(&grant)?;
    anyhow::ensure!(
        activation.grant_id == grant,
        "a fresh client's grant must be its own, not a reused one"
    );
    Ok((grant, client))
}
