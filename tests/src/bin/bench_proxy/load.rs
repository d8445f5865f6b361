//! The load: C client tasks sharing one keep-alive HTTP client, each sending N sequential
//! `tools/call` POSTs and timing each one from send to the last byte of the answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::procs::{context_switches, cpu_ticks};
use crate::world::{BULK, token_text};

/// Which bearer token a request carries.
#[derive(Clone)]
pub enum Auth {
    None,
    /// One of these, picked at random for each request.
    OneOf(Arc<Vec<String>>),
    /// One of the first `n` bulk tokens, picked at random for each request.
    Bulk(u64),
}

impl Auth {
    fn pick(&self, rng: &mut StdRng) -> Option<String> {
        match self {
            Auth::None => None,
            Auth::OneOf(tokens) => Some(tokens[rng.gen_range(0..tokens.len())].clone()),
            Auth::Bulk(n) => Some(token_text(BULK, rng.gen_range(0..*n))),
        }
    }
}

/// A path to the upstream.
#[derive(Clone)]
pub struct Target {
    pub name: &'static str,
    pub url: String,
    pub auth: Auth,
    /// The hop's process (with its children), whose CPU time a round counts; `None` for direct.
    pub hop_pid: Option<u32>,
}

/// Latencies (µs), wall time, and the hop's CPU ticks and context switches of one or more rounds.
#[derive(Debug, Default)]
pub struct Samples {
    latencies: Vec<f64>,
    wall: Duration,
    hop_cpu_ticks: u64,
    hop_switches: u64,
}

/// What a path did: latency percentiles in ms, throughput in requests/s, and the hop process's CPU
/// time in µs and context switches per request.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub requests: usize,
    pub p50: f64,
    pub p99: f64,
    pub rps: f64,
    pub hop_cpu_us: f64,
    pub hop_switches: f64,
}

impl Samples {
    pub fn add(&mut self, other: Samples) {
        self.latencies.extend(other.latencies);
        self.wall += other.wall;
        self.hop_cpu_ticks += other.hop_cpu_ticks;
        self.hop_switches += other.hop_switches;
    }

    pub fn summary(&mut self) -> Summary {
        self.latencies.sort_by(f64::total_cmp);
        let requests = self.latencies.len();
        Summary {
            requests,
            p50: pct(&self.latencies, 50.0) / 1000.0,
            p99: pct(&self.latencies, 99.0) / 1000.0,
            rps: requests as f64 / self.wall.as_secs_f64(),
            hop_cpu_us: self.hop_cpu_ticks as f64 * 10_000.0 / requests as f64,
            hop_switches: self.hop_switches as f64 / requests as f64,
        }
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// The client every round uses: keep-alive, no Nagle delay, enough idle connections for 16 clients.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .tcp_nodelay(true)
        .build()?)
}

/// Runs `clients` tasks × `n` requests against `target`.
pub async fn round(
    http: &reqwest::Client,
    target: &Target,
    clients: usize,
    n: usize,
) -> anyhow::Result<Samples> {
    let cpu_before = target.hop_pid.map_or(0, cpu_ticks);
    let switches_before = target.hop_pid.map_or(0, context_switches);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let http = http.clone();
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(c as u64 ^ start.elapsed().as_nanos() as u64);
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
                if let Some(token) = target.auth.pick(&mut rng) {
                    req = req.bearer_auth(token);
                }
                let t0 = Instant::now();
                let resp = req.send().await?;
                let status = resp.status();
                let bytes = resp.bytes().await?;
                lat.push(t0.elapsed().as_secs_f64() * 1e6);
                anyhow::ensure!(
                    status == 200 && bytes.windows(4).any(|w| w == b"\"ok\""),
                    "{}: unexpected answer {status}: {}",
                    target.name,
                    String::from_utf8_lossy(&bytes)
                );
            }
            anyhow::Ok(lat)
        }));
    }
    let mut latencies = Vec::with_capacity(clients * n);
    for t in tasks {
        latencies.extend(t.await??);
    }
    let wall = start.elapsed();
    Ok(Samples {
        latencies,
        wall,
        hop_cpu_ticks: target
            .hop_pid
            .map_or(0, cpu_ticks)
            .saturating_sub(cpu_before),
        hop_switches: target
            .hop_pid
            .map_or(0, context_switches)
            .saturating_sub(switches_before),
    })
}
