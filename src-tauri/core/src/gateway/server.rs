//! The gateway's accept loop: HTTP/1.1 (RFC 9112) over loopback TCP, with the limits a local
//! service needs against a misbehaving or hostile local program.
//!
//! - **Header-read timeout** ([`ConnectionLimits::header_read_timeout`]): a connection that has
//!   not sent a whole request head in time is closed (a slow-headers "slowloris" client cannot hold
//!   a connection open forever). `axum::serve` sets no timer on hyper, so hyper's own default never
//!   applies there; this loop gives hyper a Tokio timer.
//! - **A cap on open connections** ([`ConnectionLimits::max_connections`]): beyond it the loop stops
//!   accepting (new connections wait in the kernel's backlog) until one closes, so thousands of idle
//!   or half-open sockets cannot exhaust memory or file descriptors.
//! - `TCP_NODELAY` on every connection: a streamed response's headers and body go out as separate
//!   writes, and a delayed ACK would hold the body back ~40 ms on loopback.
//! - Every request carries `ConnectInfo<PeerConnection>` ([`crate::net::caller`]), one per connection,
//!   so the caller policy looks the peer up at most once per connection.
//!
//! Stopping: accepting ends at once; open connections are asked to finish their in-flight request
//! and close (hyper's graceful shutdown), and the loop waits for them up to
//! [`ConnectionLimits::drain`].

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::net::caller::PeerConnection;

/// The accept loop's limits.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// How long a client may take to send a request head.
    pub header_read_timeout: Duration,
    /// How many connections may be open at once.
    pub max_connections: usize,
    /// How long a stop waits for open connections to close.
    pub drain: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 4096,
            drain: Duration::from_secs(10),
        }
    }
}

/// Serves `app` on `listener` until `stop` resolves.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    stop: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let mut stop = std::pin::pin!(stop);
    loop {
        let permit = tokio::select! {
            permit = open.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut stop => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // EMFILE and friends: wait a little rather than spin.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY on an accepted connection");
        }
        let local = stream
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
        let peer = ConnectInfo(PeerConnection::new(remote, local));
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
            request.extensions_mut().insert(peer.clone());
            app.clone().oneshot(request.map(axum::body::Body::new))
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::trace!(%error, "connection ended with an error");
            }
            drop(permit);
        });
    }
    if tokio::time::timeout(limits.drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain time; stopping anyway");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn start(limits: ConnectionLimits) -> (SocketAddr, tokio_util::sync::CancellationToken) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("addr");
        let app = Router::new().route(
            "/",
            axum::routing::get(
                |ConnectInfo(peer): ConnectInfo<PeerConnection>| async move {
                    format!("from {}", peer.remote)
                },
            ),
        );
        let stop = tokio_util::sync::CancellationToken::new();
        let stopped = stop.clone();
        tokio::spawn(serve(listener, app, limits, async move {
            stopped.cancelled().await;
        }));
        (address, stop)
    }

    async fn get(address: SocketAddr) -> String {
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("read");
        answer
    }

    #[tokio::test]
    async fn requests_carry_their_peer_connection() {
        let (address, stop) = start(ConnectionLimits::default()).await;
        let answer = get(address).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(
            answer.contains("from 127.0.0.1:"),
            "the handler sees the socket's peer: {answer}"
        );
        stop.cancel();
    }

    #[tokio::test]
    async fn a_client_that_never_finishes_its_headers_is_disconnected() {
        let (address, stop) = start(ConnectionLimits {
            header_read_timeout: Duration::from_millis(200),
            ..ConnectionLimits::default()
        })
        .await;
        let mut slow = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .expect("write");
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut rest))
            .await
            .expect("the server must close the connection, not wait forever");
        assert!(closed.is_ok(), "the connection ends: {closed:?}");
        assert!(
            !String::from_utf8_lossy(&rest).contains("200 OK"),
            "no request was served"
        );
        stop.cancel();
    }

    #[tokio::test]
    async fn beyond_the_cap_a_connection_waits_until_another_closes() {
        let (address, stop) = start(ConnectionLimits {
            max_connections: 2,
            ..ConnectionLimits::default()
        })
        .await;
        let idle_a = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        let idle_b = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        let third = tokio::spawn(get(address));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !third.is_finished(),
            "two idle connections hold the only two places"
        );
        drop(idle_a);
        let answer = tokio::time::timeout(Duration::from_secs(5), third)
            .await
            .expect("served once a place is free")
            .expect("join");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        drop(idle_b);
        stop.cancel();
    }
}
