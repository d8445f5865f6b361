//! The client for upstreams on this machine over plain HTTP (RFC 9112): `http://` with a loopback
//! host (`127.0.0.0/8`, `[::1]`, `localhost`), which is every local MCP server and every stdio
//! host endpoint. It is hyper's own pooled client (the one reqwest wraps) with the rules of
//! [`super::upstream_client`]: a redirect is never followed (hyper follows none), the connect
//! timeout, `TCP_NODELAY`, idle connections closed after 90 s; no system proxy, which a loopback
//! address never goes through anyway.
//!
//! Why not reqwest here: on the per-request path reqwest 0.12 runs its redirect machinery even
//! with redirects off, which parses the URL again (`url::Url::parse`, IDNA included) on the way
//! out and on the way back; profiled, that and its proxy matching were about 6 % of the gateway's
//! CPU per forwarded request. Every other upstream (TLS, proxies) still goes through reqwest. The
//! request is built as a [`reqwest::Request`] either way and the answer comes back as a
//! [`reqwest::Response`], so the relay reads both paths alike.

use std::time::Duration;

use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use reqwest::ResponseBuilderExt;

use super::ProxyOptions;
use crate::net::outbound::is_loopback_host;

/// Why a request to a local upstream failed (connect refused, connection reset…).
pub type CallError = Box<dyn std::error::Error + Send + Sync>;

/// Pooled plain-HTTP connections to upstreams on this machine.
pub struct LocalHttp {
    client: Client<HttpConnector, reqwest::Body>,
}

impl LocalHttp {
    pub fn new(options: &ProxyOptions) -> LocalHttp {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(options.connect_timeout));
        connector.set_nodelay(true);
        // `http://` only: an `https://` URL is never handed here (see `serves`).
        connector.enforce_http(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_timer(TokioTimer::new())
            .build(connector);
        LocalHttp { client }
    }

    /// Whether `url` is a plain-HTTP URL on this machine, which this client sends.
    pub fn serves(url: &reqwest::Url) -> bool {
        url.scheme() == "http" && is_loopback_host(url)
    }

    /// Sends `request` and returns the answer as soon as its head has arrived; its body streams.
    pub async fn execute(&self, request: reqwest::Request) -> Result<reqwest::Response, CallError> {
        let url = request.url().clone();
        let request: http::Request<reqwest::Body> = request.try_into()?;
        let response = self.client.request(request).await?;
        let (mut parts, body) = response.into_parts();
        // The URL the answer came from, as reqwest's own answers carry it (no parse).
        if let Ok(marker) = http::Response::builder().url(url).body(()) {
            parts.extensions.extend(marker.into_parts().0.extensions);
        }
        Ok(reqwest::Response::from(http::Response::from_parts(
            parts,
            reqwest::Body::wrap(body),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_on_this_machine_is_served() {
        for local in [
            "http://127.0.0.1:3001/mcp",
            "http://127.9.0.1/mcp",
            "http://[::1]:8080/mcp",
            "http://LocalHost:9/mcp",
        ] {
            let url = reqwest::Url::parse(local).unwrap_or_else(|e| panic!("{e}"));
            assert!(LocalHttp::serves(&url), "{local}");
        }
        for other in [
            "https://127.0.0.1/mcp",
            "http://example.com/mcp",
            "http://localhost.example.com/mcp",
            "http://10.0.0.1/mcp",
        ] {
            let url = reqwest::Url::parse(other).unwrap_or_else(|e| panic!("{e}"));
            assert!(!LocalHttp::serves(&url), "{other}");
        }
    }
}
