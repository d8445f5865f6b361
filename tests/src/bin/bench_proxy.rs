//! Proxy overhead benchmark (product.md §7: p50 < 0.3 ms and p99 < 1 ms added, throughput ≥ 80 % of
//! direct). Not a test: it prints numbers.
//!
//! Method: one process starts a fast in-process upstream (axum, answering `tools/call` with a small
//! JSON result) and the real gateway (`gateway::start` on 127.0.0.1:0, temp vault, a header-credential
//! connection to that upstream, an active grant and an access token made through the store). For
//! each concurrency level C, C client tasks sharing one keep-alive reqwest client each send N
//! sequential `tools/call` POSTs after a warm-up, first directly to the upstream and then through
//! `/mcp/bench` (bearer check against the store, header allow-list, credential injection,
//! streaming relay), alternating direct/gateway rounds so drift hits both alike. A third path, a
//! bare axum+reqwest relay with no checks, shows what any in-process HTTP proxy costs here. Latency is per
//! request (send to full body read); throughput is requests / wall time of the round. Client,
//! gateway and upstream share the machine's cores, so both paths pay for the load generator.
//!
//! `cargo run --release -p gatehouse-e2e --bin bench_proxy [-- N_PER_CLIENT]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;
use gatehouse_core::clock::SystemClock;
use gatehouse_core::crypto::{Aad, KeyBackend, TokenHash};
use gatehouse_core::gateway;
use gatehouse_core::store::access_tokens::{self, NewAccessToken};
use gatehouse_core::store::clients::{ClientRegistration, RegistrationSource};
use gatehouse_core::store::connections::{
    self, AuthKind, ConnectionSettings, ConnectionStatus, NewConnection, OAuthSettings, Transport,
};
use gatehouse_core::store::grants::{self, NewGrant};
use gatehouse_core::store::{ClientId, ConnectionId, GrantId};
use gatehouse_core::vault::Vault;
use serde_json::{Value, json};

const ROUNDS: usize = 2;

/// The floor of any HTTP proxy on this machine: an axum handler that relays the body with a
/// pooled reqwest client and returns the upstream's bytes, with no checks at all. The gateway's own
/// cost is the difference between it and this relay.
async fn bare_relay(
    axum::extract::State((http, url)): axum::extract::State<(reqwest::Client, String)>,
    body: Bytes,
) -> axum::response::Response {
    match http
        .post(&url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
    {
        Ok(resp) => (
            [(header::CONTENT_TYPE, "application/json")],
            axum::body::Body::from_stream(resp.bytes_stream()),
        )
            .into_response(),
        Err(_) => axum::http::StatusCode::BAD_GATEWAY.into_response(),
    }
}

async fn upstream_call(body: Bytes) -> impl IntoResponse {
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

fn token_text() -> String {
    // The shape of a Gatehouse access token: prefix + 43 base64url characters.
    let seed = format!(
        "{:043}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(7)
    );
    format!("gh_at_{}", &seed[seed.len() - 43..])
}

async fn setup(vault: &Vault, upstream_url: &str, base_url: &str) -> anyhow::Result<String> {
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
        slug: "bench".into(),
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
        connections::insert(tx, &new, now)?;
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
    store.activate_grant(&grant)?;
    let token = token_text();
    let new_token = NewAccessToken {
        token_hash: *TokenHash::of(&token).as_bytes(),
        grant_id: grant,
        client_id: client,
        resource: format!("{base_url}/mcp/bench"),
        scopes: "mcp:access".into(),
        expires_at: now + 24 * 3_600_000,
    };
    store.write_blocking(|tx| access_tokens::insert(tx, &new_token, now))?;
    Ok(token)
}

#[derive(Clone)]
struct Target {
    url: String,
    token: Option<String>,
}

/// Runs `clients` tasks × `n` requests; returns (sorted latencies in µs, wall time).
async fn round(
    http: &reqwest::Client,
    target: &Target,
    clients: usize,
    n: usize,
) -> anyhow::Result<(Vec<f64>, Duration)> {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let http = http.clone();
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(n);
            for i in 0..n {
                let body = json!({"jsonrpc":"2.0","id":c * 1_000_000 + i,"method":"tools/call",
                    "params":{"name":"echo","arguments":{"text":"hello"}}})
                .to_string();
                let mut req = http
                    .post(&target.url)
                    .header("accept", "application/json, text/event-stream")
                    .header("content-type", "application/json")
                    .header("mcp-protocol-version", "2025-06-18")
                    .body(body);
                if let Some(t) = &target.token {
                    req = req.bearer_auth(t);
                }
                let t0 = Instant::now();
                let resp = req.send().await?;
                let status = resp.status();
                let bytes = resp.bytes().await?;
                lat.push(t0.elapsed().as_secs_f64() * 1e6);
                anyhow::ensure!(
                    status == 200 && bytes.windows(4).any(|w| w == b"\"ok\""),
                    "unexpected answer {status}: {}",
                    String::from_utf8_lossy(&bytes)
                );
            }
            anyhow::Ok(lat)
        }));
    }
    let mut all = Vec::with_capacity(clients * n);
    for t in tasks {
        all.extend(t.await??);
    }
    let wall = start.elapsed();
    Ok((all, wall))
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000);

    let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let upstream_url = format!("http://{}/mcp", upstream.local_addr()?);
    tokio::spawn(async move {
        axum::serve(upstream, Router::new().route("/mcp", post(upstream_call))).await
    });

    let dir = tempfile::tempdir()?;
    let vault = Vault::open(dir.path(), KeyBackend::File, Arc::new(SystemClock))?;
    let listener = gateway::bind_loopback(0).await?;
    let base_url = format!("http://{}", listener.local_addr()?);
    let token = setup(&vault, &upstream_url, &base_url).await?;
    let running = gateway::start(vault.clone(), listener, 30, std::future::pending()).await?;

    let relay = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let relay_url = format!("http://{}/mcp", relay.local_addr()?);
    let relay_state = (
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .build()?,
        upstream_url.clone(),
    );
    tokio::spawn(async move {
        axum::serve(
            relay,
            Router::new()
                .route("/mcp", post(bare_relay))
                .with_state(relay_state),
        )
        .await
    });

    let direct = Target {
        url: upstream_url,
        token: None,
    };
    let bare = Target {
        url: relay_url,
        token: None,
    };
    let through = Target {
        url: format!("{}/mcp/bench", running.base_url()),
        token: Some(token),
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .tcp_nodelay(true)
        .build()?;

    println!(
        "bench_proxy: tools/call over HTTP/1.1 keep-alive on 127.0.0.1, {} build, {} CPUs, {ROUNDS} alternating rounds per path",
        if cfg!(debug_assertions) {
            "DEBUG"
        } else {
            "release"
        },
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:>4} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10} {:>6}",
        "conc",
        "N",
        "p50 dir",
        "p50 gw",
        "+p50",
        "p99 dir",
        "p99 gw",
        "+p99",
        "rps dir",
        "rps gw",
        "ratio"
    );
    for clients in [1usize, 16] {
        let per_client = if clients == 1 { n } else { (n / 4).max(50) };
        // Warm-up: connections, caches, the token path.
        round(&http, &direct, clients, 200.min(per_client)).await?;
        round(&http, &through, clients, 200.min(per_client)).await?;
        round(&http, &bare, clients, 200.min(per_client)).await?;
        let (mut ld, mut lg, mut lb) = (Vec::new(), Vec::new(), Vec::new());
        let (mut wd, mut wg, mut wb) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        for _ in 0..ROUNDS {
            let (l, w) = round(&http, &direct, clients, per_client).await?;
            ld.extend(l);
            wd += w;
            let (l, w) = round(&http, &through, clients, per_client).await?;
            lg.extend(l);
            wg += w;
            let (l, w) = round(&http, &bare, clients, per_client).await?;
            lb.extend(l);
            wb += w;
        }
        ld.sort_by(f64::total_cmp);
        lg.sort_by(f64::total_cmp);
        lb.sort_by(f64::total_cmp);
        let rps_b = (clients * per_client * ROUNDS) as f64 / wb.as_secs_f64();
        let total = (clients * per_client * ROUNDS) as f64;
        let (rps_d, rps_g) = (total / wd.as_secs_f64(), total / wg.as_secs_f64());
        let ms = |us: f64| us / 1000.0;
        println!(
            "{:>4} {:>7} {:>8.3}ms {:>8.3}ms {:>8.3}ms {:>8.3}ms {:>8.3}ms {:>8.3}ms {:>10.0} {:>10.0} {:>5.1}%   {:>7.3}ms {:>10.0} {:>5.1}%",
            clients,
            clients * per_client * ROUNDS,
            ms(pct(&ld, 50.0)),
            ms(pct(&lg, 50.0)),
            ms(pct(&lg, 50.0) - pct(&ld, 50.0)),
            ms(pct(&ld, 99.0)),
            ms(pct(&lg, 99.0)),
            ms(pct(&lg, 99.0) - pct(&ld, 99.0)),
            rps_d,
            rps_g,
            100.0 * rps_g / rps_d,
            ms(pct(&lb, 50.0) - pct(&ld, 50.0)),
            rps_b,
            100.0 * rps_b / rps_d
        );
    }
    running.shutdown().await?;
    Ok(())
}
