//! One local MCP server process: started with an explicit working directory and environment, its
//! stderr captured into the connection's log, stopped the way MCP 2025-06-18 basic/lifecycle
//! §Shutdown (stdio) asks: close its stdin, wait, then SIGTERM, then SIGKILL.
//!
//! **Environment.** The child does not inherit Gatehouse's environment. It gets the small set the
//! MCP TypeScript SDK's `StdioClientTransport` passes by default (`getDefaultEnvironment`: `PATH`,
//! `HOME`, `USER`, `LOGNAME`, `SHELL`, `TERM` on Unix; the Windows equivalents), plus the
//! connection's own variables, opened from the store only to be put into the child's environment.
//! Their values never appear on a command line (so not in the process list beyond the child's own
//! environment), and any of them the child echoes on stderr is masked before it reaches the log.
//!
//! **The process and what it starts, as one unit.** `npx`, `uvx` and `docker` run the server as a
//! grandchild, so stopping only the child would leave the server running. The child is started
//! through `process-wrap` (the crate watchexec and rmcp use for the same job): on Unix it leads a
//! process group of its own, and every signal goes to the group (`killpg`); on Windows it is put in
//! a job object created with `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`, so killing it terminates the job,
//! and the job (with everything in it) also dies when Gatehouse exits, even if it crashes. Windows
//! has no SIGTERM: the graceful step there is the closed stdin alone, then the job is terminated.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use process_wrap::tokio::{ChildWrapper, CommandWrap, KillOnDrop};
use secrecy::{ExposeSecret, SecretString};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{ChildStderr, ChildStdin, ChildStdout};

/// Largest log file before it is moved to `<name>.log.1` (one old file is kept).
pub const MAX_LOG_BYTES: u64 = 1024 * 1024;

/// How long a stopping child gets after its stdin closes, and again after SIGTERM.
pub const STOP_GRACE: Duration = Duration::from_secs(2);

#[cfg(unix)]
const INHERITED: &[&str] = &["HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER"];
#[cfg(windows)]
const INHERITED: &[&str] = &[
    "APPDATA",
    "HOMEDRIVE",
    "HOMEPATH",
    "LOCALAPPDATA",
    "PATH",
    "PATHEXT",
    "PROCESSOR_ARCHITECTURE",
    "PROGRAMFILES",
    "SYSTEMDRIVE",
    "SYSTEMROOT",
    "TEMP",
    "USERNAME",
    "USERPROFILE",
];

/// What to start: the command of a connection with its environment opened.
#[derive(Clone)]
pub struct Launch {
    pub program: String,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    pub env: Vec<(String, SecretString)>,
    /// The connection's log file (stderr and Gatehouse's notes about the process).
    pub log: PathBuf,
}

impl std::fmt::Debug for Launch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Launch")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("cwd", &self.cwd)
            .field(
                "env",
                &self.env.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .field("log", &self.log)
            .finish()
    }
}

/// A started child and its pipes.
pub struct Started {
    /// The child with its group (Unix) or job (Windows): killing it kills both.
    pub child: Box<dyn ChildWrapper>,
    pub stdin: ChildStdin,
    pub stdout: ChildStdout,
    pub pid: Option<u32>,
}

/// Starts the child; its stderr goes to the log from a task of its own.
pub fn spawn(launch: &Launch) -> std::io::Result<Started> {
    let mut command = CommandWrap::with_new(&launch.program, |command| {
        command
            .args(&launch.args)
            .current_dir(&launch.cwd)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for name in INHERITED {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        for (name, value) in &launch.env {
            command.env(name, value.expose_secret());
        }
    });
    #[cfg(unix)]
    command.wrap(process_wrap::tokio::ProcessGroup::leader());
    #[cfg(windows)]
    command.wrap(process_wrap::tokio::JobObject);
    command.wrap(KillOnDrop);
    let mut child = command.spawn()?;
    let pid = child.id();
    let (Some(stdin), Some(stdout), Some(stderr)) = (
        child.stdin().take(),
        child.stdout().take(),
        child.stderr().take(),
    ) else {
        return Err(std::io::Error::other("the child's pipes were not created"));
    };
    note(
        &launch.log,
        &format!(
            "started {} (pid {})",
            launch.program,
            pid.map_or("?".to_owned(), |p| p.to_string())
        ),
    );
    tokio::spawn(capture_stderr(
        stderr,
        launch.log.clone(),
        secrets_of(launch),
    ));
    Ok(Started {
        child,
        stdin,
        stdout,
        pid,
    })
}

fn secrets_of(launch: &Launch) -> Vec<SecretString> {
    launch
        .env
        .iter()
        .filter(|(_, value)| value.expose_secret().len() >= 4)
        .map(|(_, value)| value.clone())
        .collect()
}

/// `line` with every secret value replaced by `[sealed]`.
pub fn mask(line: &str, secrets: &[SecretString]) -> String {
    secrets.iter().fold(line.to_owned(), |line, secret| {
        line.replace(secret.expose_secret(), "[sealed]")
    })
}

async fn capture_stderr(stderr: ChildStderr, log: PathBuf, secrets: Vec<SecretString>) {
    let mut lines = BufReader::new(stderr).lines();
    loop {
        match lines.next_line().await {
            Ok(Some(line)) => append(&log, &mask(&line, &secrets)).await,
            Ok(None) => break,
            Err(err) => {
                // Not UTF-8 or a broken pipe: say so once and stop reading.
                append(&log, &format!("[gatehouse] stderr unreadable: {err}")).await;
                break;
            }
        }
    }
}

async fn append(log: &Path, line: &str) {
    if let Ok(meta) = tokio::fs::metadata(log).await
        && meta.len() > MAX_LOG_BYTES
    {
        let _ = tokio::fs::rename(log, log.with_extension("log.1")).await;
    }
    let opened = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .await;
    if let Ok(mut file) = opened {
        let _ = file.write_all(format!("{line}\n").as_bytes()).await;
    }
}

/// A line of Gatehouse's own about the process (started, exited, stopped), in the same log.
pub fn note(log: &Path, line: &str) {
    let log = log.to_owned();
    let line = format!("[gatehouse] {line}");
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move { append(&log, &line).await });
    }
}

/// Kills the process group led by `pid` at once (Unix), for Gatehouse's own exit, where the child
/// itself is out of reach. On Windows there is nothing to do: the job object dies with Gatehouse's
/// handle to it.
pub fn kill_group(pid: Option<u32>) {
    #[cfg(unix)]
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        use nix::sys::signal::{Signal, killpg};
        use nix::unistd::Pid;
        // ESRCH (the group is gone) is the outcome wanted.
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
    #[cfg(not(unix))]
    let _ = pid;
}

/// Stops a child whose stdin has been closed: waits [`STOP_GRACE`], then SIGTERM to its group
/// (Unix), waits again, then kills the group or job. Whatever the child left behind is killed too.
pub async fn stop(child: &mut Box<dyn ChildWrapper>) -> Option<std::process::ExitStatus> {
    if let Ok(Ok(status)) = tokio::time::timeout(STOP_GRACE, child.wait()).await {
        let _ = child.start_kill();
        return Some(status);
    }
    #[cfg(unix)]
    {
        let _ = child.signal(nix::sys::signal::Signal::SIGTERM as i32);
        if let Ok(Ok(status)) = tokio::time::timeout(STOP_GRACE, child.wait()).await {
            let _ = child.start_kill();
            return Some(status);
        }
    }
    let _ = child.start_kill();
    child.wait().await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_in_log_lines() {
        let secrets = vec![SecretString::from("sk-live-1234")];
        assert_eq!(
            mask("auth with sk-live-1234 failed (sk-live-1234)", &secrets),
            "auth with [sealed] failed ([sealed])"
        );
        assert_eq!(mask("nothing here", &secrets), "nothing here");
    }

    #[test]
    fn the_launch_debug_form_names_variables_but_not_values() {
        let launch = Launch {
            program: "server".into(),
            args: vec![],
            cwd: PathBuf::from("/"),
            env: vec![("API_KEY".into(), SecretString::from("hunter2-secret"))],
            log: PathBuf::from("/tmp/x.log"),
        };
        let shown = format!("{launch:?}");
        assert!(shown.contains("API_KEY"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_child_gets_only_the_default_environment_and_its_own_variables() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("env.log");
        // SAFETY-free check: a variable Gatehouse has must not reach the child.
        let launch = Launch {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), "env >&2; echo done-$API_KEY >&2".into()],
            cwd: dir.path().to_owned(),
            env: vec![("API_KEY".into(), SecretString::from("abcd-secret"))],
            log: log.clone(),
        };
        let mut started = spawn(&launch).expect("sh starts");
        drop(started.stdin);
        let status = started.child.wait().await.expect("sh exits");
        assert!(status.success());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let text = loop {
            let text = tokio::fs::read_to_string(&log).await.unwrap_or_default();
            if text.contains("done-") || tokio::time::Instant::now() > deadline {
                break text;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(text.contains("done-[sealed]"), "{text}");
        assert!(!text.contains("abcd-secret"), "the value is masked: {text}");
        assert!(
            !text.contains("CARGO_PKG_NAME"),
            "cargo's variables are not inherited: {text}"
        );
    }

    /// Whether process `pid` is gone (or a zombie waiting for init to reap it).
    #[cfg(target_os = "linux")]
    fn gone(pid: u32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(stat) => stat
                .rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('Z')),
        }
    }

    /// `npx` runs the server as a grandchild: stopping the child must stop what it started. The
    /// child here ignores its closed stdin, so the grace period passes, then the group is
    /// signalled.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn stopping_a_child_stops_what_it_started() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("tree.log");
        let launch = Launch {
            program: "/bin/sh".into(),
            args: vec![
                "-c".into(),
                "sleep 300 & echo \"grandchild=$!\" >&2; sleep 300".into(),
            ],
            cwd: dir.path().to_owned(),
            env: vec![],
            log: log.clone(),
        };
        let mut started = spawn(&launch).expect("sh starts");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let grandchild: u32 = loop {
            let text = tokio::fs::read_to_string(&log).await.unwrap_or_default();
            if let Some(pid) = text
                .lines()
                .find_map(|l| l.strip_prefix("grandchild="))
                .and_then(|p| p.trim().parse().ok())
            {
                break pid;
            }
            assert!(tokio::time::Instant::now() < deadline, "no pid in {text}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(!gone(grandchild), "the grandchild runs before the stop");
        drop(started.stdin);
        let status = stop(&mut started.child).await;
        assert!(
            status.is_some_and(|s| !s.success()),
            "the child was stopped by a signal: {status:?}"
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !gone(grandchild) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the grandchild {grandchild} outlived the stop"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
