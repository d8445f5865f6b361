//! Section 3: the whole app as a person runs it: the release `gatehouse` with its window open, from
//! launch to a gateway that answers, and what it and its WebKit processes hold once idle.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::desktop::Desktop;
use crate::procs::{Memory, descendants, memory, program_name, terminate};

const READY_GOAL_MS: f64 = 500.0;
/// 120 MB read as 120 x 10^6 bytes, the stricter of its two readings.
const PSS_GOAL_BYTES: f64 = 120e6;
/// Idle: the total PSS of the last 7 samples, 0.5 s apart (3 s), spans at most 1 MiB.
const SAMPLE_EVERY: Duration = Duration::from_millis(500);
const SETTLE_SAMPLES: usize = 7;
const SETTLE_SPAN_KIB: i64 = 1024;
const PATIENCE: Duration = Duration::from_secs(60);
const WEB_PROCESS: &str = "WebKitWebProcess";
const NETWORK_PROCESS: &str = "WebKitNetworkProcess";

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT MET" }
}

fn mib(kib: i64) -> f64 {
    kib as f64 / 1024.0
}

/// Runs `launches` launches and prints them; a machine where the app cannot run gets the reason.
pub fn run(launches: usize) {
    println!();
    println!("== 3. The whole app: launch to gateway ready, idle memory ==");
    println!(
        "Method: the release `gatehouse` (cargo build --release: the default custom-protocol feature \
         embeds the built ui/dist, as a release does; GATEHOUSE_APP_BIN) is launched {launches} times, \
         one after the other, on Xvfb (1280x900x24) and a private D-Bus session bus, both started \
         once before the first launch, with NO_AT_BRIDGE=1, GATEHOUSE_KEY_BACKEND=file, a free \
         GATEHOUSE_PORT per launch, and one temporary GATEHOUSE_DATA_DIR, HOME and XDG directories \
         (launch 1 is a first run that creates the store and key file; the others open them). \
         Ready: from spawn until a plain TCP client, polling every 1 ms, gets `HTTP/1.1 200` for \
         GET /health. Idle: once {WEB_PROCESS} and {NETWORK_PROCESS} run, the app's process tree \
         (every thread's children, recursively) is sampled every 0.5 s until its total PSS stays \
         within 1 MiB over 3 s; PSS is `Pss:` of /proc/<pid>/smaps_rollup, shared pages divided \
         among every process on the machine that maps them (another WebKit program running lowers \
         these numbers); it is split into anonymous (heap, stacks, buffers), file-backed (the \
         binary and shared libraries: code, read-only data) and shared memory by `Pss_Anon:`, \
         `Pss_File:` and `Pss_Shmem:` of the same file. WebKit renders in software on Xvfb. Each launch is then stopped (SIGTERM, \
         then SIGKILL for anything of its tree left). Goals on the medians."
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

fn measure(launches: usize) -> anyhow::Result<()> {
    anyhow::ensure!(
        cfg!(target_os = "linux"),
        "this section reads /proc and runs Xvfb: Linux only"
    );
    let app = app_bin()?;
    let desktop = Desktop::start()?;
    let home = tempfile::tempdir()?;
    let mut runs = Vec::with_capacity(launches);
    for n in 1..=launches {
        let run = launch(&app, &desktop, home.path(), n)?;
        println!(
            "  launch {n}: gateway ready after {:.1} ms; {} processes, total PSS {:.1} MiB{}",
            run.ready.as_secs_f64() * 1000.0,
            run.processes.len(),
            mib(run.pss()),
            match run.idle_after {
                Some(after) => format!(" (idle {:.1} s after ready)", after.as_secs_f64()),
                None => " (still changing after 60 s: the last sample)".to_owned(),
            }
        );
        runs.push(run);
    }
    // The launch whose total PSS is the median (the lower middle one for an even count).
    let mut by_pss: Vec<&Launch> = runs.iter().collect();
    by_pss.sort_by_key(|r| r.pss());
    let Some(shown) = by_pss.get(runs.len().saturating_sub(1) / 2) else {
        return Ok(());
    };
    println!(
        "  Idle memory of launch {}, the median by total PSS:",
        shown.n
    );
    for p in &shown.processes {
        println!(
            "    {:<22} pid {:>7}  PSS {:>6.1} MiB  (RSS {:>6.1} MiB, anon {:>6.1} MiB)",
            p.name,
            p.pid,
            mib(p.memory.pss),
            mib(p.memory.rss),
            mib(p.memory.anon)
        );
        println!(
            "    {:<35} PSS {:>6.1} MiB anonymous, {:>6.1} MiB file-backed, {:>4.1} MiB shared memory",
            "",
            mib(p.split.anon),
            mib(p.split.file),
            mib(p.split.shmem)
        );
    }
    let sum = |part: fn(&PssSplit) -> i64| shown.processes.iter().map(|p| part(&p.split)).sum();
    println!(
        "    {:<35} PSS {:>6.1} MiB anonymous, {:>6.1} MiB file-backed, {:>4.1} MiB shared memory",
        "all processes",
        mib(sum(|s| s.anon)),
        mib(sum(|s| s.file)),
        mib(sum(|s| s.shmem))
    );
    let total = shown.pss();
    let bytes = total as f64 * 1024.0;
    println!(
        "    {:<35} PSS {:>6.1} MiB = {:.1} MB (goal < {:.0} MB: {})",
        "total",
        mib(total),
        bytes / 1e6,
        PSS_GOAL_BYTES / 1e6,
        verdict(bytes < PSS_GOAL_BYTES)
    );
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

struct Process {
    pid: u32,
    name: String,
    memory: Memory,
    split: PssSplit,
}

/// A process's PSS by kind of page, KiB: `Pss_Anon:`, `Pss_File:` and `Pss_Shmem:` of
/// /proc/<pid>/smaps_rollup (0 where unreadable).
#[derive(Default)]
struct PssSplit {
    anon: i64,
    file: i64,
    shmem: i64,
}

impl PssSplit {
    fn of(pid: u32) -> PssSplit {
        let rollup =
            std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
        let field = |name: &str| -> i64 {
            rollup
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        };
        PssSplit {
            anon: field("Pss_Anon:"),
            file: field("Pss_File:"),
            shmem: field("Pss_Shmem:"),
        }
    }
}

struct Launch {
    n: usize,
    ready: Duration,
    /// From ready to idle.
    idle_after: Option<Duration>,
    processes: Vec<Process>,
}

impl Launch {
    /// The total PSS of the app's tree, KiB.
    fn pss(&self) -> i64 {
        self.processes.iter().map(|p| p.memory.pss).sum()
    }
}

/// The running app: on drop, SIGTERM (then SIGKILL) to it and SIGKILL to whatever of its tree is left.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let tree = descendants(self.0.id());
        terminate(&mut self.0);
        #[cfg(unix)]
        for pid in tree.into_iter().skip(1) {
            if let Ok(pid) = i32::try_from(pid) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

fn launch(app: &Path, desktop: &Desktop, home: &Path, n: usize) -> anyhow::Result<Launch> {
    let port = gatehouse_e2e::free_port();
    let log = home.join(format!("launch-{n}.log"));
    let out = std::fs::File::create(&log)?;
    let mut command = Command::new(app);
    command
        .env("DISPLAY", &desktop.display)
        .env("DBUS_SESSION_BUS_ADDRESS", &desktop.bus)
        .env_remove("WAYLAND_DISPLAY")
        .env("NO_AT_BRIDGE", "1")
        .env("GTK_USE_PORTAL", "0")
        .env("GATEHOUSE_DATA_DIR", home.join("data"))
        .env("GATEHOUSE_PORT", port.to_string())
        .env("GATEHOUSE_KEY_BACKEND", "file")
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("xdg-data"))
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_CACHE_HOME", home.join("xdg-cache"))
        .env_remove("BROWSER")
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
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
    let (processes, idle_after) = idle(&mut running, &log)?;
    drop(running);
    Ok(Launch {
        n,
        ready,
        idle_after,
        processes,
    })
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

/// Samples the app's tree until both WebKit processes run and its total PSS has settled; returns
/// the last sample and how long after the call it settled, `None` when it never did within 60 s.
fn idle(running: &mut Running, log: &Path) -> anyhow::Result<(Vec<Process>, Option<Duration>)> {
    let pid = running.0.id();
    let started = Instant::now();
    let mut totals: Vec<i64> = Vec::new();
    loop {
        if let Some(status) = running.0.try_wait()? {
            bail!(
                "the app exited ({status}) before it was idle: {}",
                tail(log)
            );
        }
        let processes: Vec<Process> = descendants(pid)
            .into_iter()
            .map(|pid| Process {
                pid,
                name: program_name(pid),
                memory: memory(pid),
                split: PssSplit::of(pid),
            })
            .collect();
        let both = [WEB_PROCESS, NETWORK_PROCESS]
            .iter()
            .all(|wanted| processes.iter().any(|p| p.name == *wanted));
        if both {
            totals.push(processes.iter().map(|p| p.memory.pss).sum());
            let last = &totals[totals.len().saturating_sub(SETTLE_SAMPLES)..];
            let span = last.iter().max().unwrap_or(&0) - last.iter().min().unwrap_or(&0);
            if last.len() == SETTLE_SAMPLES && span <= SETTLE_SPAN_KIB {
                return Ok((processes, Some(started.elapsed())));
            }
        }
        if started.elapsed() > PATIENCE {
            if both {
                return Ok((processes, None));
            }
            let names: Vec<&str> = processes.iter().map(|p| p.name.as_str()).collect();
            bail!(
                "no {WEB_PROCESS} and {NETWORK_PROCESS} after 60 s, only {names:?}: {}",
                tail(log)
            );
        }
        std::thread::sleep(SAMPLE_EVERY);
    }
}

/// The last lines the app printed, for a failure message.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(10)..].join("\n    ");
    if tail.is_empty() {
        "it printed nothing".to_owned()
    } else {
        format!("its last lines:\n    {tail}")
    }
}
