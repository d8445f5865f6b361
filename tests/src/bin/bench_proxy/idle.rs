//! Section 3's memory reading, shared by the app and the bare WebKitGTK window: the environment a
//! windowed program gets on the bench's desktop, its process tree sampled until idle, and each
//! process's PSS split by kind of page.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::bail;

use crate::desktop::Desktop;
use crate::procs::{Memory, descendants, memory, program_name, terminate};

/// Idle: the total PSS of the last 7 samples, 0.5 s apart (3 s), spans at most 1 MiB.
const SAMPLE_EVERY: Duration = Duration::from_millis(500);
const SETTLE_SAMPLES: usize = 7;
const SETTLE_SPAN_KIB: i64 = 1024;
pub const PATIENCE: Duration = Duration::from_secs(60);
pub const WEB_PROCESS: &str = "WebKitWebProcess";
pub const NETWORK_PROCESS: &str = "WebKitNetworkProcess";

pub fn mib(kib: i64) -> f64 {
    kib as f64 / 1024.0
}

/// The environment of a windowed program on `desktop`, every directory it may write to under
/// `home`, its output to `log`.
pub fn on_desktop(
    command: &mut Command,
    desktop: &Desktop,
    home: &Path,
    log: &Path,
) -> anyhow::Result<()> {
    let out = std::fs::File::create(log)?;
    command
        .env("DISPLAY", &desktop.display)
        .env("DBUS_SESSION_BUS_ADDRESS", &desktop.bus)
        .env_remove("WAYLAND_DISPLAY")
        .env("NO_AT_BRIDGE", "1")
        .env("GTK_USE_PORTAL", "0")
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("xdg-data"))
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_CACHE_HOME", home.join("xdg-cache"))
        .env_remove("BROWSER")
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    Ok(())
}

pub struct Process {
    pub pid: u32,
    pub name: String,
    pub memory: Memory,
    pub split: PssSplit,
}

/// A process's PSS by kind of page, KiB: `Pss_Anon:`, `Pss_File:` and `Pss_Shmem:` of
/// /proc/<pid>/smaps_rollup (0 where unreadable).
#[derive(Default, Clone, Copy)]
pub struct PssSplit {
    pub anon: i64,
    pub file: i64,
    pub shmem: i64,
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

    pub fn sum(processes: &[Process]) -> PssSplit {
        processes.iter().fold(PssSplit::default(), |s, p| PssSplit {
            anon: s.anon + p.split.anon,
            file: s.file + p.split.file,
            shmem: s.shmem + p.split.shmem,
        })
    }
}

/// A program's tree once idle.
pub struct Idle {
    /// From the call to [`idle`] to the sample that settled; `None` when it never did within 60 s.
    pub after: Option<Duration>,
    pub processes: Vec<Process>,
}

impl Idle {
    /// The total PSS of the tree, KiB.
    pub fn pss(&self) -> i64 {
        self.processes.iter().map(|p| p.memory.pss).sum()
    }

    /// Prints each process's PSS and its split, then the tree's.
    pub fn print(&self) {
        for p in &self.processes {
            println!(
                "    {:<22} pid {:>7}  PSS {:>6.1} MiB  (RSS {:>6.1} MiB, anon {:>6.1} MiB)",
                p.name,
                p.pid,
                mib(p.memory.pss),
                mib(p.memory.rss),
                mib(p.memory.anon)
            );
            print_split("", p.split);
        }
        print_split("all processes", PssSplit::sum(&self.processes));
    }
}

pub fn print_split(label: &str, split: PssSplit) {
    println!(
        "    {label:<35} PSS {:>6.1} MiB anonymous, {:>6.1} MiB file-backed, {:>4.1} MiB shared memory",
        mib(split.anon),
        mib(split.file),
        mib(split.shmem)
    );
}

/// A launched program: on drop, SIGTERM (then SIGKILL) to it and SIGKILL to whatever of its tree
/// is left.
pub struct Running(pub Child);

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

/// Samples the program's tree until both WebKit processes run and its total PSS has settled;
/// returns the last sample and how long after the call it settled.
pub fn idle(running: &mut Running, log: &Path) -> anyhow::Result<Idle> {
    let pid = running.0.id();
    let started = Instant::now();
    let mut totals: Vec<i64> = Vec::new();
    loop {
        if let Some(status) = running.0.try_wait()? {
            bail!("it exited ({status}) before it was idle: {}", tail(log));
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
                return Ok(Idle {
                    after: Some(started.elapsed()),
                    processes,
                });
            }
        }
        if started.elapsed() > PATIENCE {
            if both {
                return Ok(Idle {
                    after: None,
                    processes,
                });
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

/// The last lines a program printed, for a failure message.
pub fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(10)..].join("\n    ");
    if tail.is_empty() {
        "it printed nothing".to_owned()
    } else {
        format!("its last lines:\n    {tail}")
    }
}

/// The item whose `key` is the median (the lower middle one for an even count).
pub fn median_by<T>(items: &[T], key: impl Fn(&T) -> i64) -> Option<&T> {
    let mut sorted: Vec<&T> = items.iter().collect();
    sorted.sort_by_key(|t| key(t));
    sorted.get(items.len().saturating_sub(1) / 2).copied()
}
