//! `gatehoused connections signin SLUG [--callback loopback|deep-link]`: start an upstream sign-in in
//! the store, show and open the authorization URL ([`open_browser`]), and wait until it has been
//! completed, failed, or expired. With the loopback callback (the default) the **running gateway**'s
//! `/oauth/callback` receives the browser, so the gateway must be listening; with the deep link the
//! desktop hands `dev.gatehouse:/oauth/callback?…` to the app (running, or started by the link), which
//! completes the sign-in from the same store.

use std::io::Write;
use std::time::{Duration, Instant};

use super::CliError;
use super::admin::{emit, runtime};
use crate::admin::{self, SigninCallback, SigninLaunch, SigninProgress, open_browser};
use crate::config;
use crate::vault::Vault;

pub fn signin(
    vault: &Vault,
    slug: &str,
    timeout: u64,
    port: Option<u16>,
    callback: SigninCallback,
    no_browser: bool,
    json: bool,
) -> Result<(), CliError> {
    let port = config::resolve_port(port)?;
    let rt = runtime()?;
    // The browser comes back to the running gateway: fail now rather than after the timeout. (A
    // deep link may start the app, so its gateway need not be up yet.)
    let listening = if callback == SigninCallback::DeepLink {
        Some(())
    } else {
        rt.block_on(async {
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
                .map(drop)
        })
    };
    if listening.is_none() {
        return Err(CliError::SignIn(format!(
            "no Gatehouse gateway is listening on 127.0.0.1:{port}; start the app or `gatehoused serve` \
             (or pass --port)"
        )));
    }
    let oauth = admin::standalone_upstream_oauth(vault);
    let started = rt.block_on(admin::start_signin(&oauth, port, slug, callback))?;
    let start = match started {
        SigninLaunch::Connected => {
            let done = serde_json::json!({"slug": slug, "status": "connected"});
            return emit(json, &done, |out| {
                writeln!(out, "connected {slug} (client credentials)")
            });
        }
        SigninLaunch::Browser(start) => start,
    };
    // The URL goes to stdout, or to stderr when stdout is reserved for --json.
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    let out: &mut dyn Write = if json { &mut stderr } else { &mut stdout };
    if let Ok(view) = admin::get_connection(vault, port, slug)
        && let Some(account) = &view.grants_account
        && view.authorized_clients > 0
    {
        writeln!(
            out,
            "note: {} authorized client(s) of {slug} were approved while Gatehouse acted as {account}; \
             signing in as another account revokes them",
            view.authorized_clients
        )?;
    }
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
