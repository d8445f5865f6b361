//! Section 3: the whole app as a person runs it: the release `gatehouse` with its window open, from
//! launch to a gateway that answers, and what it and its WebKit processes hold once idle; beside
//! it, the same reading of a bare WebKitGTK window (the floor, floor.rs), so one run shows how
//! much of the app's memory any WebKitGTK window costs on this machine.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::desktop::Desktop;
use crate::floor;
use crate::idle::{
    Idle, NETWORK_PROCESS, PATIENCE, Running, WEB_PROCESS, idle, median_by, mib, on_desktop, tail,
};

const READY_GOAL_MS: f64 = 500.0;
/// 120 MB read as 120 x 10^6 bytes, the stricter of its two readings.
pub const PSS_GOAL_BYTES: f64 = 120e6;

pub fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT MET" }
}

/// Runs `launches` launches of the app and as many of the floor, alternately, and prints them; a
/// machine where the app cannot run gets the reason, and one where the floor cannot be built gets
/// that reason under the app's numbers.
pub fn run(launches: usize) {
    println!();
    println!(
        "== 3. The whole app: launch to gateway ready, idle memory, against a bare WebKitGTK window =="
    );
    println!(
        "Method: the release `gatehouse` (cargo build --release: the default custom-protocol feature \
         embeds the built ui/dist, as a release does; GATEHOUSE_APP_BIN) is launched {launches} times, \
         one after the other, on Xvfb (1280x900x24) and a private D-Bus session bus, both started \
         once before the first launch, with NO_AT_BRIDGE=1, GTK_USE_PORTAL=0, \
         GATEHOUSE_KEY_BACKEND=file, a free GATEHOUSE_PORT per launch, and one temporary \
         GATEHOUSE_DATA_DIR, HOME and XDG directories (launch 1 is a first run that creates the \
         store and key file; the others open them). Ready: from spawn until a plain TCP client, \
         polling every 1 ms, gets `HTTP/1.1 200` for GET /health. Idle: once {WEB_PROCESS} and \
         {NETWORK_PROCESS} run, the program's process tree (every thread's children, recursively) \
         is sampled every 0.5 s until its total PSS stays within 1 MiB over 3 s; PSS is `Pss:` of \
         /proc/<pid>/smaps_rollup, shared pages divided among every process on the machine that \
         maps them (another WebKit program running lowers these numbers); it is split into \
         anonymous (heap, stacks, buffers), file-backed (the binary and shared libraries: code, \
         read-only data) and shared memory by `Pss_Anon:`, `Pss_File:` and `Pss_Shmem:` of the \
         same file. WebKit renders in software on Xvfb. Each launch is then stopped (SIGTERM, then \
         SIGKILL for anything of its tree left). The floor: after each app launch, once the app's \
         tree is gone, `webkit_floor` (webkit_floor.c next to this bench, compiled now with gcc and \
         `pkg-config --cflags --libs webkit2gtk-4.1`, the WebKitGTK the app links) opens a GTK \
         window of the app's size (1040x720) with one WebKitWebView on WebKit's default settings \
         that loads a one-line page with webkit_web_view_load_html, on the same desktop with the \
         same environment and its own temporary HOME and XDG directories; it is read the same \
         way, idle counted from its spawn. Goals on the medians; the floor has no goal, it shows \
         what any WebKitGTK window costs here."
    );
    if let Err(error) = measure(launches) {
        println!("  not measured: {error:#}");
    }
}

fn app_bin() -> anyhow::Result<PathBuf> {
    if let Some(why) = std::env::var_os("GATEHOUSE_APP_UNAVAILABLE") {
        bail!("{}", why.to_string_lossy());
    }
    let path = std::env::var_os("GATEHOUSE_APP_BIN").map(PathBuf::from);
    let path = path.context("GATEHOUSE_APP_BIN is not set (`cargo xtask bench` sets it)")?;
    anyhow::ensure!(path.is_file(), "{} is missing", path.display());
    Ok(path)
}

fn idle_note(after: Option<Duration>, since: &str) -> String {
    match after {
        Some(after) => format!(" (idle {:.1} s after {since})", after.as_secs_f64()),
        None => " (still changing after 60 s: the last sample)".to_owned(),
    }
}

fn measure(launches: usize) -> anyhow::Result<()> {
    anyhow::ensure!(
        cfg!(target_os = "linux"),
        "this section reads /proc and runs Xvfb: Linux only"
    );
    let app = app_bin()?;
    let desktop = Desktop::start()?;
    let home = tempfile::tempdir()?;
    let floor_home = tempfile::tempdir()?;
    let mut floor_bin = floor::compile(floor_home.path()).map_err(|e| format!("{e:#}"));
    let mut runs = Vec::with_capacity(launches);
    let mut floors = Vec::with_capacity(launches);
    for n in 1..=launches {
        let run = launch(&app, &desktop, home.path(), n)?;
        println!(
            "  launch {n}: gateway ready after {:.1} ms; {} processes, total PSS {:.1} MiB{}",
            run.ready.as_secs_f64() * 1000.0,
            run.idle.processes.len(),
            mib(run.idle.pss()),
            idle_note(run.idle.after, "ready")
        );
        runs.push(run);
        if let Ok(binary) = &floor_bin {
            match floor::launch(binary, &desktop, floor_home.path(), n) {
                Ok(idle) => {
                    println!(
                        "  floor launch {n}: {} processes, total PSS {:.1} MiB{}",
                        idle.processes.len(),
                        mib(idle.pss()),
                        idle_note(idle.after, "spawn")
                    );
                    floors.push((n, idle));
                }
                Err(error) => floor_bin = Err(format!("{error:#}")),
            }
        }
    }
    let Some(shown) = median_by(&runs, |r| r.idle.pss()) else {
        return Ok(());
    };
    println!(
        "  The app: idle memory of launch {}, the median by total PSS:",
        shown.n
    );
    shown.idle.print();
    let total = shown.idle.pss();
    let bytes = total as f64 * 1024.0;
    println!(
        "    {:<35} PSS {:>6.1} MiB = {:.1} MB (goal < {:.0} MB: {})",
        "total",
        mib(total),
        bytes / 1e6,
        PSS_GOAL_BYTES / 1e6,
        verdict(bytes < PSS_GOAL_BYTES)
    );
    match (&floor_bin, median_by(&floors, |(_, idle)| idle.pss())) {
        (Err(why), _) => println!("  The floor (a bare WebKitGTK window): not measured: {why}"),
        (Ok(_), None) => {}
        (Ok(_), Some((n, floor))) => floor::compare(&shown.idle, floor, *n),
    }
    let mut ready: Vec<f64> = runs
        .iter()
        .map(|r| r.ready.as_secs_f64() * 1000.0)
        .collect();
    ready.sort_by(f64::total_cmp);
    let mid = ready.len() / 2;
    let median = (ready[mid] + ready[(ready.len() - 1) / 2]) / 2.0;
    println!(
        "  Launch to gateway ready: median {median:.1} ms of {} launches (goal < {READY_GOAL_MS:.0} ms: {})",
        ready.len(),
        verdict(median < READY_GOAL_MS)
    );
    Ok(())
}

struct Launch {
    n: usize,
    ready: Duration,
    idle: Idle,
}

fn launch(app: &Path, desktop: &Desktop, home: &Path, n: usize) -> anyhow::Result<Launch> {
    let port = gatehouse_e2e::free_port();
    let log = home.join(format!("launch-{n}.log"));
    let mut command = Command::new(app);
    on_desktop(&mut command, desktop, home, &log)?;
    command
        .env("GATEHOUSE_DATA_DIR", home.join("data"))
        .env("GATEHOUSE_PORT", port.to_string())
        .env("GATEHOUSE_KEY_BACKEND", "file");
    let started = Instant::now();
    let mut running = Running(command.spawn().context("cannot start the app")?);
    let ready = loop {
        if healthy(port) {
            break started.elapsed();
        }
        if let Some(status) = running.0.try_wait()? {
            bail!(
                "launch {n}: the app exited ({status}) before its gateway answered: {}",
                tail(&log)
            );
        }
        if started.elapsed() > PATIENCE {
            bail!(
                "launch {n}: no 200 from /health within 60 s: {}",
                tail(&log)
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let idle = idle(&mut running, &log).with_context(|| format!("launch {n}"))?;
    drop(running);
    Ok(Launch { n, ready, idle })
}

/// `GET /health` over a fresh connection: true on `HTTP/1.1 200`.
fn healthy(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request =
        format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    let mut status = [0u8; 12];
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_exact(&mut status).is_ok()
        && &status == b"HTTP/1.1 200"
}
