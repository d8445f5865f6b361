//! The life of one connection's stdio server: started on first use, restarted after a crash with
//! a growing delay, stopped when idle, stopped for good when its configuration goes or Gatehouse
//! quits. At most one process per connection configuration; every session shares it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::broadcast;

use super::mux::{self, Mux};
use super::process::{self, Launch};

/// How long a server may take to answer `initialize` (a first `npx -y` downloads the package).
pub const INITIALIZE_WITHIN: Duration = Duration::from_secs(120);

/// A process that ran at least this long before it exited did not crash on start: its next start
/// has no delay.
const STABLE_AFTER: Duration = Duration::from_secs(60);

/// The delay before restart `n` (1-based) of a server that keeps crashing.
pub fn restart_delay(crashes: u32) -> Duration {
    match crashes {
        0 | 1 => Duration::ZERO,
        n => Duration::from_secs(1u64 << (n - 2).min(5)).min(Duration::from_secs(30)),
    }
}

/// A running process: its message switch and the handle that stops it.
struct Running {
    mux: Arc<Mux>,
    initialize: Arc<Value>,
    pid: Option<u32>,
    started: Instant,
    stop: tokio::sync::oneshot::Sender<()>,
}

#[derive(Default)]
struct Crashes {
    count: u32,
    last: Option<Instant>,
}

pub struct Server {
    pub name: String,
    launch: Launch,
    running: tokio::sync::Mutex<Option<Running>>,
    crashes: Mutex<Crashes>,
    /// Notifications for every session's GET stream, across restarts.
    pub broadcast: broadcast::Sender<Arc<Value>>,
    /// Milliseconds since `epoch` of the last request.
    last_used: AtomicU64,
    epoch: Instant,
    /// The process ids of the current process, for a synchronous kill at exit.
    pid: Mutex<Option<u32>>,
}

impl Server {
    pub fn new(name: String, launch: Launch) -> Arc<Self> {
        Arc::new(Self {
            name,
            launch,
            running: tokio::sync::Mutex::new(None),
            crashes: Mutex::new(Crashes::default()),
            broadcast: broadcast::channel(256).0,
            last_used: AtomicU64::new(0),
            epoch: Instant::now(),
            pid: Mutex::new(None),
        })
    }

    fn touch(&self) {
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_used.store(now, Ordering::Relaxed);
    }

    /// How long since the last request.
    pub fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_used.load(Ordering::Relaxed));
        self.epoch.elapsed().saturating_sub(last)
    }

    /// The running process (started or restarted as needed) and its InitializeResult.
    pub async fn running(&self) -> Result<(Arc<Mux>, Arc<Value>), String> {
        self.touch();
        let mut slot = self.running.lock().await;
        if let Some(running) = slot.as_ref() {
            if !running.mux.exited.is_cancelled() {
                return Ok((running.mux.clone(), running.initialize.clone()));
            }
            let ran = running.started.elapsed();
            *slot = None;
            self.crashed(ran);
        }
        let wait = self.delay_left();
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        match self.start().await {
            Ok(running) => {
                let out = (running.mux.clone(), running.initialize.clone());
                *self.pid.lock().unwrap_or_else(PoisonError::into_inner) = running.pid;
                *slot = Some(running);
                Ok(out)
            }
            Err(why) => {
                self.crashed(Duration::ZERO);
                process::note(&self.launch.log, &why);
                Err(format!(
                    "the local server {} could not be started: {why} (its log is in Gatehouse)",
                    self.name
                ))
            }
        }
    }

    fn crashed(&self, ran: Duration) {
        let mut crashes = self.crashes.lock().unwrap_or_else(PoisonError::into_inner);
        crashes.count = if ran >= STABLE_AFTER {
            1
        } else {
            crashes.count + 1
        };
        crashes.last = Some(Instant::now());
    }

    fn delay_left(&self) -> Duration {
        let crashes = self.crashes.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(last) = crashes.last else {
            return Duration::ZERO;
        };
        restart_delay(crashes.count).saturating_sub(last.elapsed())
    }

    async fn start(&self) -> Result<Running, String> {
        let started = process::spawn(&self.launch).map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => format!(
                "{:?} was not found (check the command and the PATH it runs with)",
                self.launch.program
            ),
            _ => format!("cannot start {:?}: {err}", self.launch.program),
        })?;
        let process::Started {
            mut child,
            stdin,
            stdout,
            pid,
        } = started;
        let mux = Mux::start(stdin, stdout, self.broadcast.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let log = self.launch.log.clone();
        let watched = mux.clone();
        tokio::spawn(async move {
            tokio::select! {
                status = child.wait() => {
                    // What the child left in its group or job goes with it.
                    let _ = child.start_kill();
                    let status = status.map_or_else(|e| e.to_string(), |s| s.to_string());
                    process::note(&log, &format!("exited: {status}"));
                }
                _ = stopped => {
                    watched.close_stdin();
                    let status = process::stop(&mut child).await;
                    process::note(&log, &format!(
                        "stopped: {}",
                        status.map_or("killed".to_owned(), |s| s.to_string())
                    ));
                }
            }
            // The stdout reader ends on its own once the process is gone; a grandchild holding
            // the pipe was killed with the group.
            watched.exited.cancel();
        });
        match mux::initialize(&mux, INITIALIZE_WITHIN).await {
            Ok(initialize) => Ok(Running {
                mux,
                initialize: Arc::new(initialize),
                pid,
                started: Instant::now(),
                stop,
            }),
            Err(why) => {
                let _ = stop.send(());
                Err(why)
            }
        }
    }

    /// Stops the process if it has had no request for `idle_after` and none is in flight.
    pub async fn stop_if_idle(&self, idle_after: Duration) -> bool {
        if self.idle_for() < idle_after {
            return false;
        }
        let mut slot = self.running.lock().await;
        let idle = slot
            .as_ref()
            .is_some_and(|r| r.mux.in_flight() == 0 && !r.mux.exited.is_cancelled());
        if !idle || self.idle_for() < idle_after {
            return false;
        }
        if let Some(running) = slot.take() {
            process::note(&self.launch.log, "idle: stopping");
            let _ = running.stop.send(());
        }
        true
    }

    /// Stops the process (the configuration went, or Gatehouse is shutting down).
    pub async fn stop(&self) {
        if let Some(running) = self.running.lock().await.take() {
            let _ = running.stop.send(());
        }
    }

    /// Whether a process is running now.
    pub async fn is_running(&self) -> bool {
        self.running
            .lock()
            .await
            .as_ref()
            .is_some_and(|r| !r.mux.exited.is_cancelled())
    }

    /// Kills the process group at once, without waiting (process exit).
    pub fn kill_now(&self) {
        let pid = *self.pid.lock().unwrap_or_else(PoisonError::into_inner);
        process::kill_group(pid);
    }
}

#[cfg(test)]
mod tests {
    use super::restart_delay;
    use std::time::Duration;

    #[test]
    fn restarts_slow_down_after_repeated_crashes_up_to_30_s() {
        assert_eq!(
            restart_delay(1),
            Duration::ZERO,
            "the first crash restarts at once"
        );
        assert_eq!(restart_delay(2), Duration::from_secs(1));
        assert_eq!(restart_delay(3), Duration::from_secs(2));
        assert_eq!(restart_delay(6), Duration::from_secs(16));
        assert_eq!(restart_delay(7), Duration::from_secs(30));
        assert_eq!(restart_delay(50), Duration::from_secs(30));
    }
}
