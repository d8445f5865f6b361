//! The test pipeline and a small process helper that streams output while counting test results.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::setup::{Level, setup};
use crate::{cargo, root, target_dir};

/// A command with a readable builder.
pub struct Cmd(Command);

pub fn command(program: &str, args: &[&str]) -> Cmd {
    let mut c = Command::new(program);
    c.args(args);
    Cmd(c)
}

impl Cmd {
    pub fn dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.0.current_dir(dir);
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.0.env(key, value);
        self
    }

    fn describe(&self) -> String {
        let args: Vec<String> = self
            .0
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        format!(
            "{} {}",
            self.0.get_program().to_string_lossy(),
            args.join(" ")
        )
    }

    /// Runs with inherited output; Err when it cannot start or exits non-zero.
    pub fn status_ok(mut self) -> Result<(), String> {
        let what = self.describe();
        match self.0.status() {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => Err(format!("`{what}` failed ({s})")),
            Err(e) => Err(format!("cannot run `{what}`: {e}")),
        }
    }

    /// Runs with stdout streamed through us, counting test results; stderr is inherited.
    fn counted(mut self) -> StepOutcome {
        let what = self.describe();
        let mut counts = Counts::default();
        let child = self.0.stdout(Stdio::piped()).spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                eprintln!("xtask: cannot run `{what}`: {e}");
                return StepOutcome { ok: false, counts };
            }
        };
        if let Some(out) = child.stdout.take() {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                println!("{line}");
                counts.add_line(&strip_ansi(&line));
            }
        }
        let ok = child.wait().is_ok_and(|s| s.success());
        StepOutcome { ok, counts }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    passed: u64,
    failed: u64,
}

impl Counts {
    /// Understands cargo's `test result: ok. 3 passed; 1 failed; ...`, Vitest's
    /// `Tests  1 failed | 2 passed (3)` and node's test runner (`# pass 5`, `# fail 1`).
    fn add_line(&mut self, line: &str) {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("test result:") {
            self.passed += number_before(rest, " passed");
            self.failed += number_before(rest, " failed");
        } else if let Some(rest) = trimmed.strip_prefix("Tests ") {
            self.passed += number_before(rest, " passed");
            self.failed += number_before(rest, " failed");
        } else if let Some(rest) = trimmed.strip_prefix("# pass ") {
            self.passed += rest.trim().parse::<u64>().unwrap_or(0);
        } else if let Some(rest) = trimmed.strip_prefix("# fail ") {
            self.failed += rest.trim().parse::<u64>().unwrap_or(0);
        }
    }
}

fn number_before(text: &str, label: &str) -> u64 {
    let Some(end) = text.find(label) else {
        return 0;
    };
    let digits: String = text[..end]
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .chars()
        .rev()
        .collect::<String>()
        .parse()
        .unwrap_or(0)
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

struct StepOutcome {
    ok: bool,
    counts: Counts,
}

/// Where tauri-driver is, if installed.
pub fn tauri_driver_path() -> Option<PathBuf> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let mut candidates: Vec<PathBuf> = cargo_home
        .into_iter()
        .map(|h| h.join("bin/tauri-driver"))
        .collect();
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|p| p.join("tauri-driver")));
    }
    candidates.into_iter().find(|p| p.is_file())
}

/// `cargo xtask test`.
pub fn test() -> Result<(), String> {
    let started = Instant::now();
    setup(Level::Test)?;
    let cargo = cargo();
    let root = root();
    let bin_dir = target_dir().join("debug");
    let artifacts = root.join("artifacts");
    let mut results: Vec<(&str, StepOutcome)> = Vec::new();

    let fmt = command(&cargo, &["fmt", "--all", "--", "--check"])
        .dir(&root)
        .counted();
    results.push(("cargo fmt --check", fmt));
    let clippy = command(
        &cargo,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )
    .dir(&root)
    .counted();
    results.push(("cargo clippy", clippy));
    results.push((
        "gatehouse-core has no tauri or GTK dependency",
        core_is_headless(&cargo, &root),
    ));
    let build = command(&cargo, &["build", "--workspace", "--bins"])
        .dir(&root)
        .counted();
    let built = build.ok;
    results.push(("cargo build (binaries for the end-to-end tests)", build));
    let tests = command(&cargo, &["test", "--workspace"])
        .dir(&root)
        .env("GATEHOUSE_REQUIRE_SYSTEM_TESTS", "1")
        .env("GATEHOUSE_BIN_DIR", &bin_dir)
        .counted();
    results.push(("cargo test --workspace", tests));
    let ui = root.join("ui");
    let typecheck = command("npm", &["run", "--silent", "typecheck"])
        .dir(&ui)
        .counted();
    results.push(("ui typecheck", typecheck));
    let vitest = command("npm", &["test", "--silent"])
        .dir(&ui)
        .env("NO_COLOR", "1")
        .env("FORCE_COLOR", "0")
        .counted();
    results.push(("ui unit tests (vitest)", vitest));
    // The built UI in Debian's Chromium against the fake backend, with axe on every view.
    let ui_e2e = command("npm", &["run", "--silent", "test:e2e"])
        .dir(&ui)
        .env("GATEHOUSE_ARTIFACTS", &artifacts)
        .counted();
    results.push(("ui end-to-end tests (Playwright, Chromium, axe)", ui_e2e));
    if cfg!(target_os = "linux") {
        let window = if built {
            window_test(&cargo, &root, &bin_dir, &artifacts)
        } else {
            skipped_failure()
        };
        results.push((
            "app tests: window (tauri-driver) and deep link (Xvfb, D-Bus)",
            window,
        ));
    }

    println!("\n== summary ({} s)", started.elapsed().as_secs());
    let mut total = Counts::default();
    for (name, outcome) in &results {
        println!(
            "{:>4}  {name} ({} passed, {} failed)",
            if outcome.ok { "ok" } else { "FAIL" },
            outcome.counts.passed,
            outcome.counts.failed
        );
        total.passed += outcome.counts.passed;
        total.failed += outcome.counts.failed;
        if !outcome.ok && outcome.counts.failed == 0 {
            total.failed += 1;
        }
    }
    println!("{} passed, {} failed", total.passed, total.failed);
    if results.iter().all(|(_, o)| o.ok) {
        Ok(())
    } else {
        Err("some steps failed (see the summary above)".into())
    }
}

/// `gatehouse-core` must build and test with no window stack: no tauri, wry, GTK or WebKit anywhere in
/// its dependency tree (normal, build and dev edges).
fn core_is_headless(cargo: &str, root: &Path) -> StepOutcome {
    let output = Command::new(cargo)
        .args([
            "tree",
            "--package",
            "gatehouse-core",
            "--edges",
            "all",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(root)
        .output();
    let Ok(output) = output.inspect_err(|e| eprintln!("xtask: cannot run cargo tree: {e}")) else {
        return StepOutcome {
            ok: false,
            counts: Counts::default(),
        };
    };
    let tree = String::from_utf8_lossy(&output.stdout);
    let window_crates: Vec<&str> = tree
        .lines()
        .filter(|line| {
            let name = line.split_whitespace().next().unwrap_or_default();
            name.starts_with("tauri")
                || name == "wry"
                || name.starts_with("gtk")
                || name.starts_with("webkit2gtk")
        })
        .collect();
    let ok = output.status.success() && !tree.trim().is_empty() && window_crates.is_empty();
    if !ok {
        eprintln!(
            "xtask: gatehouse-core must not depend on the window stack; found: {window_crates:?}"
        );
    }
    StepOutcome {
        ok,
        counts: Counts::default(),
    }
}

fn skipped_failure() -> StepOutcome {
    eprintln!("xtask: the app window test needs the binaries, which did not build");
    StepOutcome {
        ok: false,
        counts: Counts::default(),
    }
}

/// The real app binary under Xvfb and a private D-Bus session: the window driven through
/// tauri-driver (`app_window`), and the deep-link sign-in callback handed from a second launch to the
/// running instance and to a cold start (`app_deep_link`; single instance needs the session bus), and
/// the desktop around it (`app_desktop`: the tray on a status-notifier watcher, the consent
/// notification, close to tray) with the shell's side played by the test on the same bus and display.
fn window_test(cargo: &str, root: &Path, bin_dir: &Path, artifacts: &Path) -> StepOutcome {
    let Some(driver) = tauri_driver_path() else {
        eprintln!("xtask: tauri-driver is not installed");
        return StepOutcome {
            ok: false,
            counts: Counts::default(),
        };
    };
    let app = bin_dir.join("gatehouse");
    command(
        "dbus-run-session",
        &[
            "--",
            "xvfb-run",
            "--auto-servernum",
            "--server-args=-screen 0 1280x900x24",
            cargo,
            "test",
            "--package",
            "gatehouse-e2e",
            "--test",
            "app_window",
            "--test",
            "app_deep_link",
            "--test",
            "app_desktop",
            "--",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ],
    )
    .dir(root)
    .env("NO_AT_BRIDGE", "1")
    .env("GATEHOUSE_APP_BIN", app)
    .env("GATEHOUSE_BIN_DIR", bin_dir)
    .env("TAURI_DRIVER", driver)
    .env("GATEHOUSE_ARTIFACTS", artifacts)
    .counted()
}

/// `cargo xtask bench`: tools/call latency and throughput direct, through nginx, a bare relay and
/// the gateway in one run, then streams, a million tokens, a cross-process revoke, and the release app
/// launched on Xvfb: launch to gateway ready, idle PSS with its WebKit processes (release builds;
/// tests/src/bin/bench_proxy/). It prints its method and numbers; it asserts nothing.
pub fn bench() -> Result<(), String> {
    crate::bench::nginx()?;
    // The gateway runs as its own process in the benchmark: the release `gatehoused` next to it.
    command(
        &cargo(),
        &[
            "build",
            "--release",
            "--package",
            "gatehouse-core",
            "--bin",
            "gatehoused",
        ],
    )
    .dir(root())
    .status_ok()?;
    // The whole-app section: a machine that cannot build the app still gets the other sections,
    // and the section prints why it was skipped.
    let app = crate::bench::app();
    let mut bench = command(
        &cargo(),
        &[
            "run",
            "--release",
            "--package",
            "gatehouse-e2e",
            "--bin",
            "bench_proxy",
        ],
    )
    .dir(root())
    .env("GATEHOUSE_BIN_DIR", target_dir().join("release"));
    match app {
        Ok(Some(app)) => bench = bench.env("GATEHOUSE_APP_BIN", app),
        Ok(None) => {}
        Err(why) => {
            bench = bench.env(
                "GATEHOUSE_APP_UNAVAILABLE",
                format!("the release app did not build ({why})"),
            );
        }
    }
    bench.status_ok()
}

/// `cargo xtask mcpb`: the Claude Desktop extension bundle (release `gatehoused` inside), written
/// to `artifacts/gatehouse.mcpb` by `gatehoused mcpb`.
pub fn mcpb() -> Result<(), String> {
    let root = root();
    command(
        &cargo(),
        &[
            "build",
            "--release",
            "--package",
            "gatehouse-core",
            "--bin",
            "gatehoused",
        ],
    )
    .dir(&root)
    .status_ok()?;
    let out = root.join("artifacts");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let binary = target_dir().join("release").join(if cfg!(windows) {
        "gatehoused.exe"
    } else {
        "gatehoused"
    });
    let bundle = out.join("gatehouse.mcpb");
    let bundle_arg = bundle.display().to_string();
    command(
        &binary.display().to_string(),
        &["mcpb", "--out", &bundle_arg],
    )
    .dir(&root)
    .status_ok()
}

/// `cargo xtask bindings`: rewrite ui/src/api/bindings from the Rust DTOs.
pub fn bindings() -> Result<(), String> {
    command(
        &cargo(),
        &[
            "test",
            "--package",
            "gatehouse-core",
            "--lib",
            "admin::bindings",
        ],
    )
    .dir(root())
    .env("GATEHOUSE_UPDATE_BINDINGS", "1")
    .status_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_cargo_and_vitest_summaries() {
        let mut c = Counts::default();
        c.add_line("test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s");
        c.add_line("test result: FAILED. 3 passed; 2 failed; 0 ignored");
        c.add_line("      Tests  1 failed | 7 passed (8)");
        c.add_line("# pass 5");
        c.add_line("# fail 1");
        c.add_line("running 3 tests");
        assert_eq!(
            (c.passed, c.failed),
            (27, 4),
            "cargo, vitest and node test summary lines must all be counted"
        );
    }

    #[test]
    fn strips_colour_codes() {
        assert_eq!(
            strip_ansi("\u{1b}[32mTests\u{1b}[0m  4 passed"),
            "Tests  4 passed"
        );
    }
}
