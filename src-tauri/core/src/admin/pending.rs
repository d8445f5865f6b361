//! Consent requests waiting for the person, decided in the window ("Requests") or with
//! `gatehoused requests list|approve|deny`, so a person with Gatehouse open never needs the browser
//! page (OAuth 2.1 §4.1.2: the authorization server answers the client at its redirect URI).
//!
//! The decision is the consent page's own ([`crate::oauth::server::decision::decide_in`]): the
//! same transaction activates the grant and issues a one-use code bound to the request's PKCE
//! challenge, redirect URI and resource, so only the client that started the request can redeem it.
//! Only the desktop user reaches this: the window is theirs, and the CLI runs as them.
//!
//! Then the answer must reach the client, which is waiting at its redirect URI:
//! - a **loopback** callback (`http://127.0.0.1:PORT/…`, `http://localhost:PORT/…`: Claude Code,
//!   VS Code, Cursor's fallback, mcp-remote, the SDKs) gets the redirect as a GET from Gatehouse
//!   itself, exactly what the browser would have sent (RFC 8252 §7.3);
//! - an **app link** (`cursor://…`, `com.example.app:/cb`) is handed to the desktop's opener, which
//!   starts the app that claimed the scheme (RFC 8252 §7.1);
//! - an **https** callback (`https://vscode.dev/redirect`) is opened in the system browser.

use std::time::Duration;

use serde::Serialize;
use ts_rs::TS;

use super::{AdminError, CallerView};
use crate::oauth::server::decision::{Outcome, decide_in};
use crate::oauth::server::error::{ErrorCode, code_redirect, error_redirect};
use crate::oauth::server::redirect_uri::RedirectUri;
use crate::store::authorization_requests::{self, Decision, RequestStatus};
use crate::store::{AuthorizationRequestId, clients, connections};
use crate::vault::Vault;

/// How long Gatehouse waits for a loopback callback to answer.
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(10);

/// One consent request waiting for a decision. Never a token, code or secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct PendingRequestView {
    pub id: String,
    pub client_id: String,
    /// As the client reported it: unverified, absent when it gave none.
    pub client_name: Option<String>,
    /// The program the OS saw registering the client, when Gatehouse saw it.
    pub caller: Option<CallerView>,
    pub connection_slug: String,
    pub connection_name: String,
    /// Where the answer goes.
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    #[ts(type = "number")]
    pub created_at: i64,
    #[ts(type = "number")]
    pub expires_at: i64,
}

/// What the person decided about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PendingDecision {
    /// `tools`: `None` allows every tool, `Some(list)` only those.
    Approve {
        tools: Option<Vec<String>>,
    },
    Deny,
}

/// How the answer reached the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "via", rename_all = "snake_case")]
pub enum Delivery {
    /// Gatehouse called the client's loopback callback, which answered with this HTTP status.
    Loopback { status: u16 },
    /// The app link or https callback was handed to the desktop's opener.
    Opened,
    /// The answer could not be delivered (the client stopped waiting): it must start again.
    Failed { reason: String },
}

/// What deciding did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct RequestDecided {
    pub approved: bool,
    pub delivery: Delivery,
}

/// The requests waiting for a decision, oldest first (expired ones are not listed).
pub fn list_pending_requests(vault: &Vault) -> Result<Vec<PendingRequestView>, AdminError> {
    let now = vault.store().now();
    vault
        .store()
        .read_blocking(move |conn| {
            let rows = authorization_requests::list_pending(conn, now)?;
            let mut views = Vec::with_capacity(rows.len());
            for row in rows {
                let client = clients::get(conn, &row.client_id)?;
                let connection = connections::get(conn, &row.connection_id)?;
                let caller = row
                    .caller
                    .clone()
                    .or(clients::registrant(conn, &row.client_id)?)
                    .map(CallerView::from);
                views.push(PendingRequestView {
                    id: row.id.to_string(),
                    client_id: row.client_id.to_string(),
                    client_name: client.and_then(|c| c.registration.client_name),
                    caller,
                    connection_slug: connection
                        .as_ref()
                        .map(|c| c.slug.clone())
                        .unwrap_or_default(),
                    connection_name: connection.map(|c| c.name).unwrap_or_default(),
                    redirect_uri: row.redirect_uri,
                    scopes: crate::store::split_tokens(&row.scopes),
                    created_at: row.created_at,
                    expires_at: row.expires_at,
                });
            }
            Ok(views)
        })
        .map_err(AdminError::from)
}

/// Approves or denies request `id` and sends the answer to the client (module docs). `port` is
/// the gateway's, whose issuer (`http://127.0.0.1:PORT`) the answer names (RFC 9207 `iss`).
pub async fn decide_pending_request(
    vault: &Vault,
    port: u16,
    id: &str,
    decision: PendingDecision,
) -> Result<RequestDecided, AdminError> {
    let not_found = || AdminError::NotFound {
        what: "pending request",
        key: id.to_owned(),
    };
    let request_id = AuthorizationRequestId::parse(id.trim()).ok_or_else(not_found)?;
    let approved = matches!(decision, PendingDecision::Approve { .. });
    let (decision, tools) = match decision {
        PendingDecision::Approve { tools } => (Decision::Approve, tools),
        PendingDecision::Deny => (Decision::Deny, None),
    };
    let now = vault.store().now();
    let outcome = vault
        .store()
        .write_with_events(move |tx| {
            let Some(request) = authorization_requests::get(tx, &request_id)? else {
                return Ok((None, Vec::new()));
            };
            if request.status != RequestStatus::Pending {
                return Ok((None, Vec::new()));
            }
            let (outcome, events) = decide_in(tx, request, decision, tools.as_deref(), now)?;
            Ok((Some(outcome), events))
        })
        .await?;
    let issuer = format!("http://127.0.0.1:{port}");
    let location = match outcome.ok_or_else(not_found)? {
        Outcome::Refused(message) => return Err(AdminError::Conflict(message.to_owned())),
        Outcome::NeedsUpstreamSignIn { connection, .. } => {
            return Err(AdminError::Conflict(format!(
                "Gatehouse is not signed in to {connection} yet: sign in first, then approve"
            )));
        }
        Outcome::Denied {
            redirect_uri,
            state,
        } => error_redirect(
            &redirect_uri,
            ErrorCode::AccessDenied,
            Some("the user denied the authorization"),
            state.as_deref(),
            &issuer,
        ),
        Outcome::Approved {
            redirect_uri,
            state,
            code,
        } => code_redirect(&redirect_uri, &code, state.as_deref(), &issuer),
    }
    .map_err(|e| AdminError::Conflict(format!("the client's redirect URI is unusable: {e}")))?;
    let delivery = deliver(&location).await;
    tracing::info!(request = %id, approved, ?delivery, "consent decided outside the browser");
    Ok(RequestDecided { approved, delivery })
}

/// Sends the redirect to the client (module docs). The location carries a one-use code: it is
/// never logged.
async fn deliver(location: &str) -> Delivery {
    let failed = |reason: String| Delivery::Failed { reason };
    let loopback = RedirectUri::parse_for_registration(location)
        .ok()
        .is_some_and(|uri| uri.is_loopback());
    if loopback {
        let client = match reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(CALLBACK_TIMEOUT)
            .build()
        {
            Ok(client) => client,
            Err(e) => return failed(e.to_string()),
        };
        return match client.get(location).send().await {
            Ok(response) => Delivery::Loopback {
                status: response.status().as_u16(),
            },
            Err(_) => failed(String::from(
                "the client no longer listens at its callback; start the connection again from the client",
            )),
        };
    }
    let opened = if location.starts_with("https://") {
        crate::net::browser::open_browser(location)
    } else {
        crate::net::browser::open_app_link(location)
    };
    match opened {
        Ok(()) => Delivery::Opened,
        Err(e) => failed(format!("the callback could not be opened: {e}")),
    }
}
