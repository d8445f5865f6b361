//! The platform floor beside the app in section 3: `webkit_floor.c`, a GTK window of the app's size
//! with one WebKitWebView on a tiny page and nothing else, compiled here at run time with gcc and
//! pkg-config's flags for webkit2gtk-4.1 (the package the Tauri build needs), launched on the same
//! desktop with the same environment and read the same way as the app.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

use crate::app::PSS_GOAL_BYTES;
use crate::desktop::Desktop;
use crate::idle::{Idle, PssSplit, Running, idle, mib, on_desktop};

const SOURCE: &str = include_str!("webkit_floor.c");
const NAME: &str = "webkit_floor";

/// Compiles the floor into `dir`; the error says which step failed and what it printed.
pub fn compile(dir: &Path) -> anyhow::Result<PathBuf> {
    anyhow::ensure!(
        cfg!(target_os = "linux"),
        "the floor is a WebKitGTK program: Linux only"
    );
    let source = dir.join(format!("{NAME}.c"));
    std::fs::write(&source, SOURCE)?;
    let flags = run(
        Command::new("pkg-config").args(["--cflags", "--libs", "webkit2gtk-4.1"]),
        "pkg-config (`cargo xtask setup` installs libwebkit2gtk-4.1-dev)",
    )?;
    let binary = dir.join(NAME);
    run(
        Command::new("gcc")
            .arg("-O2")
            .arg("-o")
            .arg(&binary)
            .arg(&source)
            .args(flags.split_whitespace()),
        "gcc",
    )?;
    Ok(binary)
}

/// Runs `command` to completion: its stdout, or why it failed.
fn run(command: &mut Command, what: &str) -> anyhow::Result<String> {
    let out = command
        .output()
        .with_context(|| format!("cannot run {what}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last: Vec<&str> = stderr.lines().rev().take(5).collect();
        let last: Vec<&str> = last.into_iter().rev().collect();
        anyhow::bail!("{what} failed ({}): {}", out.status, last.join(" | "));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// One launch of the floor, read once idle (counted from spawn: it has no gateway to wait for).
pub fn launch(binary: &Path, desktop: &Desktop, home: &Path, n: usize) -> anyhow::Result<Idle> {
    let log = home.join(format!("floor-{n}.log"));
    let mut command = Command::new(binary);
    on_desktop(&mut command, desktop, home, &log)?;
    let mut running = Running(command.spawn().context("cannot start the floor")?);
    idle(&mut running, &log).with_context(|| format!("floor launch {n}"))
}

/// Prints the floor's idle memory, then the app's beside it per process and per kind of page, and
/// what the floor says about the 120 MB goal.
pub fn compare(app: &Idle, floor: &Idle, floor_n: usize) {
    println!(
        "  The floor, a bare WebKitGTK window: idle memory of floor launch {floor_n}, the median by total PSS:"
    );
    floor.print();
    let floor_bytes = floor.pss() as f64 * 1024.0;
    println!(
        "    {:<35} PSS {:>6.1} MiB = {:.1} MB",
        "total",
        mib(floor.pss()),
        floor_bytes / 1e6
    );
    println!("  The app against the floor, PSS in MiB:");
    println!(
        "    {:<22} {:>8} {:>8} {:>12}",
        "", "app", "floor", "above floor"
    );
    let row = |label: &str, app: i64, floor: i64| {
        println!(
            "    {label:<22} {:>8.1} {:>8.1} {:>12.1}",
            mib(app),
            mib(floor),
            mib(app - floor)
        );
    };
    for role in roles(app, floor) {
        row(&role, by_role(app, &role), by_role(floor, &role));
    }
    let (a, f) = (
        PssSplit::sum(&app.processes),
        PssSplit::sum(&floor.processes),
    );
    row("anonymous", a.anon, f.anon);
    row("file-backed", a.file, f.file);
    row("shared memory", a.shmem, f.shmem);
    row("total", app.pss(), floor.pss());
    let above = app.pss() - floor.pss();
    println!(
        "  app / bare WebKitGTK window: {:.2}x; {:.1} MiB ({:.0} %) of the app's {:.1} MiB is above the floor.",
        app.pss() as f64 / floor.pss().max(1) as f64,
        mib(above),
        100.0 * above as f64 / app.pss().max(1) as f64,
        mib(app.pss())
    );
    if floor_bytes >= PSS_GOAL_BYTES {
        println!(
            "  The floor alone, {:.1} MB, is above the {:.0} MB goal: as measured here, no app in a \
             WebKitGTK window with WebKit's default settings can meet it; what the app can still \
             remove is its part above the floor.",
            floor_bytes / 1e6,
            PSS_GOAL_BYTES / 1e6
        );
    } else {
        println!(
            "  The floor alone, {:.1} MB, is under the {:.0} MB goal: {:.1} MB are left for what the \
             app adds, which is {:.1} MB now.",
            floor_bytes / 1e6,
            PSS_GOAL_BYTES / 1e6,
            (PSS_GOAL_BYTES - floor_bytes) / 1e6,
            above as f64 * 1024.0 / 1e6
        );
    }
}

/// The rows of the comparison: the program itself (the root of its tree), then each other
/// program name in either tree, WebKit's processes first as they start.
fn roles(app: &Idle, floor: &Idle) -> Vec<String> {
    let mut roles = vec![PROGRAM.to_owned()];
    for p in app
        .processes
        .iter()
        .skip(1)
        .chain(floor.processes.iter().skip(1))
    {
        if !roles.contains(&p.name) {
            roles.push(p.name.clone());
        }
    }
    roles
}

const PROGRAM: &str = "the program itself";

/// The PSS of the processes in `role`, KiB.
fn by_role(idle: &Idle, role: &str) -> i64 {
    idle.processes
        .iter()
        .enumerate()
        .filter(|(i, p)| {
            if role == PROGRAM {
                *i == 0
            } else {
                *i > 0 && p.name == role
            }
        })
        .map(|(_, p)| p.memory.pss)
        .sum()
}
