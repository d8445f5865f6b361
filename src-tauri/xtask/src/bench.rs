//! What `cargo xtask bench` needs before it runs: Debian's nginx (the benchmark's floor hop), and
//! the release app for its whole-app section.
//!
//! The benchmark starts its own nginx in the foreground on a free port with a generated
//! configuration, so the package's service must not run: while the package installs, a
//! `policy-rc.d` that answers 101 ("action forbidden", Debian's invoke-rc.d policy interface) keeps
//! it from starting, unless the machine already has one; a service that starts anyway is stopped.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::steps::command;
use crate::{cargo, root, target_dir};

const POLICY_RC_D: &str = "/usr/sbin/policy-rc.d";

/// Installs the `nginx` package when no `nginx` program is found.
pub fn nginx() -> Result<(), String> {
    if found("nginx") {
        return Ok(());
    }
    if !cfg!(target_os = "linux") || !found("apt-get") {
        return Err("the benchmark needs nginx: install it with your package manager".into());
    }
    let root_user = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if !root_user {
        return Err(
            "the benchmark needs nginx: run `sudo apt-get install nginx`, then `sudo systemctl disable --now nginx` \
             (the benchmark starts its own)"
                .into(),
        );
    }
    eprintln!("xtask: installing Debian's nginx for the benchmark (its service is kept stopped)");
    let policy = Path::new(POLICY_RC_D);
    let ours = !policy.exists();
    if ours {
        write_policy(policy)?;
    }
    let installed = command("apt-get", &["update", "-qq"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status_ok()
        .and_then(|()| {
            command("apt-get", &["install", "-y", "-qq", "nginx"])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status_ok()
        });
    if ours {
        std::fs::remove_file(policy).map_err(|e| format!("{POLICY_RC_D}: {e}"))?;
    }
    installed?;
    // A policy that let the service start after all: stop it (its default pid file).
    if Path::new("/run/nginx.pid").exists() {
        let _ = command("nginx", &["-s", "quit"]).status_ok();
    }
    if found("nginx") {
        Ok(())
    } else {
        Err("nginx was installed but is not on PATH (/usr/sbin)".into())
    }
}

fn write_policy(path: &Path) -> Result<(), String> {
    std::fs::write(
        path,
        "#!/bin/sh\n# cargo xtask bench: no service starts during its install\nexit 101\n",
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// Whether `program` is on PATH, or in /usr/sbin (not on every user's PATH).
fn found(program: &str) -> bool {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()));
    on_path || Path::new("/usr/sbin").join(program).is_file()
}

/// The release app for the whole-app section: the UI built first (`npm ci` when needed, then
/// `npm run build`), then `cargo build --release --package gatehouse --bin gatehouse`, whose default
/// `custom-protocol` feature embeds ui/dist as a release build does. `Ok(None)` when
/// `GATEHOUSE_BENCH_APP_LAUNCHES=0` skips the section; Err says why the app could not be built.
pub fn app() -> Result<Option<PathBuf>, String> {
    if std::env::var("GATEHOUSE_BENCH_APP_LAUNCHES").is_ok_and(|n| n.trim() == "0") {
        return Ok(None);
    }
    crate::setup::ui()?;
    command(
        &cargo(),
        &[
            "build",
            "--release",
            "--package",
            "gatehouse",
            "--bin",
            "gatehouse",
        ],
    )
    .dir(root())
    .status_ok()?;
    Ok(Some(target_dir().join("release").join(if cfg!(windows) {
        "gatehouse.exe"
    } else {
        "gatehouse"
    })))
}
