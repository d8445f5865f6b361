//! The hops that run as their own processes (gatehoused, the bare relay), and what `/proc` says
//! about a process's memory.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// A server process that prints `listening on http://127.0.0.1:PORT` when ready; stopped with
/// SIGTERM on drop.
pub struct Hop {
    child: Child,
    /// Kept open so that a late write to stdout does not fail.
    _stdout: BufReader<ChildStdout>,
    pub base_url: String,
    /// From spawn to the address line.
    pub ready_after: Duration,
}

impl Hop {
    pub fn spawn(mut command: Command) -> anyhow::Result<Hop> {
        let started = Instant::now();
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {:?}", command.get_program()))?;
        let stdout = child.stdout.take().context("stdout is not piped")?;
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let ready_after = started.elapsed();
        let base_url = line
            .trim()
            .strip_prefix("listening on ")
            .with_context(|| {
                format!(
                    "{:?} printed {line:?} instead of its address",
                    command.get_program()
                )
            })?
            .to_owned();
        Ok(Hop {
            child,
            _stdout: stdout,
            base_url,
            ready_after,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Hop {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

/// SIGTERM, then SIGKILL after 5 s (nginx's master ends its workers on SIGTERM; a SIGKILL would
/// orphan them).
pub fn terminate(child: &mut Child) {
    #[cfg(unix)]
    {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        if let Ok(pid) = i32::try_from(child.id()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Where the release `gatehoused` is: `GATEHOUSE_BIN_DIR` (set by `cargo xtask bench`), else next to
/// this program (both are built into target/release).
pub fn gatehoused_path() -> anyhow::Result<PathBuf> {
    let dir = match std::env::var_os("GATEHOUSE_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::current_exe()?
            .parent()
            .context("this program has no directory")?
            .to_path_buf(),
    };
    let path = dir.join(format!("gatehoused{}", std::env::consts::EXE_SUFFIX));
    anyhow::ensure!(
        path.is_file(),
        "{} is missing: run `cargo xtask bench`, which builds it",
        path.display()
    );
    Ok(path)
}

/// A `gatehoused` command on `data_dir`, its key in a file there (never the user's keyring).
pub fn gatehoused(data_dir: &Path) -> anyhow::Result<Command> {
    let mut command = Command::new(gatehoused_path()?);
    command
        .arg("--data-dir")
        .arg(data_dir)
        .env("GATEHOUSE_KEY_BACKEND", "file")
        .env_remove("GATEHOUSE_PORT");
    Ok(command)
}

/// A process's memory as the kernel counts it, in KiB, and its open file descriptors.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// Resident set (`VmRSS`).
    pub rss: i64,
    /// Anonymous resident memory (`RssAnon`): heap and stacks, without the mapped binary.
    pub anon: i64,
    /// Proportional set size (`Pss` of smaps_rollup): shared pages divided among their users.
    pub pss: i64,
    pub fds: i64,
}

/// Reads `/proc/<pid>/status`, `smaps_rollup` and `fd`; zeros where unreadable (not Linux).
pub fn memory(pid: u32) -> Memory {
    let field = |text: &str, name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as i64);
    Memory {
        rss: field(&status, "VmRSS:"),
        anon: field(&status, "RssAnon:"),
        pss: field(&rollup, "Pss:"),
        fds,
    }
}

/// `pid` and its children (nginx's master and workers).
fn tree(pid: u32) -> impl Iterator<Item = u32> {
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    let children: Vec<u32> = children
        .split_whitespace()
        .filter_map(|c| c.parse().ok())
        .collect();
    std::iter::once(pid).chain(children)
}

/// CPU time (user + system, every thread, finished ones included) of `pid` and its children, from
/// `/proc/<pid>/stat`, in clock ticks of 10 ms (Linux's USER_HZ); 0 where unreadable.
pub fn cpu_ticks(pid: u32) -> u64 {
    tree(pid)
        .map(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
            let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            let fields: Vec<&str> = after.split_whitespace().collect();
            let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
            field(14).unwrap_or(0) + field(15).unwrap_or(0)
        })
        .sum()
}

/// Context switches (voluntary and involuntary, every live thread) of `pid` and its children, from
/// `/proc/<pid>/task/*/status`: how often the hop went to sleep and was woken, or was preempted.
/// A thread that has exited takes its count with it; 0 where unreadable.
pub fn context_switches(pid: u32) -> u64 {
    tree(pid)
        .flat_map(|p| {
            std::fs::read_dir(format!("/proc/{p}/task"))
                .into_iter()
                .flatten()
                .flatten()
        })
        .map(|task| {
            let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
            status
                .lines()
                .filter(|l| {
                    l.starts_with("voluntary_ctxt_switches:")
                        || l.starts_with("nonvoluntary_ctxt_switches:")
                })
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>()
        })
        .sum()
}

/// `pid` and everything it started, recursively, from every thread's `children` list (WebKit may
/// start its processes from a thread other than the main one).
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut next = 0;
    while let Some(&parent) = all.get(next) {
        next += 1;
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{parent}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            all.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
    }
    all
}

/// The program's file name from its argv[0] (`comm` cuts names at 15 characters).
pub fn program_name(pid: u32) -> String {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let argv0 = cmdline.split(|&b| b == 0).next().unwrap_or_default();
    let argv0 = String::from_utf8_lossy(argv0);
    match argv0.rsplit('/').next().filter(|n| !n.is_empty()) {
        Some(name) => name.to_owned(),
        None => format!("pid {pid}"),
    }
}

/// [`memory`] of `pid` and its children together (nginx's master and workers).
pub fn memory_tree(pid: u32) -> Memory {
    let mut all = tree(pid);
    let first = all.next().map(memory).unwrap_or_default();
    all.map(memory).fold(first, |sum, m| Memory {
        rss: sum.rss + m.rss,
        anon: sum.anon + m.anon,
        pss: sum.pss + m.pss,
        fds: sum.fds + m.fds,
    })
}

impl std::fmt::Display for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RSS {:.1} MiB (anon {:.1} MiB), PSS {:.1} MiB, {} fds",
            self.rss as f64 / 1024.0,
            self.anon as f64 / 1024.0,
            self.pss as f64 / 1024.0,
            self.fds
        )
    }
}
