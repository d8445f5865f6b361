//! The consent page and the authorization error page: server-rendered HTML served by the gateway in the
//! person's browser, where each client is approved before it can use a connection (MCP security best
//! practices §Confused Deputy Problem, §Consent UI Requirements).
//!
//! - The pages are askama templates (`src-tauri/core/templates/`), which escape every interpolated
//!   value for HTML: the client name, tool names and descriptions are self-reported by the client or
//!   the upstream and are shown as text, never as markup.
//! - No script at all. The only inline content is one `<style>` element, allowed by
//!   `style-src 'unsafe-inline'`; everything else is `default-src 'none'`.
//! - Framing is refused twice: `frame-ancestors 'none'` and `X-Frame-Options: DENY` (OAuth 2.1 §7.10,
//!   against clickjacking). `Cache-Control: no-store` keeps the CSRF token out of caches.
//! - `Referrer-Policy: same-origin`, not `no-referrer`: the page's query (state, code challenge) never
//!   reaches another origin in `Referer`, but the consent form's POST keeps a real `Origin` header. Under
//!   `no-referrer` browsers send `Origin: null` on a form POST (Fetch §"serializing a request origin"),
//!   which the gateway's Origin guard refuses, so the Approve button would never work.
//! - **`form-action`** lists `'self'` *and* the redirect target: Chromium (and Firefox) apply
//!   `form-action` to the redirects that follow a form submission, so `'self'` alone would block the 303
//!   to the client's callback. The target is the callback's origin (`http://localhost:53122`), its scheme
//!   for private-use callbacks (`cursor:`), or `http:` for an `[::1]` callback (CSP host sources cannot
//!   name IPv6 literals). The error page has no form and gets `form-action 'none'`.

use askama::Template;
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

impl ConsentPage {
    /// The page body.
    pub fn render(&self) -> String {
        let connection = self.connection_name.as_str();
        let scopes = self
            .scopes
            .iter()
            .map(|scope| ScopeLine {
                text: match scope.as_str() {
                    SCOPE_MCP_ACCESS => format!(
                        "Use every tool, resource and prompt of {connection} that you allow \
                         below, until you revoke it in Gatehouse."
                    ),
                    SCOPE_OFFLINE_ACCESS => {
                        "Stay signed in: renew its access without asking you again.".to_owned()
                    }
                    other => other.to_owned(),
                },
                code: scope,
            })
            .collect();
        let tools = match &self.tools {
            Ok(tools) if tools.is_empty() => ToolChoice::NoneListed,
            Ok(tools) => ToolChoice::Listed(
                tools
                    .iter()
                    .map(|tool| ToolRow {
                        name: &tool.name,
                        title: tool.title.as_deref().filter(|t| !t.is_empty()),
                        description: tool.description.as_deref().filter(|d| !d.is_empty()),
                    })
                    .collect(),
            ),
            Err(error) => ToolChoice::Unavailable(error),
        };
        render(&ConsentTemplate {
            client_name: self.client_name.as_deref(),
            client_id: &self.client_id,
            caller: self.caller.as_ref().map(|caller| {
                (
                    caller.exe.as_deref().unwrap_or("executable not visible"),
                    caller.pid,
                )
            }),
            client_id_host: self.client_id_host.as_deref(),
            callback: &self.callback,
            callback_host: &self.callback_host,
            warnings: &self.warnings,
            connection,
            account: self.account_label.as_deref().unwrap_or("you"),
            scopes,
            tools,
            request_id: &self.request_id,
            csrf_token: &self.csrf_token,
        })
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
        render(&MessageTemplate {
            title: self.title,
            message: &self.message,
            note: Some(
                "Nothing was sent back to the client. Start the connection again from the MCP \
                 client if you meant to authorize it.",
            ),
        })
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
        render(&ConsentLoadingTemplate {
            review_path: &self.review_path,
        })
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
        let ids = [
            ("request_id", self.request_id.as_str()),
            ("csrf_token", self.csrf_token.as_str()),
        ];
        let choices: Vec<(&str, &str)> = self
            .offered
            .iter()
            .map(|t| ("offered", t.as_str()))
            .chain(self.tools.iter().map(|t| ("tool", t.as_str())))
            .chain(self.all_tools.then_some(("all_tools", "yes")))
            .collect();
        render(&UpstreamSignInFirstTemplate {
            connection: &self.connection,
            ids: &ids,
            choices: &choices,
        })
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

/// One line of "What this allows": the scope in words (plain text) and its code.
struct ScopeLine<'a> {
    text: String,
    code: &'a str,
}

/// A tool of the upstream, as the consent form offers it.
struct ToolRow<'a> {
    name: &'a str,
    title: Option<&'a str>,
    description: Option<&'a str>,
}

/// What the consent form offers about tools.
enum ToolChoice<'a> {
    /// The upstream lists none now: approving allows all it offers later.
    NoneListed,
    Listed(Vec<ToolRow<'a>>),
    /// The list could not be loaded (why): approving allows all.
    Unavailable(&'a str),
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentTemplate<'a> {
    client_name: Option<&'a str>,
    client_id: &'a str,
    /// The program the OS saw and its pid.
    caller: Option<(&'a str, u32)>,
    client_id_host: Option<&'a str>,
    callback: &'a str,
    callback_host: &'a str,
    warnings: &'a [String],
    connection: &'a str,
    account: &'a str,
    scopes: Vec<ScopeLine<'a>>,
    tools: ToolChoice<'a>,
    request_id: &'a str,
    csrf_token: &'a str,
}

/// A page with a title and a message (plain text, escaped by the template).
#[derive(Template)]
#[template(path = "message.html")]
pub(crate) struct MessageTemplate<'a> {
    pub title: &'a str,
    pub message: &'a str,
    /// A quieter line under the message.
    pub note: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "consent_loading.html")]
struct ConsentLoadingTemplate<'a> {
    review_path: &'a str,
}

#[derive(Template)]
#[template(path = "upstream_signin_first.html")]
struct UpstreamSignInFirstTemplate<'a> {
    connection: &'a str,
    ids: &'a [(&'a str, &'a str)],
    choices: &'a [(&'a str, &'a str)],
}

/// Renders a page; a template that cannot render (a formatting error: none of these has a
/// fallible expression) gives a plain sentence rather than a panic.
pub(crate) fn render(template: &impl Template) -> String {
    template.render().unwrap_or_else(|_| {
        "<!DOCTYPE html><title>Gatehouse</title><p>This page could not be shown.</p>".to_owned()
    })
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
#[path = "consent_page_tests.rs"]
mod tests;
