//! What a browser does with Gatehouse's pages, and a `$BROWSER` for the command line's sign-in
//! that records the URL it is handed instead of opening it.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// What a browser does with Gatehouse's `GET /authorize`: loads it, keeps the consent cookie, and
/// follows the refresh to the review (the consent page). Returns the review's status and page and
/// the `Cookie` header value the decision must carry; status 0 when a request got no answer.
/// `request` is the `GET /authorize` to send.
pub async fn open_consent(
    http: &reqwest::Client,
    base: &str,
    request: reqwest::RequestBuilder,
) -> (u16, String, String) {
    let Ok(r) = request.send().await else {
        return (0, String::new(), String::new());
    };
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect::<Vec<_>>()
        .join("; ");
    let loading = r.text().await.unwrap_or_default();
    let marker = "http-equiv=\"refresh\" content=\"0; url=";
    let Some(start) = loading.find(marker).map(|i| i + marker.len()) else {
        return (200, loading, cookie);
    };
    let path = loading[start..].split('"').next().unwrap_or_default();
    match http
        .get(format!("{base}{path}"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
    {
        Ok(r) => (
            r.status().as_u16(),
            r.text().await.unwrap_or_default(),
            cookie,
        ),
        Err(_) => (0, String::new(), cookie),
    }
}

/// A `$BROWSER` script in `dir` that writes the URL it is given to a file and opens nothing:
/// (the script, the file).
pub fn recording_browser(dir: &Path) -> (PathBuf, PathBuf) {
    let seen = dir.join("browser-saw");
    let script = dir.join("browser.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nprintf '%s' \"$1\" > '{}'\n", seen.display()),
    )
    .unwrap_or_else(|e| panic!("writing {script:?}: {e}"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("making {script:?} executable: {e}"));
    }
    (script, seen)
}

/// The URL the [`recording_browser`] was handed, waiting up to 10 s for it.
pub async fn opened(seen: &Path) -> String {
    for _ in 0..100 {
        if let Ok(s) = std::fs::read_to_string(seen)
            && !s.is_empty()
        {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the browser was never given the authorization URL");
}
