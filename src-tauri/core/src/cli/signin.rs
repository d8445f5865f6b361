//! `gatehoused connections signin SLUG`: start an upstream sign-in in the store, show and open the
//! authorization URL, and wait until the **running gateway** (whose `/oauth/callback` receives the
//! browser) has completed it, failed it, or it expired. The browser is launched as a program with
//! the URL as one argument (never through a shell string): `$BROWSER` if set, else `xdg-open` /
//! `open` / `rundll32 url.dll,FileProtocolHandler`.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::CliError;
use super::admin::{emit, runtime};
use crate::admin::{self, SigninStarted};
use crate::config;
use crate::net::outbound::is_loopback_host;
use crate::oauth::upstream::UpstreamOAuth;
use crate::oauth::upstream::flow::SigninProgress;
use crate::vault::Vault;

pub fn signin(
    vault: &Vault,
    slug: &str,
    timeout: u64,
    port: Option<u16>,
    no_browser: bool,
    json: bool,
) -> Result<(), CliError> {
    let port = config::resolve_port(port)?;
    let rt = runtime()?;
    // The browser comes back to the running gateway: fail now rather than after the timeout.
    let listening = rt.block_on(async {
        let health = format!("http://127.0.0.1:{port}/health");
        reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(3))
            .build()
            .ok()?
            .get(health)
            .send()
            .await
            .ok()
    });
    if listening.is_none() {
        return Err(CliError::SignIn(format!(
            "no Gatehouse gateway is listening on 127.0.0.1:{port}; start the app or `gatehoused serve` \
             (or pass --port)"
        )));
    }
    let oauth = UpstreamOAuth::new(vault);
    let started = rt.block_on(admin::start_signin(&oauth, port, slug))?;
    let start = match started {
        SigninStarted::Connected => {
            let done = serde_json::json!({"slug": slug, "status": "connected"});
            return emit(json, &done, |out| {
                writeln!(out, "connected {slug} (client credentials)")
            });
        }
        SigninStarted::Browser(start) => start,
    };
    // The URL goes to stdout, or to stderr when stdout is reserved for --json.
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    let out: &mut dyn Write = if json { &mut stderr } else { &mut stdout };
    writeln!(out, "Open this URL to sign in to {slug}:")?;
    writeln!(out, "{}", start.authorization_url)?;
    out.flush()?;
    drop(stdout);
    drop(stderr);
    if !no_browser && let Err(e) = open_browser(&start.authorization_url) {
        eprintln!("note: could not open a browser ({e}); open the URL yourself");
    }
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let outcome = loop {
        let progress = rt.block_on(admin::signin_progress(vault, &start.signin_id))?;
        match progress {
            SigninProgress::Pending if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(300));
            }
            SigninProgress::Pending => break Err("timed out waiting for the browser".to_owned()),
            SigninProgress::Expired => break Err("the sign-in expired".to_owned()),
            SigninProgress::Failed(why) => break Err(why),
            SigninProgress::Connected => break Ok(()),
        }
    };
    match outcome {
        Ok(()) => {
            let view = admin::get_connection(vault, port, slug)?;
            emit(json, &view, |out| match &view.account_label {
                Some(who) => writeln!(out, "signed in to {} as {who}", view.slug),
                None => writeln!(out, "signed in to {}", view.slug),
            })
        }
        Err(why) => Err(CliError::SignIn(why)),
    }
}

/// Launches the browser on `url` without a shell. Only https URLs, or http to loopback.
pub fn open_browser(url: &str) -> std::io::Result<()> {
    let parsed = url::Url::parse(url)
        .map_err(|_| std::io::Error::other("the authorization URL is not a URL"))?;
    let safe =
        parsed.scheme() == "https" || (parsed.scheme() == "http" && is_loopback_host(&parsed));
    if !safe {
        return Err(std::io::Error::other(
            "refusing to open a URL that is neither https nor loopback http",
        ));
    }
    let mut command = match std::env::var("BROWSER")
        .ok()
        .filter(|b| !b.trim().is_empty())
    {
        Some(browser) => {
            // $BROWSER may list several programs separated by ':'; take the first. Its words are
            // the program and its arguments; "%s" is replaced by the URL, else the URL is appended.
            let first = browser.split(':').next().unwrap_or_default().to_owned();
            let mut words = first.split_whitespace();
            let program = words.next().unwrap_or_default().to_owned();
            let mut args: Vec<String> = words.map(str::to_owned).collect();
            if args.iter().any(|a| a.contains("%s")) {
                for a in &mut args {
                    *a = a.replace("%s", url);
                }
            } else {
                args.push(url.to_owned());
            }
            let mut c = Command::new(program);
            c.args(args);
            c
        }
        None if cfg!(target_os = "macos") => {
            let mut c = Command::new("open");
            c.arg(url);
            c
        }
        None if cfg!(windows) => {
            let mut c = Command::new("rundll32");
            c.args(["url.dll,FileProtocolHandler", url]);
            c
        }
        None => {
            let mut c = Command::new("xdg-open");
            c.arg(url);
            c
        }
    };
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(drop)
}
