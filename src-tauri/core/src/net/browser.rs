//! Opening a URL in the person's browser, for the upstream sign-in (RFC 8252 §4.1: a native app
//! uses the system browser, never an embedded web view). The browser is launched as a program with
//! the URL as one argument (never through a shell string): `$BROWSER` if set, else `xdg-open` /
//! `open` / `rundll32 url.dll,FileProtocolHandler`. Both `gatehoused connections signin` and the
//! app's `start_signin` command use it, so `$BROWSER` is honoured by both (the end-to-end tests rely
//! on that to sign in with Playwright).

use std::process::{Command, Stdio};

use super::outbound::is_loopback_host;

/// Hands an app link (a private-use URI scheme such as `cursor://…` or `com.example.app:/cb`,
/// RFC 8252 §7.1) to the desktop's opener (`xdg-open` / `open` / `rundll32`), which starts the app
/// that claimed the scheme. Web, file and script schemes are refused: those are not app links.
pub fn open_app_link(url: &str) -> std::io::Result<()> {
    let parsed =
        url::Url::parse(url).map_err(|_| std::io::Error::other("the app link is not a URL"))?;
    if matches!(
        parsed.scheme(),
        "http" | "https" | "file" | "javascript" | "data" | "about" | "blob" | "ftp"
    ) {
        return Err(std::io::Error::other(
            "refusing to open a web, file or script URL as an app link",
        ));
    }
    launch(desktop_opener(url))
}

/// The desktop's opener on `url`: `open` / `rundll32 url.dll,FileProtocolHandler` / `xdg-open`.
fn desktop_opener(url: &str) -> Command {
    if cfg!(target_os = "macos") {
        let mut c = Command::new("open");
        c.arg(url);
        c
    } else if cfg!(windows) {
        let mut c = Command::new("rundll32");
        c.args(["url.dll,FileProtocolHandler", url]);
        c
    } else {
        let mut c = Command::new("xdg-open");
        c.arg(url);
        c
    }
}

/// Starts `command` detached from our standard streams.
fn launch(mut command: Command) -> std::io::Result<()> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(drop)
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
    let command = match std::env::var("BROWSER")
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
        None => desktop_opener(url),
    };
    launch(command)
}
