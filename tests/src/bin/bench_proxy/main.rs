//! `cargo xtask bench`: what a hop through Gatehouse costs next to one well-built hop (nginx), and
//! how the gateway holds up at scale: many open streams, many tokens, a revoke from elsewhere. Not a
//! test: it prints each section's method and its numbers, and the speed targets as met / not met;
//! nothing fails on a number.
//!
//! Processes: this one runs the upstream (axum) and the clients; nginx, the bare relay (this program
//! started again as `bench_proxy relay URL`) and the gateway (`gatehoused serve`, release) each run
//! as their own process, so every hop has its own runtime or workers and the gateway's memory can
//! be read from /proc. The store is written from here through gatehouse-core's own functions: the
//! gateway sees another process's writes, as it does the CLI's.
//!
//! Sections: 1. direct / nginx / relay / Gatehouse at 1 and 16 clients; 2a. SSE streams held open
//! and the gateway's memory per stream; 2b. the token check with a million tokens in the store;
//! 2c. a revoke from another process reaching an open stream; 3. the whole app (the release
//! `gatehouse` that `cargo xtask bench` builds and names in `GATEHOUSE_APP_BIN`) with its window
//! open on Xvfb: launch to gateway ready, and the idle PSS of the app and its WebKit processes,
//! beside the same reading of a bare WebKitGTK window (webkit_floor.c, compiled at run time) as
//! the platform's floor.
//! Where the app cannot run (no app build, no Xvfb or D-Bus), section 3 says why and the rest runs;
//! where the floor cannot be built (no gcc, pkg-config or WebKitGTK headers), its row says why.
//!
//! Sizes (environment, defaults in brackets, about five minutes on 2 cores):
//! `GATEHOUSE_BENCH_N` requests per client per round at 1 client, a quarter of it at 16 [5000]
//! (also the first argument, as before); `GATEHOUSE_BENCH_ROUNDS` [5]; `GATEHOUSE_BENCH_STREAMS`
//! [1000] and `GATEHOUSE_BENCH_STREAM_CYCLES` through the gateway [2]; `GATEHOUSE_BENCH_TOKENS`
//! [1000000]; `GATEHOUSE_BENCH_REVOKES` [5]; `GATEHOUSE_BENCH_APP_LAUNCHES` [5]. A size of 0
//! skips its section (N=0 skips section 1; section 2b also sends N requests per round).

mod app;
mod desktop;
mod floor;
mod hops;
mod idle;
mod load;
mod nginx;
mod procs;
mod revoke;
mod streams;
mod tokens;
mod upstream;
mod world;

use std::process::Command;
use std::sync::Arc;

use anyhow::Context;
use gatehouse_core::clock::SystemClock;
use gatehouse_core::crypto::KeyBackend;
use gatehouse_core::vault::Vault;

use crate::load::{Auth, Target};
use crate::procs::{Hop, memory};

/// The gateway under test: its `/mcp/<slug>` URL, its process and its data directory.
pub struct Gateway<'a> {
    pub url: &'a str,
    pub pid: u32,
    pub data_dir: &'a std::path::Path,
}

struct Sizes {
    n: usize,
    rounds: usize,
    streams: usize,
    stream_cycles: usize,
    tokens: u64,
    revokes: u64,
    app_launches: usize,
}

fn size<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .ok()
            .with_context(|| format!("{name}={v} is not a number")),
        Err(_) => Ok(default),
    }
}

impl Sizes {
    fn from_env(first_arg: Option<&str>) -> anyhow::Result<Sizes> {
        let n = match first_arg {
            Some(a) => a
                .parse()
                .with_context(|| format!("{a:?} is not a number"))?,
            None => size("GATEHOUSE_BENCH_N", 5_000)?,
        };
        Ok(Sizes {
            n,
            rounds: size("GATEHOUSE_BENCH_ROUNDS", 5)?,
            streams: size("GATEHOUSE_BENCH_STREAMS", 1_000)?,
            stream_cycles: size("GATEHOUSE_BENCH_STREAM_CYCLES", 2)?,
            tokens: size("GATEHOUSE_BENCH_TOKENS", 1_000_000)?,
            revokes: size("GATEHOUSE_BENCH_REVOKES", 5)?,
            app_launches: size("GATEHOUSE_BENCH_APP_LAUNCHES", 5)?,
        })
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(upstream::RELAY_ARG) {
        let url = args.get(1).context("relay needs the upstream URL")?;
        return upstream::run_relay(url);
    }
    let sizes = Sizes::from_env(args.first().map(String::as_str))?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(&sizes))
}

async fn run(sizes: &Sizes) -> anyhow::Result<()> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Each held stream is a client socket and an upstream socket here, two sockets in the gateway
    // (which inherits this limit).
    let nofile = rlimit::increase_nofile_limit(4 * sizes.streams as u64 + 1024)?;
    println!(
        "bench_proxy: {} build, {cpus} CPUs, open files limit {nofile}; sizes: N={} rounds={} streams={}x{} tokens={} revokes={} app launches={}",
        if cfg!(debug_assertions) {
            "DEBUG"
        } else {
            "release"
        },
        sizes.n,
        sizes.rounds,
        sizes.streams,
        sizes.stream_cycles,
        sizes.tokens,
        sizes.revokes,
        sizes.app_launches
    );
    println!(
        "Anything else running on this machine (a compile) shows up in these numbers; compare runs \
         made on a quiet machine."
    );

    let upstream = upstream::start().await?;
    let data = tempfile::tempdir()?;
    let vault = Vault::open(data.path(), KeyBackend::File, Arc::new(SystemClock))?;
    let mut serve = procs::gatehoused(data.path())?;
    serve.args(["serve", "--port", "0"]);
    let gateway = Hop::spawn(serve)?;
    let world = world::World::create(&vault, &upstream.url, &gateway.base_url, 16, sizes.revokes)?;
    let gateway_url = format!("{}/mcp/{}", gateway.base_url, world::SLUG);
    println!(
        "gatehoused serve: {:.1} ms from launch to its `listening on` line; idle {}",
        gateway.ready_after.as_secs_f64() * 1000.0,
        memory(gateway.pid())
    );

    let nginx = nginx::start(upstream.port, cpus)?;
    let mut relay_command = Command::new(std::env::current_exe()?);
    relay_command.args([upstream::RELAY_ARG, &upstream.url]);
    let relay = Hop::spawn(relay_command)?;

    let http = load::http_client()?;
    let paths = [
        Target {
            name: "direct",
            url: upstream.url.clone(),
            auth: Auth::None,
            hop_pid: None,
        },
        Target {
            name: "nginx",
            url: format!("{}/mcp", nginx.base_url),
            auth: Auth::None,
            hop_pid: Some(nginx.pid()),
        },
        Target {
            name: "bare relay",
            url: format!("{}/mcp", relay.base_url),
            auth: Auth::None,
            hop_pid: Some(relay.pid()),
        },
        Target {
            name: "Gatehouse",
            url: gateway_url.clone(),
            auth: Auth::OneOf(Arc::new(vec![world.few[0].clone()])),
            hop_pid: Some(gateway.pid()),
        },
    ];
    let plan = hops::Plan {
        n: sizes.n,
        rounds: sizes.rounds,
        nginx_workers: nginx.workers,
        nginx_version: nginx.version.clone(),
    };
    if sizes.n > 0 {
        hops::run(&http, &paths, &plan).await?;
    }
    drop(relay);

    if sizes.streams > 0 {
        let holders = [
            streams::Holder {
                name: "nginx",
                pid: nginx.pid(),
                url: &paths[1].url,
                token: None,
                cycles: 1,
            },
            streams::Holder {
                name: "Gatehouse",
                pid: gateway.pid(),
                url: &gateway_url,
                token: Some(&world.few[0]),
                cycles: sizes.stream_cycles,
            },
        ];
        streams::run(&holders, &upstream, sizes.streams).await?;
    }
    drop(nginx);
    let under_test = Gateway {
        url: &gateway_url,
        pid: gateway.pid(),
        data_dir: data.path(),
    };
    if sizes.tokens > 0 {
        tokens::run(
            &http,
            &under_test,
            &world,
            sizes.tokens,
            sizes.n,
            sizes.rounds,
        )
        .await?;
    }
    if !world.revocable.is_empty() {
        revoke::run(&under_test, &world.revocable).await?;
    }
    drop(gateway);
    if sizes.app_launches > 0 {
        let launches = sizes.app_launches;
        tokio::task::spawn_blocking(move || app::run(launches)).await?;
    }
    Ok(())
}
