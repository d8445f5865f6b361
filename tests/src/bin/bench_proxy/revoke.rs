//! Section 2c: how long an open stream lives on after its grant is revoked from another process.

use std::time::{Duration, Instant};

use rand::Rng;

use crate::Gateway;
use crate::procs::gatehoused;
use crate::streams::open_stream;
use crate::world::Access;

/// The spread of the random pause before each revoke: at least the period of any timer the gateway
/// re-checks open streams on (`ProxyOptions::stream_recheck_every` was 5 s), so revokes land at
/// random phases of it. A constant here, so that the product's options can change freely.
const PHASE_SPREAD: Duration = Duration::from_secs(5);

/// How long to wait for a stream to close before calling it open.
const GIVE_UP: Duration = Duration::from_secs(30);

pub async fn run(gateway: &Gateway<'_>, grants: &[Access]) -> anyhow::Result<()> {
    let url = gateway.url;
    println!();
    println!("== 2c. A revoke from another process reaching an open stream ==");
    println!(
        "Method: for each of {} grants, a client opens a GET stream through `gatehoused serve` and \
         waits for its first event; after a random pause of 0 to {} ms, `gatehoused grants revoke \
         <id>` runs as a separate process on the same data directory (as a person at a terminal \
         would while the gateway serves), and the client waits for its stream to end. Times are \
         from the revoke command's start; 'after exit' is from the moment it exited (its \
         transaction committed). The next POST with the revoked grant's token shows whether the \
         per-request check saw the revoke. The pause spreads the revokes over 5 s, so that a \
         periodic check in the gateway is met at random phases rather than always at the same one.",
        grants.len(),
        PHASE_SPREAD.as_millis()
    );
    let http = reqwest::Client::builder().tcp_nodelay(true).build()?;
    println!(
        "  {:>3} {:>12} {:>14} {:>14} {:>13}",
        "#", "revoke ms", "closed ms", "after exit ms", "next request"
    );
    let mut closes = Vec::new();
    for (i, access) in grants.iter().enumerate() {
        let mut stream = open_stream(&http, url, Some(&access.token)).await?;
        let pause = rand::thread_rng().gen_range(Duration::ZERO..PHASE_SPREAD);
        tokio::time::sleep(pause).await;
        let started = Instant::now();
        let revoke = tokio::process::Command::from(gatehoused(gateway.data_dir)?)
            .args(["grants", "revoke", access.grant.as_str()])
            .output()
            .await?;
        let exited = started.elapsed();
        anyhow::ensure!(
            revoke.status.success(),
            "gatehoused grants revoke failed: {}",
            String::from_utf8_lossy(&revoke.stderr)
        );
        // Any further bytes are ignored; the stream's end (clean or broken) is what counts.
        let ended = tokio::time::timeout(GIVE_UP, async {
            while let Ok(Some(_)) = stream.chunk().await {}
        })
        .await;
        let closed = started.elapsed();
        let next = http
            .post(url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .header("mcp-protocol-version", "2025-06-18")
            .bearer_auth(&access.token)
            .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{}}}"#)
            .send()
            .await?
            .status();
        if ended.is_ok() {
            closes.push(closed.as_secs_f64() * 1000.0);
            println!(
                "  {:>3} {:>12.1} {:>14.1} {:>14.1} {:>13}",
                i + 1,
                exited.as_secs_f64() * 1000.0,
                closed.as_secs_f64() * 1000.0,
                (closed - exited).as_secs_f64() * 1000.0,
                next.as_u16()
            );
        } else {
            println!(
                "  {:>3} {:>12.1} {:>14} {:>14} {:>13}",
                i + 1,
                exited.as_secs_f64() * 1000.0,
                format!("open > {} s", GIVE_UP.as_secs()),
                "-",
                next.as_u16()
            );
        }
    }
    closes.sort_by(f64::total_cmp);
    if let (Some(min), Some(max)) = (closes.first(), closes.last()) {
        println!(
            "  closed {} of {}: min {min:.0} ms, median {:.0} ms, max {max:.0} ms (target: under 1000 ms: {})",
            closes.len(),
            grants.len(),
            closes[closes.len() / 2],
            if closes.len() == grants.len() && *max < 1000.0 {
                "met"
            } else {
                "NOT MET"
            }
        );
    }
    Ok(())
}
