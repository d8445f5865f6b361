//! `/mcp/<slug>`: the MCP proxy, an OAuth protected resource that serves Streamable HTTP.
//!
//! Every request goes **guard → forward → filter**:
//!
//! 1. [`bearer`]: the Gatehouse access token in `Authorization: Bearer` is checked against the store
//!    on every request (a revoke works on the very next request; the row is read again only after a
//!    commit) and must be for this slug's connection; otherwise a 401/403 challenge pointing at the
//!    slug's protected resource metadata.
//! 2. [`forward`]: the upstream request is built from an allow-list of MCP headers with the
//!    connection's own credential injected (the client's `Authorization`, cookies and hop-by-hop
//!    headers never leave); redirects are never followed; JSON and SSE responses stream back as they
//!    arrive. Upstream failures become JSON-RPC errors, never HTTP 401/403, which would restart the
//!    client's OAuth with Gatehouse ([`jsonrpc`]).
//! 3. [`sessions`]: legacy `Mcp-Session-Id`s are translated and bound to the grant.
//! 4. [`filter`]: the grant's tool allow-list cuts `tools/list` and refuses other `tools/call`s.
//! 5. [`modern`]: a 2026-07-28 request's routing headers must agree with its body and its version
//!    must be one Gatehouse speaks (-32020 / -32022), before anything reaches the upstream; an
//!    earlier-era request that sends `Mcp-Method` or `Mcp-Name` is held to the same comparison.
//! 6. [`era`] and [`bridge`]: when the client's protocol era is not the upstream's (found once per
//!    connection by a `server/discover` probe), Gatehouse speaks the upstream's era for the client:
//!    it answers `initialize` or `server/discover` itself and translates each request.
//!
//! Cancellation follows each era: a 2026-07-28 client closing its stream cancels the upstream call;
//! a legacy client's disconnect does not (the answer is read to its end and dropped).
//!
//! Beside the request path: [`usage`] writes `last_used_at` at most every 30 s per grant from a
//! background task, and a second task listens for [`StoreEvent::GrantsRevoked`] and ends every open
//! stream (GET or SSE response) of the revoked grants and ends their sessions, here and upstream
//! ([`forgotten_sessions`]).
//!
//! **Revocations from another process** (`gatehoused grants revoke` while the app serves) are not
//! broadcast to this process: they take effect on the next request of that grant (the store check),
//! and its already-open streams and sessions are ended once a
//! [`CommitProbe`](crate::store::commits::CommitProbe) sees a commit (polled every
//! [`ProxyOptions::commit_poll_every`], 100 ms) and the grants holding streams or sessions are
//! re-read; a full re-check also runs every [`ProxyOptions::stream_recheck_every`].
//!
//! [`catalog`] is the consent page's upstream tool lister; it shares the outbound client.

pub mod batch;
pub mod bearer;
pub mod bridge;
pub mod catalog;
pub mod elicitation;
pub mod era;
pub mod filter;
pub mod forgotten_sessions;
pub mod forward;
pub mod jsonrpc;
pub mod local_http;
pub mod modern;
pub mod own_call;
pub mod param_headers;
pub mod relay;
pub mod sessions;
pub mod tool_annotations;
pub mod upstream;
pub mod usage;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use tokio_util::sync::CancellationToken;

use crate::net::loopback::LocalAuthority;
use crate::oauth::upstream::UpstreamOAuth;
use crate::stdio::StdioHost;
use crate::store::{GrantId, StoreEvent, grants};
use crate::vault::Vault;

/// Tunables; [`ProxyOptions::default`] is what the gateway uses.
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    /// How long to wait for an upstream to accept a TCP connection.
    pub connect_timeout: Duration,
    /// How long a POST may wait for the upstream's response to start (the body may then stream on
    /// for as long as it likes).
    pub response_start_timeout: Duration,
    /// Largest POST body accepted from a client (413 beyond).
    pub max_request_body: usize,
    /// Largest JSON response the proxy buffers to filter (`tools/list`).
    pub max_filtered_response: usize,
    /// How often `last_used_at` is written.
    pub usage_flush_every: Duration,
    /// How often the grants of open streams are re-checked in the store even with no commit seen.
    pub stream_recheck_every: Duration,
    /// How often the store is asked whether anyone committed (cross-process revokes end the
    /// grant's open streams within about this long).
    pub commit_poll_every: Duration,
}

impl Default for ProxyOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            response_start_timeout: Duration::from_secs(60),
            max_request_body: 4 * 1024 * 1024,
            max_filtered_response: 16 * 1024 * 1024,
            usage_flush_every: Duration::from_secs(30),
            stream_recheck_every: Duration::from_secs(5),
            commit_poll_every: Duration::from_millis(100),
        }
    }
}

/// The outbound HTTP client for upstream MCP servers: no redirects (a redirect would carry the
/// injected credential somewhere else), a connect timeout, no total timeout (streams
/// are long-lived; POSTs get a response-start timeout instead).
pub fn upstream_client(options: &ProxyOptions) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(options.connect_timeout)
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .build()
        .unwrap_or_else(|err| {
            // Only a broken TLS backend makes the builder fail; the default client has the same
            // redirect risk, so refuse to continue rather than fall back to it.
            panic!("cannot build the upstream HTTP client: {err}")
        })
}

/// The proxy's state, shared by its handlers and background tasks.
pub struct Proxy {
    pub(crate) vault: Vault,
    pub(crate) local: LocalAuthority,
    pub(crate) http: reqwest::Client,
    /// Plain HTTP to upstreams on this machine, without reqwest's per-request work.
    pub(crate) local_http: local_http::LocalHttp,
    pub(crate) options: ProxyOptions,
    pub(crate) sessions: sessions::Sessions,
    pub(crate) usage: Arc<usage::Usage>,
    /// Token rows valid until the next commit to the store (see [`bearer`]).
    pub(crate) tokens: bearer::TokenCache,
    pub(crate) streams: Streams,
    pub(crate) upstreams: upstream::Upstreams,
    /// Each upstream's protocol era, once found.
    pub(crate) eras: era::Eras,
    /// Sessions Gatehouse holds with legacy upstreams for 2026-07-28 clients.
    pub(crate) upstream_sessions: bridge::to_legacy::UpstreamSessions,
    /// `x-mcp-header` annotations of modern upstreams' tools, for bridged legacy clients.
    pub(crate) tool_annotations: tool_annotations::ToolAnnotations,
    /// Role 2: upstream OAuth tokens (shared with the gateway's `/oauth/callback`).
    pub(crate) oauth: Arc<UpstreamOAuth>,
    /// The local stdio servers behind stdio connections.
    pub(crate) stdio: Arc<crate::stdio::StdioHost>,
    /// Cancelled when the last handle goes: stops the background tasks.
    stop: CancellationToken,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Proxy {
    /// Sends a request to an upstream: through [`local_http`] when it is plain HTTP on this
    /// machine, else through reqwest.
    pub(crate) async fn execute(
        &self,
        request: reqwest::Request,
    ) -> Result<reqwest::Response, local_http::CallError> {
        if local_http::LocalHttp::serves(request.url()) {
            self.local_http.execute(request).await
        } else {
            Ok(self.http.execute(request).await?)
        }
    }

    pub fn sessions(&self) -> &sessions::Sessions {
        &self.sessions
    }

    pub fn usage(&self) -> &usage::Usage {
        &self.usage
    }

    /// How many streams are open.
    pub fn open_streams(&self) -> usize {
        self.streams.open()
    }

    /// Ends every open stream, e.g. when the gateway shuts down: a graceful shutdown otherwise
    /// waits for long-lived SSE responses that never finish on their own.
    pub fn end_all_streams(&self) {
        let all = self.streams.grants();
        self.streams.cancel(&all);
    }
}

/// The open streams of each grant, so a revocation can end them.
#[derive(Debug, Default)]
pub struct Streams {
    by_grant: Mutex<HashMap<GrantId, (CancellationToken, usize)>>,
}

/// Held by an open stream; deregisters it when the stream goes.
pub struct StreamTicket {
    streams: Weak<Proxy>,
    grant_id: GrantId,
    pub cancel: CancellationToken,
}

impl Drop for StreamTicket {
    fn drop(&mut self) {
        if let Some(proxy) = self.streams.upgrade() {
            let mut map = proxy
                .streams
                .by_grant
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some((_, count)) = map.get_mut(&self.grant_id) {
                *count -= 1;
                if *count == 0 {
                    map.remove(&self.grant_id);
                }
            }
        }
    }
}

impl Streams {
    fn open(&self) -> usize {
        self.by_grant
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|(_, n)| n)
            .sum()
    }

    /// Ends every stream of these grants.
    pub fn cancel(&self, grant_ids: &[GrantId]) {
        let map = self.by_grant.lock().unwrap_or_else(PoisonError::into_inner);
        for id in grant_ids {
            if let Some((token, _)) = map.get(id) {
                token.cancel();
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.by_grant
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }

    fn grants(&self) -> Vec<GrantId> {
        self.by_grant
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }
}

impl Proxy {
    /// Registers an open stream of `grant_id`.
    pub(crate) fn stream_ticket(self: &Arc<Self>, grant_id: &GrantId) -> StreamTicket {
        let mut map = self
            .streams
            .by_grant
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let entry = map
            .entry(grant_id.clone())
            .or_insert_with(|| (CancellationToken::new(), 0));
        entry.1 += 1;
        StreamTicket {
            streams: Arc::downgrade(self),
            grant_id: grant_id.clone(),
            cancel: entry.0.child_token(),
        }
    }
}

/// The proxy's routes with their own state, ready to `.merge` into the gateway's router; the
/// upstream OAuth state and the stdio host are the runtime's, shared with the other routes.
pub fn router<S: Clone + Send + Sync + 'static>(
    vault: &Vault,
    local: LocalAuthority,
    oauth: Arc<UpstreamOAuth>,
    stdio: Arc<StdioHost>,
) -> Router<S> {
    router_with(vault, local, oauth, stdio, ProxyOptions::default()).0
}

/// [`router`] with explicit options; also returns the proxy state (for tests and benchmarks).
pub fn router_with<S: Clone + Send + Sync + 'static>(
    vault: &Vault,
    local: LocalAuthority,
    oauth: Arc<UpstreamOAuth>,
    stdio: Arc<StdioHost>,
    options: ProxyOptions,
) -> (Router<S>, Arc<Proxy>) {
    let proxy = Arc::new(Proxy {
        vault: vault.clone(),
        local,
        http: upstream_client(&options),
        local_http: local_http::LocalHttp::new(&options),
        options,
        sessions: sessions::Sessions::default(),
        usage: Arc::new(usage::Usage::default()),
        tokens: bearer::TokenCache::default(),
        streams: Streams::default(),
        upstreams: upstream::Upstreams::default(),
        eras: era::Eras::default(),
        upstream_sessions: bridge::to_legacy::UpstreamSessions::default(),
        tool_annotations: tool_annotations::ToolAnnotations::default(),
        oauth,
        stdio,
        stop: CancellationToken::new(),
    });
    spawn_background(&proxy);
    let router = Router::new()
        .route(
            "/mcp/{slug}",
            post(forward::post)
                .get(forward::get)
                .delete(forward::delete),
        )
        .with_state(proxy.clone());
    (router, proxy)
}

/// Starts the usage flusher and the revocation listener, if a runtime is there to run them (a
/// router built outside a runtime, e.g. in a sync unit test, simply has none).
fn spawn_background(proxy: &Arc<Proxy>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!(
            "proxy built outside a tokio runtime: no usage flush, no revocation listener"
        );
        return;
    };
    let store = proxy.vault.store().clone();
    let stop = proxy.stop.clone();

    // last_used_at, debounced; holds the usage table itself so the last uses are written on stop.
    let usage = proxy.usage.clone();
    let every = proxy.options.usage_flush_every;
    let flush_store = store.clone();
    let flush_stop = stop.clone();
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            let stopping = tokio::select! {
                _ = tick.tick() => false,
                () = flush_stop.cancelled() => true,
            };
            if let Err(err) = usage.flush(&flush_store).await {
                tracing::warn!(error = %err, "could not record last_used_at");
            }
            if stopping {
                break;
            }
        }
    });

    // Revocations in this process: end streams and sessions at once.
    let weak = Arc::downgrade(proxy);
    let mut events = store.subscribe();
    let events_stop = stop.clone();
    runtime.spawn(async move {
        loop {
            let event = tokio::select! {
                event = events.recv() => event,
                () = events_stop.cancelled() => break,
            };
            let Some(proxy) = weak.upgrade() else { break };
            match event {
                Ok(StoreEvent::GrantsRevoked { grant_ids, .. }) => {
                    proxy.streams.cancel(&grant_ids);
                    forgotten_sessions::forget_grants(&proxy, &grant_ids);
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    // Some revocations may be unseen: re-check every open stream's grant now.
                    tracing::warn!(missed, "revocation events lagged; re-checking open streams");
                    recheck_held_grants(&proxy).await;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });

    // Revocations from another process (the CLI): while streams or sessions are open, look for any commit
    // every `commit_poll_every` (a pragma read, no table) and re-check their grants when there was
    // one; and every `stream_recheck_every` in any case.
    let weak = Arc::downgrade(proxy);
    let (every, backstop) = (
        proxy.options.commit_poll_every,
        proxy.options.stream_recheck_every,
    );
    let store = proxy.vault.store().clone();
    runtime.spawn(async move {
        let mut probe = match store.commit_probe().await {
            Ok(probe) => Some(probe),
            Err(err) => {
                tracing::warn!(error = %err, "no commit probe: open streams are re-checked on the backstop period only");
                None
            }
        };
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_full = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = tick.tick() => {},
                () = stop.cancelled() => break,
            }
            let Some(proxy) = weak.upgrade() else { break };
            forgotten_sessions::end_upstream(&proxy, proxy.sessions.take_forgotten());
            // No open stream or session, nothing to end: the probe is not even read (a commit
            // seen later only costs one re-check then).
            if proxy.streams.is_empty()
                && proxy.sessions.is_empty()
                && proxy.upstream_sessions.is_empty()
            {
                continue;
            }
            let committed = match probe.as_mut() {
                Some(probe) => probe.moved().await.unwrap_or(true),
                None => false,
            };
            if committed || last_full.elapsed() >= backstop {
                last_full = tokio::time::Instant::now();
                recheck_held_grants(&proxy).await;
            }
        }
    });
}

/// Ends the streams and sessions of grants that are no longer active in the store.
async fn recheck_held_grants(proxy: &Arc<Proxy>) {
    let mut open = proxy.streams.grants();
    open.extend(proxy.sessions.grants());
    open.extend(proxy.upstream_sessions.grants());
    open.sort_unstable();
    open.dedup();
    if open.is_empty() {
        return;
    }
    let store = proxy.vault.store().clone();
    let gone = store
        .read(move |conn| {
            let mut gone = Vec::new();
            for id in open {
                let active = grants::get(conn, &id)?
                    .is_some_and(|g| g.status == grants::GrantStatus::Active);
                if !active {
                    gone.push(id);
                }
            }
            Ok(gone)
        })
        .await;
    match gone {
        Ok(gone) if !gone.is_empty() => {
            proxy.streams.cancel(&gone);
            forgotten_sessions::forget_grants(proxy, &gone);
        }
        Ok(_) => {}
        Err(err) => {
            tracing::warn!(error = %err, "could not re-check the grants of open streams and sessions");
        }
    }
}
