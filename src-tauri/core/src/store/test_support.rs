//! Fixtures for the store's tests: a real database file in a temporary directory, a manual clock,
//! and helpers that build connections, clients, grants and a full set of grant artefacts.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tempfile::TempDir;

use super::access_tokens::{self, NewAccessToken};
use super::authorization_codes::{self, NewAuthorizationCode};
use super::authorization_requests::{self, NewAuthorizationRequest};
use super::clients::{ClientRegistration, RegistrationSource};
use super::connections::{
    self, AuthKind, ConnectionSettings, ConnectionStatus, NewConnection, OAuthSettings, Transport,
};
use super::grants::{self, NewGrant};
use super::refresh_tokens::{self, NewRefreshToken};
use super::{
    AuthorizationRequestId, ClientId, ConnectionId, GrantId, RefreshFamilyId, Store, TokenHash,
};
use crate::clock::{HOUR, MINUTE, ManualClock, SECOND, UnixMillis};

/// 2025-06-15T16:26:40Z; any fixed instant will do.
pub const T0: UnixMillis = 1_750_004_800_000;

pub const REDIRECT: &str = "http://127.0.0.1/callback";

pub struct Fixture {
    pub dir: TempDir,
    pub store: Store,
    pub clock: ManualClock,
    counter: AtomicU64,
}

/// Every artefact a live grant can have.
#[derive(Debug, Clone)]
pub struct Artefacts {
    pub request: AuthorizationRequestId,
    pub code: TokenHash,
    pub access: TokenHash,
    pub refresh: TokenHash,
}

pub fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("a temporary directory must be creatable");
    let clock = ManualClock::new(T0);
    let store = Store::open(
        &dir.path().join("data").join("gatehouse.db"),
        Arc::new(clock.clone()),
    )
    .expect("a fresh store must open");
    Fixture {
        dir,
        store,
        clock,
        counter: AtomicU64::new(1),
    }
}

/// A distinct, recognisable 32-byte "hash".
pub fn hash(tag: u8, n: u64) -> TokenHash {
    let mut h = [tag; 32];
    h[..8].copy_from_slice(&n.to_be_bytes());
    h
}

pub fn settings(url: &str) -> ConnectionSettings {
    ConnectionSettings {
        upstream_url: url.to_owned(),
        transport: Transport::StreamableHttp,
        auth_kind: AuthKind::OAuth,
        header_name: None,
        header_value_sealed: None,
        oauth: OAuthSettings {
            issuer: Some("https://issuer.example".into()),
            client_secret_sealed: Some(vec![1, 2, 3]),
            ..OAuthSettings::default()
        },
        stdio: None,
    }
}

pub fn registration(client_id: &ClientId, redirects: &[&str]) -> ClientRegistration {
    ClientRegistration {
        client_id: client_id.clone(),
        client_name: Some("Test Client".into()),
        client_uri: None,
        software_id: None,
        software_version: None,
        redirect_uris: redirects.iter().map(|s| (*s).to_owned()).collect(),
        scope: Some("mcp:access".into()),
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        response_types: vec!["code".into()],
        token_endpoint_auth_method: "none".into(),
        application_type: Some("native".into()),
        registration_source: RegistrationSource::Dcr,
        metadata: serde_json::json!({ "client_name": "Test Client" }),
    }
}

impl Fixture {
    fn next(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    pub fn connection(&self, slug: &str) -> ConnectionId {
        let id = ConnectionId::new();
        let new = NewConnection {
            id: id.clone(),
            slug: slug.to_owned(),
            name: format!("Connection {slug}"),
            settings: settings(&format!("https://{slug}.example/mcp")),
            enabled: true,
            status: ConnectionStatus::Connected,
        };
        let now = self.clock_now();
        self.store
            .write_blocking(|tx| connections::insert(tx, &new, now))
            .expect("inserting a connection with a fresh slug must work");
        id
    }

    pub fn client(&self) -> ClientId {
        let id = ClientId::generate();
        self.store
            .upsert_client(&registration(&id, &[REDIRECT]))
            .expect("registering a fresh client must work");
        id
    }

    pub fn pending_grant(
        &self,
        client: &ClientId,
        connection: &ConnectionId,
        scopes: &str,
    ) -> GrantId {
        let id = GrantId::new();
        let grant = NewGrant {
            id: id.clone(),
            client_id: client.clone(),
            connection_id: connection.clone(),
            redirect_uri: REDIRECT.into(),
            scopes: scopes.into(),
            tools: None,
        };
        let now = self.clock_now();
        self.store
            .write_blocking(|tx| grants::create_pending(tx, &grant, now))
            .expect("creating a pending grant for known client and connection must work");
        id
    }

    pub fn active_grant(&self, client: &ClientId, connection: &ConnectionId) -> GrantId {
        let id = self.pending_grant(client, connection, "mcp:access");
        let activation = self
            .store
            .activate_grant(&id)
            .expect("activating a fresh pending grant must work");
        assert_eq!(
            activation.grant_id, id,
            "no other grant is on this binding, so ours must be the active one"
        );
        id
    }

    /// A pending request, an unused code, an access token and a refresh token for `grant`.
    pub fn artefacts(&self, grant: &GrantId) -> Artefacts {
        let row = self
            .store
            .read_blocking({
                let grant = grant.clone();
                move |c| grants::get(c, &grant)
            })
            .expect("reading a grant must work")
            .expect("the grant must exist");
        let n = self.next();
        let now = self.clock_now();
        let a = Artefacts {
            request: AuthorizationRequestId::new(),
            code: hash(0xC0, n),
            access: hash(0xA0, n),
            refresh: hash(0xF0, n),
        };
        self.store
            .write_blocking(|tx| {
                authorization_requests::insert(
                    tx,
                    &NewAuthorizationRequest {
                        id: a.request.clone(),
                        grant_id: grant.clone(),
                        client_id: row.client_id.clone(),
                        connection_id: row.connection_id.clone(),
                        redirect_uri: row.redirect_uri.clone(),
                        scopes: row.scopes.clone(),
                        state: Some("xyz".into()),
                        code_challenge: "challenge".into(),
                        resource: "http://127.0.0.1:7777/mcp/x".into(),
                        csrf_hash: hash(0xCF, n),
                        browser_hash: hash(0xB0, n),
                        caller: None,
                        expires_at: now + 10 * MINUTE,
                    },
                    now,
                )?;
                authorization_codes::insert(
                    tx,
                    &NewAuthorizationCode {
                        code_hash: a.code,
                        grant_id: grant.clone(),
                        client_id: row.client_id.clone(),
                        redirect_uri: row.redirect_uri.clone(),
                        code_challenge: "challenge".into(),
                        resource: "http://127.0.0.1:7777/mcp/x".into(),
                        scopes: row.scopes.clone(),
                        expires_at: now + 60 * SECOND,
                    },
                    now,
                )?;
                access_tokens::insert(
                    tx,
                    &NewAccessToken {
                        token_hash: a.access,
                        grant_id: grant.clone(),
                        client_id: row.client_id.clone(),
                        resource: "http://127.0.0.1:7777/mcp/x".into(),
                        scopes: row.scopes.clone(),
                        expires_at: now + HOUR,
                    },
                    now,
                )?;
                refresh_tokens::insert(
                    tx,
                    &NewRefreshToken {
                        token_hash: a.refresh,
                        grant_id: grant.clone(),
                        family_id: RefreshFamilyId::new(),
                        parent_hash: None,
                        client_id: row.client_id.clone(),
                        scopes: row.scopes.clone(),
                        expires_at: now + 30 * 24 * HOUR,
                    },
                    now,
                )
            })
            .expect("issuing artefacts for an active grant must work");
        a
    }

    pub fn clock_now(&self) -> UnixMillis {
        crate::clock::Clock::now(&self.clock)
    }

    pub fn grant(&self, id: &GrantId) -> grants::GrantRow {
        let id = id.clone();
        self.store
            .read_blocking(move |c| grants::get(c, &id))
            .expect("reading a grant must work")
            .expect("the grant must exist")
    }

    pub fn access(&self, h: &TokenHash) -> access_tokens::AccessTokenRow {
        let h = *h;
        self.store
            .read_blocking(move |c| access_tokens::lookup(c, &h))
            .expect("looking up a token must work")
            .expect("the token must exist")
    }

    pub fn count(&self, sql: &str) -> i64 {
        let sql = sql.to_owned();
        self.store
            .read_blocking(move |c| Ok(c.query_row(&sql, [], |r| r.get(0))?))
            .expect("a count query must work")
    }
}
