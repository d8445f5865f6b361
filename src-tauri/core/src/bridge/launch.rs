//! Starting the Gatehouse app when the bridge finds its gateway down: which program to start
//! (`$GATEHOUSE_APP`, or the `gatehouse` app beside `gatehoused`), starting it detached from the
//! client that started the bridge (its own process group on Unix; out of the client's job object
//! on Windows where the job allows it), and waiting for its gateway's `/health`.

use std::time::Duration;

/// How long the bridge waits for an app it started to serve.
pub const APP_START_WAIT: Duration = Duration::from_secs(30);

async fn gateway_up(http: &reqwest::Client, base: &str) -> bool {
    http.get(format!("{base}/health"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

/// When nothing answers at `base`, starts the Gatehouse app (`app`, with no arguments: its usual
/// launch, which the single-instance rule keeps to one) detached from the bridge, and waits for
/// its gateway. The client is told the app is not running only if it does not come up.
pub(super) async fn start_app_if_down(base: &str, app: &std::path::Path) {
    let http = reqwest::Client::new();
    if gateway_up(&http, base).await {
        return;
    }
    eprintln!(
        "gatehoused bridge: Gatehouse is not running; starting {}",
        app.display()
    );
    let mut command = std::process::Command::new(app);
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Its own process group: the client stopping the bridge does not stop the app.
        command.process_group(0);
    }
    #[cfg(windows)]
    let spawned = {
        use std::os::windows::process::CommandExt;
        // No console, its own group, and out of the client's job object where the job allows it
        // (a client that kills its job on exit would otherwise take the app with it).
        const DETACHED_PROCESS: u32 = 0x0000_0008;
        const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;
        const CREATE_BREAKAWAY_FROM_JOB: u32 = 0x0100_0000;
        command.creation_flags(
            DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP | CREATE_BREAKAWAY_FROM_JOB,
        );
        command.spawn().or_else(|_| {
            command.creation_flags(DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP);
            command.spawn()
        })
    };
    #[cfg(not(windows))]
    let spawned = command.spawn();
    if let Err(err) = spawned {
        eprintln!("gatehoused bridge: cannot start the app: {err}");
        return;
    }
    let deadline = tokio::time::Instant::now() + APP_START_WAIT;
    while tokio::time::Instant::now() < deadline {
        if gateway_up(&http, base).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The app to start when the gateway is down: `$GATEHOUSE_APP` when set (empty: start nothing),
/// else `default`.
pub fn app_to_start(default: Option<std::path::PathBuf>) -> Option<std::path::PathBuf> {
    match std::env::var_os("GATEHOUSE_APP") {
        Some(app) if app.is_empty() => None,
        Some(app) => Some(app.into()),
        None => default,
    }
}

/// A `gatehouse` app program beside `program` (an installation ships both), if there is one.
pub fn app_beside(program: &std::path::Path) -> Option<std::path::PathBuf> {
    let name = if cfg!(windows) {
        "gatehouse.exe"
    } else {
        "gatehouse"
    };
    let app = program.parent()?.join(name);
    (app.is_file() && app != program).then_some(app)
}
