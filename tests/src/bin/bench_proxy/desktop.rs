//! The app's desktop in the benchmark: an Xvfb that names its display on a pipe (`-displayfd`) and
//! a `dbus-daemon --session`, what `dbus-run-session -- xvfb-run` gives the app tests, started once
//! before the launches so that a launch's time is the app's alone.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};

use anyhow::Context;

use crate::procs::terminate;

/// A child process stopped on drop, with its stdout kept open.
struct Owned {
    child: Child,
    /// Kept open so that a late write to stdout does not fail.
    stdout: BufReader<ChildStdout>,
}

impl Owned {
    /// Starts `command` and reads the one line it prints on stdout when ready.
    fn spawn(mut command: Command, hint: &str) -> anyhow::Result<(Owned, String)> {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {:?} ({hint})", command.get_program()))?;
        let stdout = child.stdout.take().context("stdout is not piped")?;
        let mut owned = Owned {
            child,
            stdout: BufReader::new(stdout),
        };
        let mut line = String::new();
        owned.stdout.read_line(&mut line)?;
        anyhow::ensure!(
            !line.trim().is_empty(),
            "{:?} exited without printing where it listens",
            command.get_program()
        );
        Ok((owned, line.trim().to_owned()))
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

/// An X display and a D-Bus session bus of its own; both stopped on drop.
pub struct Desktop {
    pub display: String,
    pub bus: String,
    _xvfb: Owned,
    _dbus: Owned,
}

impl Desktop {
    pub fn start() -> anyhow::Result<Desktop> {
        let hint = "`cargo xtask setup test` installs Xvfb and D-Bus";
        let mut xvfb = Command::new("Xvfb");
        xvfb.args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1280x900x24",
            "-nolisten",
            "tcp",
        ]);
        let (xvfb, number) = Owned::spawn(xvfb, hint)?;
        let mut dbus = Command::new("dbus-daemon");
        dbus.args(["--session", "--nofork", "--print-address=1"]);
        let (dbus, bus) = Owned::spawn(dbus, hint)?;
        Ok(Desktop {
            display: format!(":{number}"),
            bus,
            _xvfb: xvfb,
            _dbus: dbus,
        })
    }
}
