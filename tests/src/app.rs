//! The real desktop app (the debug `gatehouse` binary) as a black-box process, for the tests that
//! `cargo xtask test` runs under Xvfb and a private D-Bus session bus (`GATEHOUSE_APP_BIN`, `DISPLAY`
//! and `DBUS_SESSION_BUS_ADDRESS` come from there). Every launch of one [`AppHome`] shares its data
//! directory, gateway port and XDG directories, so a second launch is "the same app" to
//! tauri-plugin-single-instance (keyed on the app identifier on the session bus) and to the store.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, wait_for};

/// The app binary named by `GATEHOUSE_APP_BIN`; panics with a hint when it is not set.
pub fn app_bin() -> PathBuf {
    std::env::var_os("GATEHOUSE_APP_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!("GATEHOUSE_APP_BIN is not set: run this test through `cargo xtask test`")
        })
}

/// A temporary home for the app: data directory, fixed gateway port, XDG directories, and a file per
/// launch that receives its stdout and stderr.
pub struct AppHome {
    pub root: tempfile::TempDir,
    pub data_dir: PathBuf,
    pub port: u16,
}

impl AppHome {
    pub fn new() -> Self {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let data_dir = root.path().join("data");
        Self {
            root,
            data_dir,
            port: free_port(),
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Where launch `name`'s stdout and stderr go.
    pub fn output_file(&self, name: &str) -> PathBuf {
        self.root.path().join(format!("{name}.out"))
    }

    /// `gatehouse ARGS` with this home's environment; its output goes to [`Self::output_file`].
    /// `RUST_LOG=debug` so that the no-secret-in-the-log checks see everything the app could log.
    pub fn command(&self, name: &str, args: &[&str]) -> Command {
        self.command_for(&app_bin(), name, args)
    }

    /// `program ARGS` with this home's environment (see [`Self::command`]).
    fn command_for(&self, program: &Path, name: &str, args: &[&str]) -> Command {
        let out = std::fs::File::create(self.output_file(name))
            .unwrap_or_else(|e| panic!("cannot create the output file of {name}: {e}"));
        let err = out
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot clone a file handle: {e}"));
        let home = self.root.path();
        let mut command = Command::new(program);
        command
            .args(args)
            .env("GATEHOUSE_DATA_DIR", &self.data_dir)
            .env("GATEHOUSE_PORT", self.port.to_string())
            .env("GATEHOUSE_KEY_BACKEND", "file")
            .env("RUST_LOG", "debug")
            .env("XDG_DATA_HOME", home.join("xdg-data"))
            .env("XDG_CONFIG_HOME", home.join("xdg-config"))
            .env("XDG_CACHE_HOME", home.join("xdg-cache"))
            .env("NO_AT_BRIDGE", "1")
            .env("GTK_USE_PORTAL", "0")
            .env_remove("BROWSER")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        command
    }

    /// Launches the app and waits (bounded) until its in-process gateway answers `/health`.
    pub fn launch(&self, name: &str, args: &[&str]) -> RunningApp {
        let child = self
            .command(name, args)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the app: {e}"));
        let mut app = RunningApp { child };
        let health = format!("{}/health", self.base_url());
        let up = wait_for(Duration::from_secs(60), || {
            if let Ok(Some(status)) = app.child.try_wait() {
                panic!(
                    "the app exited ({status}) before its gateway answered:\n{}",
                    read(&self.output_file(name))
                );
            }
            let answered = crate::upstream::block_on(async {
                reqwest::Client::new()
                    .get(&health)
                    .timeout(Duration::from_secs(2))
                    .send()
                    .await
            });
            answered.ok().filter(|r| r.status().is_success())
        });
        assert!(
            up.is_some(),
            "the app's gateway did not answer on {health} within 60 s:\n{}",
            read(&self.output_file(name))
        );
        app
    }

    /// Runs the app as the desktop's scheme handler would for a second launch (`gatehouse URL`) and
    /// waits (bounded) for it to exit: single instance makes it hand the URL over and quit.
    pub fn hand_over(&self, name: &str, url: &str) -> ExitStatus {
        let mut child = self
            .command(name, &[url])
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the second instance: {e}"));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the second instance did not exit within 30 s (it did not reach the running \
                     one):\n{}",
                    read(&self.output_file(name))
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl AppHome {
    /// Opens `url` as a GNOME desktop does with a link the browser hands over: `xdg-open`, which
    /// passes it to `gio open`, which runs the scheme handler the app registered at launch (its
    /// `.desktop` entry and `x-scheme-handler/dev.gatehouse` default in this home's XDG
    /// directories), i.e. a second launch of the app with the URL. (xdg-utils' generic mode, for
    /// sessions without a desktop environment, cannot run a quoted `Exec` path such as the one
    /// tauri-plugin-deep-link writes; desktop environments parse it with GLib, as here.)
    pub fn open_as_desktop(&self, name: &str, url: &str) -> ExitStatus {
        self.command_for(Path::new("xdg-open"), name, &[url])
            .env("XDG_CURRENT_DESKTOP", "GNOME")
            .status()
            .unwrap_or_else(|e| panic!("cannot run xdg-open: {e}"))
    }
}

impl Default for AppHome {
    fn default() -> Self {
        Self::new()
    }
}

/// A running app process; killed on drop.
pub struct RunningApp {
    pub child: Child,
}

impl RunningApp {
    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for RunningApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A file's text, or a note that it could not be read (for failure messages).
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("(cannot read {path:?}: {e})"))
}
