//! The local gateway: one axum router on 127.0.0.1 that later issues grow into the authorization
//! server (role 1), the MCP proxy and the upstream OAuth callback (role 2).
//!
//! `gatehoused serve` and the desktop app start it through the same [`start`] function, with an
//! already-bound listener and a shutdown future, so tests run it on `127.0.0.1:0`.

pub mod caller_policy;
mod guard;
mod health;
mod runtime;
pub mod server;
mod tool_catalog;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use http::header::{AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION, SET_COOKIE};
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower_http::sensitive_headers::{
    SetSensitiveRequestHeadersLayer, SetSensitiveResponseHeadersLayer,
};
use tower_http::trace::TraceLayer;

use crate::proxy::{Proxy, ProxyOptions};
use crate::vault::Vault;

pub use crate::net::loopback::{LocalAuthority, is_loopback_origin};
pub use caller_policy::{CallerPolicy, RouteClass};
pub use guard::Refusal;
pub use runtime::Runtime;

#[derive(Debug, Error)]
pub enum GatewayError {
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind { port: u16, source: std::io::Error },
    #[error("cannot read the listener's address: {0}")]
    LocalAddr(std::io::Error),
}

/// Binds 127.0.0.1 only, never 0.0.0.0 (MCP 2025-11-25 basic/transports §Security Warning: a local
/// server binds to localhost only). Port 0 picks a free port.
pub async fn bind_loopback(port: u16) -> Result<TcpListener, GatewayError> {
    TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .await
        .map_err(|source| GatewayError::Bind { port, source })
}

/// The router with every route and layer, for `tower::ServiceExt::oneshot` tests.
pub fn router(runtime: Runtime) -> Router {
    compose(runtime).0
}

/// The router, the proxy whose open streams must be ended when the gateway stops (a graceful
/// shutdown otherwise waits for every SSE stream a client keeps open), and the caller policy whose
/// setting the app changes at run time.
fn compose(runtime: Runtime) -> (Router, Arc<Proxy>, CallerPolicy) {
    let callers = CallerPolicy::new(runtime.vault.store().clone());
    let (proxy_routes, proxy) = crate::proxy::router_with(
        &runtime.vault,
        runtime.local,
        runtime.upstream_oauth.clone(),
        runtime.stdio.clone(),
        ProxyOptions::default(),
    );
    let store = runtime.vault.store().clone();
    let router = Router::new()
        .route("/health", get(health::health))
        .merge(crate::oauth::server::routes::router(
            store.clone(),
            runtime.local,
        ))
        .merge(crate::oauth::server::authorize::router(
            store,
            runtime.local,
            Arc::new(tool_catalog::UpstreamToolCatalog::new(
                runtime.vault.clone(),
                runtime.upstream_oauth.clone(),
                runtime.stdio.clone(),
            )),
        ))
        .merge(proxy_routes)
        .merge(crate::oauth::upstream::callback::router(
            runtime.upstream_oauth.clone(),
            runtime.local,
        ))
        .merge(crate::oauth::upstream::signin_page::router(
            runtime.upstream_oauth.clone(),
            runtime.local,
        ))
        // Inside the Host/Origin guard: a refused web page never costs a socket lookup.
        .layer(axum::middleware::from_fn_with_state(
            callers.clone(),
            caller_policy::enforce,
        ))
        .layer(axum::middleware::from_fn_with_state(
            runtime.local,
            guard::local_only,
        ))
        // The span names the path only: a query can carry an authorization code and state (the
        // upstream callback) that must not reach a log line: no credential is ever logged.
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &http::Request<_>| {
                tracing::debug_span!(
                    "request",
                    method = %request.method(),
                    path = %request.uri().path(),
                    version = ?request.version(),
                )
            }),
        )
        .layer(SetSensitiveResponseHeadersLayer::new([SET_COOKIE]))
        .layer(SetSensitiveRequestHeadersLayer::new([
            AUTHORIZATION,
            PROXY_AUTHORIZATION,
            COOKIE,
        ]))
        .with_state(runtime);
    (router, proxy, callers)
}

/// A gateway that is serving; dropping it does not stop it, [`RunningGateway::shutdown`] does.
pub struct RunningGateway {
    address: SocketAddr,
    runtime: Runtime,
    /// The retention job's period in days; a new value purges at once with it.
    retention: watch::Sender<u32>,
    callers: CallerPolicy,
    stop: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
}

impl RunningGateway {
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn base_url(&self) -> String {
        LocalAuthority {
            port: self.address.port(),
        }
        .base_url()
    }

    pub fn vault(&self) -> &Vault {
        &self.runtime.vault
    }

    /// Role 2 state shared by the proxy and `/oauth/callback`: the app's deep-link handler completes
    /// sign-ins through it (`complete_signin`), so the proxy's token cache sees them at once.
    pub fn upstream_oauth(&self) -> &Arc<crate::oauth::upstream::UpstreamOAuth> {
        &self.runtime.upstream_oauth
    }

    /// What the gateway's handlers share: admin use cases that sign in or out take it, so they
    /// use the same upstream OAuth state (and caches) as the proxy.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Applies a new retention period (days) to the running retention job, which purges with it at
    /// once (Settings saved in the window). The same period again does nothing.
    pub fn set_retention_days(&self, days: u32) {
        self.retention.send_if_modified(|current| {
            let changed = *current != days;
            *current = days;
            changed
        });
    }

    /// Whether programs of other OS accounts may use the MCP proxy and the client endpoints
    /// (Settings; off by default). Consent stays with the desktop user either way.
    pub fn set_allow_other_os_users(&self, allow: bool) {
        self.callers.set_allow_other_users(allow);
    }

    /// Stops accepting, lets in-flight requests finish, and waits for the server task.
    pub async fn shutdown(self) -> std::io::Result<()> {
        self.stop.cancel();
        self.wait().await
    }

    /// Waits until the server stops (its shutdown future resolved).
    pub async fn wait(self) -> std::io::Result<()> {
        match self.server.await {
            Ok(result) => result,
            Err(join) => Err(std::io::Error::other(join)),
        }
    }
}

/// Serves the gateway on `listener` until `shutdown` resolves (or [`RunningGateway::shutdown`]).
/// Also starts the retention job, which runs now and then daily.
pub async fn start(
    vault: Vault,
    listener: TcpListener,
    retention_days: u32,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<RunningGateway, GatewayError> {
    let address = listener.local_addr().map_err(GatewayError::LocalAddr)?;
    let local = LocalAuthority {
        port: address.port(),
    };
    let stop = CancellationToken::new();
    let runtime = Runtime::new(vault.clone(), local);
    let stdio = runtime.stdio.clone();
    let (app, proxy, callers) = compose(runtime.clone());

    let retention_stop = stop.clone();
    let (retention, retention_days) = watch::channel(retention_days);
    tokio::spawn(crate::store::retention::run_retention_job(
        vault.store().clone(),
        retention_days,
        async move { retention_stop.cancelled().await },
    ));

    let server_stop = stop.clone();
    let server = tokio::spawn(async move {
        let stopped = async move {
            tokio::select! {
                () = shutdown => {},
                () = server_stop.cancelled() => {},
            }
            server_stop.cancel();
            proxy.end_all_streams();
            stdio.shutdown().await;
        };
        server::serve(listener, app, server::ConnectionLimits::default(), stopped).await
    });
    tracing::info!(%address, key_source = ?vault.key_source().kind, "gateway listening");
    Ok(RunningGateway {
        address,
        runtime,
        retention,
        callers,
        stop,
        server,
    })
}
