//! One builder for Gatehouse in a test: a [`Vault`] (store and key file) on a temporary
//! directory, the connections the test names, one registered client, and the real gateway on
//! `127.0.0.1:0` in front of them. The world keeps the handle of the fake upstream it was built
//! for (`U`: the recording upstream of the proxy tests, the OAuth upstream of the sign-in tests),
//! so a test reads both sides from one value.

use std::path::PathBuf;
use std::sync::Arc;

use gatehouse_core::clock::{SharedClock, SystemClock};
use gatehouse_core::crypto::KeyBackend;
use gatehouse_core::gateway::{self, RunningGateway};
use gatehouse_core::oauth::upstream::UpstreamOAuth;
use gatehouse_core::store::{ClientId, ConnectionId, GrantId};
use gatehouse_core::vault::Vault;
use serde_json::Value;

use crate::tokens::{self, NewActiveGrant};
use crate::{clients, connections};

/// What `Accept` a Streamable HTTP client sends with a POST.
pub const ACCEPT_BOTH: &str = "application/json, text/event-stream";

/// A connection the builder writes before the gateway starts.
type AddConnection = Box<dyn FnOnce(&Vault) -> ConnectionId + Send>;

/// Gatehouse with its store, gateway and HTTP client, and the fake upstream `U` it fronts.
pub struct World<U = ()> {
    pub dir: tempfile::TempDir,
    /// Where the store is: the temporary directory, or a folder in it.
    pub data_dir: PathBuf,
    pub vault: Vault,
    pub gateway: RunningGateway,
    /// The upstream OAuth state a second process (the CLI) would have beside the gateway's own.
    pub cli: Arc<UpstreamOAuth>,
    /// An HTTP client that follows no redirect, so a test sees each one.
    pub http: reqwest::Client,
    /// The first connection the builder added.
    pub connection: ConnectionId,
    /// The client the builder registered, unless it was built [`WorldBuilder::without_client`].
    pub client: Option<ClientId>,
    pub upstream: U,
}

/// How to build a [`World`]: [`World::builder`], the connections, then [`WorldBuilder::start`].
pub struct WorldBuilder {
    clock: SharedClock,
    data_folder: Option<String>,
    client_name: Option<String>,
    connections: Vec<AddConnection>,
}

impl World {
    pub fn builder() -> WorldBuilder {
        WorldBuilder {
            clock: Arc::new(SystemClock),
            data_folder: None,
            client_name: Some("Test Client".into()),
            connections: Vec::new(),
        }
    }
}

impl WorldBuilder {
    /// Gatehouse's clock (a `ManualClock` moves time without sleeping); the system clock if unset.
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Keeps the store in `folder` of the temporary directory, leaving the rest to the test.
    pub fn data_folder(mut self, folder: &str) -> Self {
        self.data_folder = Some(folder.into());
        self
    }

    /// The name of the registered client ("Test Client" if unset).
    pub fn client_name(mut self, name: &str) -> Self {
        self.client_name = Some(name.into());
        self
    }

    /// Registers no client: the store holds only what the test writes (its audit log included).
    pub fn without_client(mut self) -> Self {
        self.client_name = None;
        self
    }

    /// A connection that sends `secret` as a header: [`connections::add_header_connection`].
    pub fn header_connection(self, slug: &str, url: &str, secret: &str) -> Self {
        let (slug, url, secret) = (slug.to_owned(), url.to_owned(), secret.to_owned());
        self.connection(move |vault| {
            connections::add_header_connection(vault, &slug, &url, &secret)
        })
    }

    /// A connection that signs in with OAuth: [`connections::add_oauth_connection`].
    pub fn oauth_connection(self, slug: &str, url: &str) -> Self {
        let (slug, url) = (slug.to_owned(), url.to_owned());
        self.connection(move |vault| connections::add_oauth_connection(vault, &slug, &url))
    }

    /// A connection `add` writes (a stdio one through `admin`, say); it returns its id.
    pub fn connection(mut self, add: impl FnOnce(&Vault) -> ConnectionId + Send + 'static) -> Self {
        self.connections.push(Box::new(add));
        self
    }

    /// Opens the store, writes the connections and the client, and starts the gateway on
    /// `127.0.0.1:0`; `upstream` is the fake the connections point at.
    pub async fn start<U>(self, upstream: U) -> World<U> {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let data_dir = match &self.data_folder {
            Some(folder) => dir.path().join(folder),
            None => dir.path().to_path_buf(),
        };
        let vault = Vault::open(&data_dir, KeyBackend::File, self.clock)
            .unwrap_or_else(|e| panic!("vault: {e}"));
        let mut added = self.connections.into_iter().map(|add| add(&vault));
        let connection = added
            .next()
            .unwrap_or_else(|| panic!("a world has at least one connection"));
        added.for_each(drop);
        let client = self
            .client_name
            .map(|name| clients::register_client(&vault, &name));
        let listener = gateway::bind_loopback(0)
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let gateway = gateway::start(vault.clone(), listener, 30, std::future::pending())
            .await
            .unwrap_or_else(|e| panic!("start: {e}"));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|e| panic!("http client: {e}"));
        World {
            cli: UpstreamOAuth::new(&vault),
            dir,
            data_dir,
            vault,
            gateway,
            http,
            connection,
            client,
            upstream,
        }
    }
}

impl<U> World<U> {
    /// The local MCP endpoint of connection `slug`.
    pub fn url(&self, slug: &str) -> String {
        format!("{}/mcp/{slug}", self.gateway.base_url())
    }

    /// The stored row of the first connection.
    pub fn row(&self) -> gatehouse_core::store::connections::ConnectionRow {
        connections::row(&self.vault, &self.connection)
    }

    /// An active grant of the world's client on `connection`, its redirect URI its own, allowing
    /// `tools` (`None`: all), and an access token for `slug`'s endpoint that lives an hour.
    pub fn grant(
        &self,
        connection: &ConnectionId,
        slug: &str,
        tools: Option<&[&str]>,
        scopes: &str,
    ) -> (GrantId, String) {
        let id = self.grant_for(self.client(), connection, tools, scopes);
        let token = self.token(&id, slug, scopes, tokens::HOUR_MS);
        (id, token)
    }

    /// An active grant of `client` on `connection`, redirecting to a URI of its own.
    pub fn grant_for(
        &self,
        client: &ClientId,
        connection: &ConnectionId,
        tools: Option<&[&str]>,
        scopes: &str,
    ) -> GrantId {
        let id = GrantId::new();
        let grant = NewActiveGrant {
            redirect_uri: format!("{}/{}", clients::REDIRECT_URI, id.as_str()),
            id,
            client,
            connection,
            scopes,
            tools,
        };
        tokens::active_grant(&self.vault, &grant)
    }

    /// An access token of the world's client on `grant` for `slug`'s endpoint, living `ttl_ms`.
    pub fn token(&self, grant: &GrantId, slug: &str, scopes: &str, ttl_ms: i64) -> String {
        let resource = self.url(slug);
        tokens::access_token(&self.vault, grant, self.client(), &resource, scopes, ttl_ms)
    }

    /// The client the builder registered.
    pub fn client(&self) -> &ClientId {
        self.client
            .as_ref()
            .unwrap_or_else(|| panic!("this world was built without a client"))
    }

    /// A Streamable HTTP POST of `body` to `slug`'s endpoint, with `token` as the bearer if given.
    pub fn post(&self, slug: &str, token: Option<&str>, body: &Value) -> reqwest::RequestBuilder {
        let mut r = self
            .http
            .post(self.url(slug))
            .header("accept", ACCEPT_BOTH)
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r
    }
}
