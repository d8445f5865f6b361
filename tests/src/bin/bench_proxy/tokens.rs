//! Section 2b: the token check with a million access tokens in the store.

use std::sync::Arc;

use crate::Gateway;
use crate::load::{Auth, Samples, Target, round};
use crate::world::World;

/// Rows per transaction while inserting.
const BATCH: u64 = 50_000;

fn line(label: &str, s: &mut Samples) {
    let s = s.summary();
    println!(
        "  {label:<36} {:>8} {:>9.3} {:>9.3} {:>9.0} {:>14.1}",
        s.requests, s.p50, s.p99, s.rps, s.hop_cpu_us
    );
}

pub async fn run(
    http: &reqwest::Client,
    gateway: &Gateway<'_>,
    world: &World,
    count: u64,
    n: usize,
    rounds: usize,
) -> anyhow::Result<()> {
    println!();
    println!("== 2b. The token check with {count} access tokens in the store ==");
    println!(
        "Method: authorized tools/call POSTs through `gatehoused serve` at 1 client, {rounds} \
         rounds x {n}, each request with a token picked at random. First with the {} tokens the \
         store holds; then this process inserts {count} access-token rows for the same grant \
         through the store's own insert (`access_tokens::insert`, SHA-256 of each token as the \
         product hashes it, {BATCH} rows per transaction, another handle on the SQLite file the \
         gateway serves), and the same requests run again, alternating rounds between a token \
         picked among the {count} and one among the first few. The gateway keeps a token's row \
         until the store's next commit, so the few-token rounds mostly answer from that cache \
         and the bulk rounds (a random token among {count}, rarely seen twice) from the store's \
         index.",
        world.few.len()
    );
    let few = Target {
        name: "few tokens",
        url: gateway.url.to_owned(),
        auth: Auth::OneOf(Arc::new(world.few.clone())),
        hop_pid: Some(gateway.pid),
    };
    let bulk = Target {
        name: "bulk tokens",
        url: gateway.url.to_owned(),
        auth: Auth::Bulk(count),
        hop_pid: Some(gateway.pid),
    };
    round(http, &few, 1, 200.min(n)).await?;
    let mut before = Samples::default();
    for _ in 0..rounds {
        before.add(round(http, &few, 1, n).await?);
    }
    let took = world.insert_bulk(count, BATCH).await?;
    let db_size: u64 = std::fs::read_dir(gateway.data_dir)?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".sqlite"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "  inserted {count} rows in {:.1} s ({:.0} rows/s); database + WAL now {:.0} MiB",
        took.as_secs_f64(),
        count as f64 / took.as_secs_f64(),
        db_size as f64 / 1_048_576.0
    );
    round(http, &bulk, 1, 200.min(n)).await?;
    let (mut with_bulk, mut with_few) = (Samples::default(), Samples::default());
    for _ in 0..rounds {
        with_bulk.add(round(http, &bulk, 1, n).await?);
        with_few.add(round(http, &few, 1, n).await?);
    }
    println!(
        "  {:<36} {:>8} {:>9} {:>9} {:>9} {:>14}",
        "store holds / token picked among",
        "requests",
        "p50 ms",
        "p99 ms",
        "req/s",
        "gw CPU us/req"
    );
    let few_n = world.few.len() + world.revocable.len();
    line(
        &format!("{few_n} tokens / {} few", world.few.len()),
        &mut before,
    );
    line(
        &format!("{} tokens / {count} bulk", count as usize + few_n),
        &mut with_bulk,
    );
    line(
        &format!(
            "{} tokens / {} few",
            count as usize + few_n,
            world.few.len()
        ),
        &mut with_few,
    );
    Ok(())
}
