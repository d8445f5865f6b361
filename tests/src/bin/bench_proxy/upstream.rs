//! The upstream every path reaches (an axum server in the benchmark's own process) and the bare relay
//! (this program started again with `relay`, so it runs in its own process like nginx and gatehoused).

use std::convert::Infallible;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures_util::{StreamExt, stream};
use serde_json::{Value, json};

/// The first argument that turns this program into the bare relay.
pub const RELAY_ARG: &str = "relay";

/// The running upstream.
pub struct Upstream {
    /// `http://127.0.0.1:PORT/mcp`.
    pub url: String,
    pub port: u16,
    /// GET streams the upstream holds open right now.
    pub open_streams: Arc<AtomicUsize>,
}

/// Starts the upstream on 127.0.0.1:0: `POST /mcp` answers any JSON-RPC request with a small
/// `tools/call` result; `GET /mcp` opens an SSE stream that sends one event and then stays open until
/// the other side goes.
pub async fn start() -> anyhow::Result<Upstream> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let open_streams = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route("/mcp", post(call).get(event_stream))
        .with_state(open_streams.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(Upstream {
        url: format!("http://127.0.0.1:{port}/mcp"),
        port,
        open_streams,
    })
}

async fn call(body: Bytes) -> impl IntoResponse {
    let id = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("id").cloned())
        .unwrap_or(Value::Null);
    (
        [(header::CONTENT_TYPE, "application/json")],
        json!({"jsonrpc":"2.0","id":id,"result":{"content":[{"type":"text","text":"ok"}]}})
            .to_string(),
    )
}

/// Counts an open stream for as long as its body lives.
struct Held(Arc<AtomicUsize>);

impl Held {
    fn new(count: &Arc<AtomicUsize>) -> Held {
        count.fetch_add(1, Ordering::SeqCst);
        Held(count.clone())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The event every stream starts with; the benchmark's clients wait for it.
pub const FIRST_EVENT: &[u8] = b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"level\":\"info\",\"data\":\"stream open\"}}\n\n";

async fn event_stream(State(open): State<Arc<AtomicUsize>>) -> Response {
    let held = Held::new(&open);
    let events = stream::once(async { Ok::<_, Infallible>(Bytes::from_static(FIRST_EVENT)) })
        .chain(stream::pending())
        .map(move |event| {
            let _ = &held;
            event
        });
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(events),
    )
        .into_response()
}

/// The floor of any HTTP proxy written like Gatehouse: an axum handler that relays the body with a
/// pooled reqwest client and streams the upstream's bytes back, with no checks at all.
async fn bare_relay(
    State((http, url)): State<(reqwest::Client, Arc<str>)>,
    body: Bytes,
) -> Response {
    match http
        .post(&*url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
    {
        Ok(resp) => (
            [(header::CONTENT_TYPE, "application/json")],
            Body::from_stream(resp.bytes_stream()),
        )
            .into_response(),
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

/// `bench_proxy relay UPSTREAM_URL`: serves the bare relay on 127.0.0.1:0 on a default multi-thread
/// runtime (one worker per CPU, as gatehoused has), printing `listening on http://127.0.0.1:PORT`.
pub fn run_relay(upstream_url: &str) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .build()?;
        let app = Router::new()
            .route("/mcp", post(bare_relay))
            .with_state((http, Arc::<str>::from(upstream_url)));
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on http://{}", listener.local_addr()?)?;
            out.flush()?;
        }
        axum::serve(listener, app).await?;
        anyhow::Ok(())
    })
}
