//! The consent page and the authorization error page: server-rendered HTML served by the gateway in the
//! person's browser (product.md §3, mcp-auth-checklist §2.3 last item, §2.4).
//!
//! - Every interpolated value goes through [`escape`]; the client name, tool names and descriptions are
//!   self-reported by the client or the upstream and are shown as text, never as markup.
//! - No script at all. The only inline content is one `<style>` element, allowed by
//!   `style-src 'unsafe-inline'`; everything else is `default-src 'none'`.
//! - Framing is refused twice: `frame-ancestors 'none'` and `X-Frame-Options: DENY` (OAuth 2.1 §7.10,
//!   checklist case 39). `Cache-Control: no-store` keeps the CSRF token out of caches.
//! - `Referrer-Policy: same-origin`, not `no-referrer`: the page's query (state, code challenge) never
//!   reaches another origin in `Referer`, but the consent form's POST keeps a real `Origin` header. Under
//!   `no-referrer` browsers send `Origin: null` on a form POST (Fetch §"serializing a request origin"),
//!   which the gateway's Origin guard refuses, so the Approve button would never work.
//! - **`form-action`** lists `'self'` *and* the redirect target: Chromium (and Firefox) apply
//!   `form-action` to the redirects that follow a form submission, so `'self'` alone would block the 303
//!   to the client's callback. The target is the callback's origin (`http://localhost:53122`), its scheme
//!   for private-use callbacks (`cursor:`), or `http:` for an `[::1]` callback (CSP host sources cannot
//!   name IPv6 literals). The error page has no form and gets `form-action 'none'`.

use std::fmt::Write as _;

use axum::response::{Html, IntoResponse, Response};
use http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, PRAGMA, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use http::{HeaderName, HeaderValue, StatusCode};
use url::Url;

use super::policy::{SCOPE_MCP_ACCESS, SCOPE_OFFLINE_ACCESS};
use super::tool_catalog::ToolSummary;
use crate::store::authorization_requests::CallerProcess;

/// Escapes text for HTML element content and double- or single-quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What the consent page shows and submits.
#[derive(Debug, Clone)]
pub struct ConsentPage {
    /// Self-reported; `None` renders "Unverified MCP client".
    pub client_name: Option<String>,
    pub client_id: String,
    /// The host of an https `client_id` (CIMD §6.4): where the client's metadata came from.
    pub client_id_host: Option<String>,
    /// The program the OS saw registering this client (not self-reported), when Gatehouse saw it.
    pub caller: Option<CallerProcess>,
    pub connection_name: String,
    /// "on behalf of <account>"; `None` renders "on behalf of you".
    pub account_label: Option<String>,
    /// The exact callback the code will be sent to.
    pub callback: String,
    /// The callback's host (empty for a private-use URI without authority).
    pub callback_host: String,
    /// Plain-words warnings about the callback (private-use scheme, every callback on localhost).
    pub warnings: Vec<String>,
    /// The scopes the grant will carry.
    pub scopes: Vec<String>,
    /// The upstream's tools, or why they could not be listed.
    pub tools: Result<Vec<ToolSummary>, String>,
    pub request_id: String,
    pub csrf_token: String,
}

const STYLE: &str = r#"
:root { color-scheme: light dark; --fg: #1b1f24; --bg: #ffffff; --muted: #57606a; --box: #f6f8fa;
  --border: #d0d7de; --accent: #0a58ca; --warn-bg: #fff8c5; --warn-fg: #5c4200; --deny: #b42318; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9da7b3; --box: #161b22; --border: #3d444d;
    --accent: #6cb6ff; --warn-bg: #3b2e00; --warn-fg: #f2cc60; --deny: #ff7b72; }
}
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg);
  margin: 0; padding: 2rem 1rem; }
main { max-width: 40rem; margin: 0 auto; }
h1 { font-size: 1.5rem; margin: 0 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
.muted, .unverified { color: var(--muted); font-size: .9rem; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9rem; }
pre { background: var(--box); border: 1px solid var(--border); border-radius: 6px; padding: .5rem .75rem;
  white-space: pre-wrap; word-break: break-all; margin: .25rem 0; }
dl { margin: 0; } dt { font-weight: 600; margin-top: .75rem; } dd { margin: 0; word-break: break-all; }
.warning { background: var(--warn-bg); color: var(--warn-fg); border-radius: 6px; padding: .5rem .75rem;
  margin: .5rem 0; }
fieldset { border: 1px solid var(--border); border-radius: 6px; padding: .5rem 1rem; }
label { display: block; padding: .25rem 0; }
.tool-description { display: block; margin-left: 1.6rem; }
.actions { display: flex; gap: 1rem; margin-top: 1.5rem; }
button { font: inherit; padding: .5rem 1.5rem; border-radius: 6px; border: 1px solid var(--border);
  background: var(--box); color: var(--fg); cursor: pointer; }
button[value="approve"] { background: var(--accent); border-color: var(--accent); color: var(--bg); }
button[value="deny"] { color: var(--deny); }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
"#;

impl ConsentPage {
    /// The page body.
    pub fn render(&self) -> String {
        let mut html = String::with_capacity(8 * 1024);
        let connection = escape(&self.connection_name);
        let account = self
            .account_label
            .as_deref()
            .map_or_else(|| String::from("you"), escape);
        head(&mut html, "Authorize an MCP client");
        html.push_str("<main>\n<h1>Authorize an MCP client</h1>\n<p>");
        match self.client_name.as_deref() {
            Some(name) => {
                let _ = write!(
                    html,
                    "<strong>&quot;{}&quot;</strong> <span class=\"unverified\">(unverified — self-reported by the client)</span>",
                    escape(name)
                );
            }
            None => html.push_str("<strong>Unverified MCP client</strong>"),
        }
        let _ = write!(
            html,
            " wants to use <strong>{connection}</strong> on behalf of {account}.</p>\n<dl>\n\
             <dt>Client ID</dt><dd><code>{}</code></dd>\n",
            escape(&self.client_id)
        );
        match &self.caller {
            Some(caller) => {
                let _ = writeln!(
                    html,
                    "<dt>Program</dt><dd><code>{}</code> (pid {}) <span class=\"muted\">— seen on this \
                     computer when the client registered; the name above is only what it reported</span></dd>",
                    escape(caller.exe.as_deref().unwrap_or("executable not visible")),
                    caller.pid
                );
            }
            None => html.push_str(
                "<dt>Program</dt><dd><span class=\"muted\">Not seen: Gatehouse did not see which program \
                 registered this client.</span></dd>\n",
            ),
        }
        if let Some(host) = &self.client_id_host {
            let _ = writeln!(
                html,
                "<dt>Client ID host</dt><dd><code>{}</code> <span class=\"muted\">(the client's metadata \
                 document was fetched from this host)</span></dd>",
                escape(host)
            );
        }
        let _ = write!(
            html,
            "<dt>Callback</dt><dd><pre><code>{}</code></pre>",
            escape(&self.callback)
        );
        if !self.callback_host.is_empty() {
            let _ = write!(
                html,
                "<span class=\"muted\">The authorization code is sent to the host <code>{}</code>.</span>",
                escape(&self.callback_host)
            );
        }
        html.push_str("</dd>\n</dl>\n");
        for warning in &self.warnings {
            let _ = writeln!(
                html,
                "<p class=\"warning\" role=\"note\">{}</p>",
                escape(warning)
            );
        }

        html.push_str("<h2>What this allows</h2>\n<ul>\n");
        for scope in &self.scopes {
            let text = match scope.as_str() {
                SCOPE_MCP_ACCESS => format!(
                    "Use every tool, resource and prompt of {connection} that you allow below, \
                     until you revoke it in Gatehouse."
                ),
                SCOPE_OFFLINE_ACCESS => {
                    String::from("Stay signed in: renew its access without asking you again.")
                }
                other => escape(other),
            };
            let _ = writeln!(
                html,
                "<li>{text} <span class=\"muted\">(<code>{}</code>)</span></li>",
                escape(scope)
            );
        }
        html.push_str("</ul>\n");

        html.push_str("<form method=\"post\" action=\"/authorize/decision\">\n");
        let _ = writeln!(
            html,
            "<input type=\"hidden\" name=\"request_id\" value=\"{}\">\n\
             <input type=\"hidden\" name=\"csrf_token\" value=\"{}\">",
            escape(&self.request_id),
            escape(&self.csrf_token)
        );
        match &self.tools {
            Ok(tools) if tools.is_empty() => {
                let _ = writeln!(
                    html,
                    "<p>{connection} lists no tools right now; approving allows all tools it offers later.</p>\n\
                     <input type=\"hidden\" name=\"all_tools\" value=\"yes\">"
                );
            }
            Ok(tools) => {
                let _ = writeln!(
                    html,
                    "<fieldset>\n<legend>Tools of {connection} this client may use</legend>"
                );
                for (i, tool) in tools.iter().enumerate() {
                    let name = escape(&tool.name);
                    let label = tool.title.as_deref().filter(|t| !t.is_empty()).map_or_else(
                        || format!("<code>{name}</code>"),
                        |t| format!("{} <code>{name}</code>", escape(t)),
                    );
                    let _ = write!(
                        html,
                        "<input type=\"hidden\" name=\"offered\" value=\"{name}\">\
                         <label for=\"tool-{i}\"><input type=\"checkbox\" id=\"tool-{i}\" name=\"tool\" \
                         value=\"{name}\" checked> {label}"
                    );
                    if let Some(description) = tool.description.as_deref().filter(|d| !d.is_empty())
                    {
                        let _ = write!(
                            html,
                            "<span class=\"tool-description muted\">{}</span>",
                            escape(description)
                        );
                    }
                    html.push_str("</label>\n");
                }
                html.push_str("</fieldset>\n");
            }
            Err(error) => {
                let _ = writeln!(
                    html,
                    "<p class=\"warning\" role=\"note\">The tool list could not be loaded: {}; approving allows all tools.</p>\n\
                     <input type=\"hidden\" name=\"all_tools\" value=\"yes\">",
                    escape(error)
                );
            }
        }
        html.push_str(
            "<div class=\"actions\">\n\
             <button type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>\n\
             <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\n\
             </div>\n</form>\n\
             <p class=\"muted\">Only approve if you just started connecting this client yourself. \
             You can revoke it at any time in the Gatehouse app.</p>\n</main>\n</body>\n</html>\n",
        );
        html
    }

    /// The full response: 200, the page, and the security headers with `form-action` allowing the callback.
    pub fn response(&self) -> Response {
        let form_action = form_action_source(&self.callback).map_or_else(
            || String::from("'self'"),
            |target| format!("'self' {target}"),
        );
        with_page_headers(
            StatusCode::OK,
            &form_action,
            Html(self.render()).into_response(),
        )
    }
}

/// An authorization error shown in the browser (never redirected): unknown client, bad redirect URI,
/// a consent form that is stale or lacks its CSRF token.
#[derive(Debug, Clone)]
pub struct ErrorPage {
    pub status: StatusCode,
    pub title: &'static str,
    /// Plain text; escaped when rendered.
    pub message: String,
}

impl ErrorPage {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ErrorPage {
            status: StatusCode::BAD_REQUEST,
            title: "This authorization request cannot continue",
            message: message.into(),
        }
    }

    pub fn render(&self) -> String {
        let mut html = String::with_capacity(2048);
        head(&mut html, self.title);
        let _ = write!(
            html,
            "<main>\n<h1>{}</h1>\n<p>{}</p>\n<p class=\"muted\">Nothing was sent back to the client. \
             Start the connection again from the MCP client if you meant to authorize it.</p>\n</main>\n\
             </body>\n</html>\n",
            escape(self.title),
            escape(&self.message)
        );
        html
    }
}

impl IntoResponse for ErrorPage {
    fn into_response(self) -> Response {
        with_page_headers(self.status, "'none'", Html(self.render()).into_response())
    }
}

/// What `GET /authorize` answers: a page that opens the consent review at once. A browser document
/// follows its refresh; an `<img>` or a script that loaded `/authorize` does not, so nothing costly
/// (the upstream's tool list) happens until a person's browser shows the page.
#[derive(Debug, Clone)]
pub struct ConsentLoadingPage {
    /// `/authorize/review?request_id=…` (a fixed path and a UUID: nothing to escape, escaped anyway).
    pub review_path: String,
}

impl ConsentLoadingPage {
    pub fn render(&self) -> String {
        let mut html = String::with_capacity(2048);
        let path = escape(&self.review_path);
        html.push_str(&format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta http-equiv=\"refresh\" content=\"0; url={path}\">\n"
        ));
        let _ = write!(
            html,
            "<meta name=\"color-scheme\" content=\"light dark\">\n<title>Authorize an MCP client · Gatehouse</title>\n\
             <style>{STYLE}</style>\n</head>\n<body>\n<main>\n<h1>Authorize an MCP client</h1>\n\
             <p>Opening the request… <a href=\"{path}\">Continue</a></p>\n</main>\n</body>\n</html>\n"
        );
        html
    }
}

impl IntoResponse for ConsentLoadingPage {
    fn into_response(self) -> Response {
        with_page_headers(
            StatusCode::OK,
            "'none'",
            Html(self.render()).into_response(),
        )
    }
}

/// Shown instead of a code when the connection has no usable upstream credential (role 2): one button
/// starts the upstream sign-in (in this tab; the callback page says when it is done), the other
/// submits the same decision again, with the same tool choice, once Gatehouse is signed in.
#[derive(Debug, Clone)]
pub struct UpstreamSignInPage {
    pub connection: String,
    pub request_id: String,
    pub csrf_token: String,
    pub offered: Vec<String>,
    pub tools: Vec<String>,
    /// The consent page allowed every tool (its list was empty or could not be loaded).
    pub all_tools: bool,
    /// The client's callback: the approve-again answer is a 303 there, which `form-action` governs.
    pub callback: String,
}

impl UpstreamSignInPage {
    pub fn render(&self) -> String {
        let mut html = String::with_capacity(2048);
        head(&mut html, "Sign in to the upstream first");
        let hidden = |name: &str, value: &str| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(name),
                escape(value)
            )
        };
        let ids = format!(
            "{}{}",
            hidden("request_id", &self.request_id),
            hidden("csrf_token", &self.csrf_token)
        );
        let choices: String = self
            .offered
            .iter()
            .map(|t| hidden("offered", t))
            .chain(self.tools.iter().map(|t| hidden("tool", t)))
            .chain(self.all_tools.then(|| hidden("all_tools", "yes")))
            .collect();
        let _ = write!(
            html,
            "<main>\n<h1>Sign in to {name} first</h1>\n<p>Gatehouse is not signed in to {name} yet, \
             so this client cannot use it. Sign in, then come back to this tab and approve again.</p>\n\
             <form method=\"post\" action=\"/oauth/upstream-signin\" target=\"_blank\">{ids}\
             <button type=\"submit\">Sign in to {name}</button></form>\n\
             <form method=\"post\" action=\"/authorize/decision\">{ids}{choices}\
             <input type=\"hidden\" name=\"decision\" value=\"approve\">\
             <button type=\"submit\">I signed in: approve again</button></form>\n</main>\n</body>\n</html>\n",
            name = escape(&self.connection),
        );
        html
    }
}

impl IntoResponse for UpstreamSignInPage {
    fn into_response(self) -> Response {
        // Both forms post to the gateway itself; approving again answers 303 to the client's
        // callback, so `form-action` allows it exactly as on the consent page.
        let form_action = form_action_source(&self.callback).map_or_else(
            || String::from("'self'"),
            |target| format!("'self' {target}"),
        );
        with_page_headers(
            StatusCode::CONFLICT,
            &form_action,
            Html(self.render()).into_response(),
        )
    }
}

fn head(html: &mut String, title: &str) {
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n<title>{} · Gatehouse</title>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n",
        escape(title)
    );
}

/// The CSP of every page this module renders, with `form_action` as the `form-action` source list.
pub fn content_security_policy(form_action: &str) -> String {
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; form-action {form_action}; \
         frame-ancestors 'none'; base-uri 'none'"
    )
}

/// The CSP source expression that lets the consent form's 303 reach `callback` (module docs).
pub fn form_action_source(callback: &str) -> Option<String> {
    let url = Url::parse(callback).ok()?;
    let scheme = url.scheme();
    match (scheme, url.host()) {
        ("http" | "https", Some(url::Host::Ipv6(_))) => Some(format!("{scheme}:")),
        ("http" | "https", Some(host)) => Some(match url.port() {
            Some(port) => format!("{scheme}://{host}:{port}"),
            None => format!("{scheme}://{host}"),
        }),
        ("http" | "https", None) => None,
        _ => Some(format!("{scheme}:")),
    }
}

fn with_page_headers(status: StatusCode, form_action: &str, mut response: Response) -> Response {
    *response.status_mut() = status;
    let csp = HeaderValue::from_str(&content_security_policy(form_action))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"));
    let headers: [(HeaderName, HeaderValue); 6] = [
        (CONTENT_SECURITY_POLICY, csp),
        (X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (PRAGMA, HeaderValue::from_static("no-cache")),
        (REFERRER_POLICY, HeaderValue::from_static("same-origin")),
        (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    ];
    for (name, value) in headers {
        response.headers_mut().insert(name, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> ConsentPage {
        ConsentPage {
            client_name: Some("<script>alert(1)</script>".into()),
            client_id: "c\"1".into(),
            client_id_host: None,
            caller: Some(CallerProcess {
                pid: 4242,
                exe: Some("/usr/bin/<claude>".into()),
            }),
            connection_name: "Docs & <b>".into(),
            account_label: None,
            callback: "http://localhost:53122/callback?x=<y>".into(),
            callback_host: "localhost".into(),
            warnings: vec!["every <callback>".into()],
            scopes: vec![SCOPE_MCP_ACCESS.into()],
            tools: Ok(vec![ToolSummary {
                name: "x\"><script>".into(),
                title: Some("<i>T</i>".into()),
                description: Some("<img src=x onerror=alert(1)>".into()),
            }]),
            request_id: "r".into(),
            csrf_token: "t".into(),
        }
    }

    #[test]
    fn every_interpolated_value_is_escaped() {
        let html = page().render();
        assert!(
            html.contains("<code>/usr/bin/&lt;claude&gt;</code> (pid 4242)"),
            "the program the OS saw is shown, escaped, beside the reported name"
        );
        for raw in [
            "<claude>",
            "<script>",
            "<b>",
            "<y>",
            "<callback>",
            "<i>",
            "<img",
            "x\">",
        ] {
            assert!(
                !html.contains(raw),
                "self-reported text must never become markup: found {raw} in the page"
            );
        }
        assert!(
            html.contains("&quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;"),
            "the client name is shown, escaped, in quotes"
        );
        assert!(!html.contains("<script"), "the page has no script at all");
        assert!(
            html.contains("value=\"x&quot;&gt;&lt;script&gt;\""),
            "a tool name cannot break out of its attribute"
        );
    }

    #[test]
    fn unnamed_client_and_failed_tool_list() {
        let mut p = page();
        p.client_name = None;
        p.tools = Err("upstream unreachable".into());
        let html = p.render();
        assert!(
            html.contains("Unverified MCP client"),
            "no name → the unverified label"
        );
        assert!(
            html.contains(
                "The tool list could not be loaded: upstream unreachable; approving allows all tools"
            ),
            "the failure is explained"
        );
        assert!(
            !html.contains("type=\"checkbox\""),
            "no checkboxes without a tool list"
        );
        assert!(html.contains("on behalf of you"), "no account label → you");
    }

    #[test]
    fn buttons_have_exact_accessible_names() {
        let html = page().render();
        assert!(
            html.contains(
                "<button type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>"
            ),
            "Approve button"
        );
        assert!(
            html.contains("<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>"),
            "Deny button"
        );
    }

    #[test]
    fn form_action_sources() {
        assert_eq!(
            form_action_source("http://localhost:53122/callback").as_deref(),
            Some("http://localhost:53122"),
            "loopback origin with its port"
        );
        assert_eq!(
            form_action_source("cursor://anysphere.cursor-mcp/oauth/callback").as_deref(),
            Some("cursor:"),
            "private-use scheme"
        );
        assert_eq!(
            form_action_source("https://vscode.dev/redirect").as_deref(),
            Some("https://vscode.dev"),
            "https origin"
        );
        assert_eq!(
            form_action_source("http://[::1]:5000/cb").as_deref(),
            Some("http:"),
            "CSP cannot name IPv6 literals"
        );
    }

    #[test]
    fn headers_refuse_framing_and_caching() {
        let response = page().response();
        let get = |name: &HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert!(
            get(&CONTENT_SECURITY_POLICY).contains("frame-ancestors 'none'"),
            "checklist 39"
        );
        assert_eq!(get(&X_FRAME_OPTIONS), "DENY", "checklist 39");
        assert_eq!(
            get(&CACHE_CONTROL),
            "no-store",
            "the CSRF token is not cached"
        );
        assert!(
            get(&CONTENT_SECURITY_POLICY).contains("form-action 'self' http://localhost:53122;"),
            "the 303 to the callback is allowed"
        );
    }
}
