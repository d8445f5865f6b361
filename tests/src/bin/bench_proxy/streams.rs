//! Section 2a: many SSE streams held open through the gateway, and what they cost it in memory.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::Semaphore;

use crate::procs::{Memory, memory_tree};
use crate::upstream::{FIRST_EVENT, Upstream};

/// Opens a GET stream on `url` with `token` and waits for its first event.
pub async fn open_stream(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
) -> anyhow::Result<reqwest::Response> {
    let mut request = http
        .get(url)
        .header("accept", "text/event-stream")
        .header("mcp-protocol-version", "2025-06-18");
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let mut resp = request.send().await?;
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    anyhow::ensure!(
        resp.status() == 200 && content_type.starts_with("text/event-stream"),
        "GET stream refused: {} {content_type}",
        resp.status()
    );
    let mut seen = Vec::new();
    while !seen.windows(FIRST_EVENT.len()).any(|w| w == FIRST_EVENT) {
        let chunk = resp
            .chunk()
            .await?
            .context("the stream ended before its first event")?;
        seen.extend_from_slice(&chunk);
    }
    Ok(resp)
}

async fn wait_until(what: impl Fn() -> bool, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while !what() {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

/// A process that holds streams: its name, its pid (with its children), where a stream is opened,
/// the token it needs, and how many open-all / close-all cycles it gets.
pub struct Holder<'a> {
    pub name: &'static str,
    pub pid: u32,
    pub url: &'a str,
    pub token: Option<&'a str>,
    pub cycles: usize,
}

/// One open-all, close-all cycle.
struct Cycle {
    open_time: Duration,
    upstream_held: usize,
    before: Memory,
    with: Memory,
    closed: Memory,
}

/// Opens `count` streams at most 64 at a time and returns them with the time it took.
async fn open_all(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    count: usize,
) -> anyhow::Result<(Vec<reqwest::Response>, Duration)> {
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(64));
    let mut opening = tokio::task::JoinSet::new();
    for _ in 0..count {
        let (http, url, token, gate) = (
            http.clone(),
            url.to_owned(),
            token.map(str::to_owned),
            gate.clone(),
        );
        opening.spawn(async move {
            let _permit = gate.acquire_owned().await?;
            open_stream(&http, &url, token.as_deref()).await
        });
    }
    let mut held = Vec::with_capacity(count);
    while let Some(opened) = opening.join_next().await {
        held.push(opened??);
    }
    Ok((held, started.elapsed()))
}

async fn cycle(holder: &Holder<'_>, upstream: &Upstream, count: usize) -> anyhow::Result<Cycle> {
    // A fresh client each cycle: each stream has a connection of its own, closed with it.
    let http = reqwest::Client::builder().tcp_nodelay(true).build()?;
    let held_upstream = || upstream.open_streams.load(Ordering::SeqCst);
    let before = memory_tree(holder.pid);
    let (held, open_time) = open_all(&http, holder.url, holder.token, count).await?;
    wait_until(|| held_upstream() >= count, Duration::from_secs(10)).await;
    let upstream_held = held_upstream();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let with = memory_tree(holder.pid);
    drop(held);
    drop(http);
    wait_until(|| held_upstream() == 0, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let closed = memory_tree(holder.pid);
    Ok(Cycle {
        open_time,
        upstream_held,
        before,
        with,
        closed,
    })
}

fn mib(kib: i64) -> f64 {
    kib as f64 / 1024.0
}

/// `holders`: the floor (nginx) first, then the gateway.
pub async fn run(holders: &[Holder<'_>], upstream: &Upstream, count: usize) -> anyhow::Result<()> {
    println!();
    println!("== 2a. {count} SSE streams held open through the gateway ==");
    println!(
        "Method: MCP GET streams (the stream the gateway holds open for server-to-client messages; \
         POST answers in text/event-stream go through the same relay). The upstream answers each \
         GET with one SSE event and keeps the stream open. {count} clients (one connection each, \
         at most 64 opening at a time) open a stream through the hop, Gatehouse with one grant's \
         token, and wait for that event; the upstream counts the streams it holds. The hops are \
         their own processes, so their memory is read from /proc/<pid>/status (VmRSS, RssAnon) and \
         smaps_rollup (Pss), summed over nginx's master and workers: before the streams open, 1 s \
         after all are open, and 2 s after they are closed. Per stream = (with - before) / {count}: \
         the streams' client and upstream connections, tasks and buffers inside the hop; nothing of \
         the clients is counted. nginx (same configuration as section 1; proxy_buffering off) is \
         the floor; Gatehouse runs more than one cycle, so memory kept after a close shows whether \
         the next streams reuse it (allocator) or add to it (a leak)."
    );
    println!(
        "  {:<10} {:>5} {:>7} {:>6} {:>10} {:>10} {:>10} {:>10} {:>9} {:>8}",
        "hop",
        "cycle",
        "open s",
        "held",
        "RSS before",
        "with",
        "closed",
        "KiB/strm",
        "PSS KiB/s",
        "fds/strm"
    );
    for holder in holders {
        for c in 1..=holder.cycles {
            let x = cycle(holder, upstream, count).await?;
            let per = |a: i64, b: i64| (a - b) as f64 / count as f64;
            println!(
                "  {:<10} {:>5} {:>7.2} {:>6} {:>7.1}MiB {:>7.1}MiB {:>7.1}MiB {:>10.1} {:>9.1} {:>8.2}",
                holder.name,
                c,
                x.open_time.as_secs_f64(),
                x.upstream_held,
                mib(x.before.rss),
                mib(x.with.rss),
                mib(x.closed.rss),
                per(x.with.rss, x.before.rss),
                per(x.with.pss, x.before.pss),
                per(x.with.fds, x.before.fds)
            );
        }
    }
    Ok(())
}
