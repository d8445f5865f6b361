//! `gatehoused connections signin` (the real binary) when the sign-in does not succeed: it returns
//! with a non-zero exit and says why when the authorization server refuses (the browser comes back
//! to the running gateway with `error=access_denied`), when nobody finishes in the browser before
//! `--timeout`, and at once when no gateway is listening to receive the browser.

use std::path::Path;
use std::time::{Duration, Instant};

use gatehouse_testkit::signin::*;

const EXE: &str = env!("CARGO_BIN_EXE_gatehoused");

fn cli(data_dir: &Path, port: u16, args: &[&str]) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(EXE);
    c.arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("GATEHOUSE_KEY_BACKEND", "file")
        .env("GATEHOUSE_PORT", port.to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    c
}

#[tokio::test]
async fn a_refused_sign_in_ends_the_command_with_the_reason() {
    let env = Env::new().await;
    *env.upstream.iss_mode.lock().unwrap() = "denied";
    let port = env.gateway.address().port();
    let (script, seen) = recording_browser(env.dir.path());
    let child = cli(
        env.dir.path(),
        port,
        &["connections", "signin", "up", "--timeout", "30"],
    )
    .env("BROWSER", &script)
    .spawn()
    .unwrap();
    let url = opened(&seen).await;
    let back = env.http.get(&url).send().await.unwrap();
    let callback = back.headers()["location"].to_str().unwrap().to_owned();
    let (status, _page) = env.deliver(&callback).await;
    assert_ne!(
        status, 200,
        "the gateway's callback page reports the refusal"
    );

    let out = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a refused sign-in is a failure: {stderr}"
    );
    assert!(
        stderr.contains("access_denied"),
        "the command says the authorization server refused: {stderr}"
    );
    assert_eq!(
        env.row().status.as_str(),
        "needs_auth",
        "the connection still needs a sign-in"
    );
}

#[tokio::test]
async fn a_sign_in_nobody_finishes_times_out() {
    let env = Env::new().await;
    let port = env.gateway.address().port();
    let (script, seen) = recording_browser(env.dir.path());
    let started = Instant::now();
    let child = cli(
        env.dir.path(),
        port,
        &["connections", "signin", "up", "--timeout", "2"],
    )
    .env("BROWSER", &script)
    .spawn()
    .unwrap();
    opened(&seen).await;
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("signin must return after its timeout")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a timeout is a failure: {stderr}");
    assert!(
        stderr.contains("timed out"),
        "the command says it timed out: {stderr}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "it waited for the browser first"
    );
}

#[tokio::test]
async fn without_a_running_gateway_signin_refuses_at_once() {
    let env = Env::new().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let (script, seen) = recording_browser(env.dir.path());
    let out = cli(
        env.dir.path(),
        closed,
        &["connections", "signin", "up", "--timeout", "30"],
    )
    .env("BROWSER", &script)
    .output()
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("no Gatehouse gateway is listening"),
        "the command says why: {stderr}"
    );
    assert!(
        !seen.exists(),
        "no browser is opened for a sign-in that could not come back"
    );
}
