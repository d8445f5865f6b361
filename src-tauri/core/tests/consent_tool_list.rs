//! The consent page's tool list (`proxy::catalog`, rmcp's client over Gatehouse's HTTP) against
//! real upstreams on 127.0.0.1:0: the pages are followed by cursor across JSON and SSE answers and
//! stop at `MAX_PAGES`; the connection's credential (a header of any name, or a bearer) reaches
//! every request, the session's DELETE included; no GET stream is opened; a redirect is not
//! followed and is an error; an answer over `MAX_RESPONSE` and a 401 are errors in the consent
//! page's words.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use gatehouse_core::proxy::{self, catalog};
use gatehouse_testkit::{World, connections, upstream};
use secrecy::SecretString;
use serde_json::{Value, json};

const SECRET: &str = "tenant-key-51c9";
const SESSION: &str = "catalog-session-1";

/// Every request an upstream got: HTTP method, headers, JSON body.
#[derive(Default)]
struct Seen {
    requests: Mutex<Vec<(String, HeaderMap, Value)>>,
    elsewhere: Mutex<usize>,
}

impl Seen {
    fn record(&self, method: &str, headers: &HeaderMap, body: Value) {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((method.to_owned(), headers.clone(), body));
    }

    fn requests(&self) -> Vec<(String, HeaderMap, Value)> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `"POST initialize"`, `"DELETE "`, … in order.
    fn conversation(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|(m, _, b)| format!("{m} {}", b["method"].as_str().unwrap_or("")))
            .collect()
    }
}

fn tool(name: &str) -> Value {
    json!({"name": name, "description": format!("{name} does"), "inputSchema": {"type": "object"}})
}

fn sse(events: &[Value]) -> Response {
    let body: String = events
        .iter()
        .map(|e| format!("event: message\ndata: {e}\n\n"))
        .collect();
    ([("content-type", "text/event-stream")], Body::from(body)).into_response()
}

/// One upstream per `kind`: `paged` (three pages: JSON, SSE, JSON), `endless` (a next cursor
/// every time), `huge` (an SSE answer over 4 MiB), `redirect` (307 elsewhere), `rejected` (401).
async fn upstream_post(
    State(seen): State<Arc<Seen>>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    seen.record("POST", &headers, value.clone());
    let id = value["id"].clone();
    let reply = |result: Value| json!({"jsonrpc": "2.0", "id": id, "result": result});
    let cursor = value["params"]["cursor"].as_str();
    match (kind.as_str(), value["method"].as_str().unwrap_or("")) {
        ("redirect", _) => {
            (StatusCode::TEMPORARY_REDIRECT, [("location", "/elsewhere")]).into_response()
        }
        ("rejected", _) => StatusCode::UNAUTHORIZED.into_response(),
        (_, "initialize") => (
            [
                ("mcp-session-id", SESSION),
                ("content-type", "application/json"),
            ],
            reply(json!({
                "protocolVersion": "2025-06-18",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "catalog-upstream", "version": "1"}
            }))
            .to_string(),
        )
            .into_response(),
        (_, m) if m.starts_with("notifications/") => StatusCode::ACCEPTED.into_response(),
        ("paged", "tools/list") => match cursor {
            None => axum::Json(reply(json!({
                "tools": [tool("alpha"), {"name": "beta", "title": "Beta", "inputSchema": {"type": "object"}}],
                "nextCursor": "page-2"
            })))
            .into_response(),
            Some("page-2") => sse(&[
                json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": "listing"}}),
                reply(json!({"tools": [tool("gamma")], "nextCursor": "page-3"})),
            ]),
            _ => axum::Json(reply(json!({"tools": [tool("delta")]}))).into_response(),
        },
        ("endless", "tools/list") => {
            let n = cursor.map_or(0, |c| c.len());
            axum::Json(reply(json!({
                "tools": [tool(&format!("t{n}"))],
                "nextCursor": format!("{}x", cursor.unwrap_or(""))
            })))
            .into_response()
        }
        ("huge", "tools/list") => {
            let padding = "x".repeat(64 * 1024);
            let notes: Vec<Value> = (0..80)
                .map(|_| json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": padding}}))
                .chain([reply(json!({"tools": [tool("late")]}))])
                .collect();
            sse(&notes)
        }
        _ => axum::Json(json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "Method not found"}}))
            .into_response(),
    }
}

async fn upstream_get(State(seen): State<Arc<Seen>>, headers: HeaderMap) -> StatusCode {
    seen.record("GET", &headers, Value::Null);
    StatusCode::METHOD_NOT_ALLOWED
}

async fn upstream_delete(State(seen): State<Arc<Seen>>, headers: HeaderMap) -> StatusCode {
    seen.record("DELETE", &headers, Value::Null);
    StatusCode::NO_CONTENT
}

async fn elsewhere(State(seen): State<Arc<Seen>>) -> StatusCode {
    *seen.elsewhere.lock().unwrap_or_else(|e| e.into_inner()) += 1;
    StatusCode::OK
}

/// The upstreams' router: `/{kind}/mcp` for each kind, and `/elsewhere`, the redirect's target.
fn upstreams(seen: Arc<Seen>) -> Router {
    Router::new()
        .route(
            "/{kind}/mcp",
            post(upstream_post)
                .get(upstream_get)
                .delete(upstream_delete),
        )
        .route("/elsewhere", any(elsewhere))
        .with_state(seen)
}

/// The upstreams on 127.0.0.1:0 and a store with one connection to upstream `kind`, with
/// [`SECRET`] in `X-Tenant-Key` when `header`.
async fn world(kind: &str, header: bool) -> World<Arc<Seen>> {
    let seen = Arc::new(Seen::default());
    let url = format!(
        "{}/{kind}/mcp",
        upstream::serve(upstreams(seen.clone())).await
    );
    let slug = kind.to_owned();
    let builder = World::builder().without_client();
    let builder = if header {
        builder.connection(move |vault| {
            connections::add_header_connection_in(vault, &slug, &url, "X-Tenant-Key", SECRET)
        })
    } else {
        builder.connection(move |vault| connections::add_open_connection(vault, &slug, &url))
    };
    builder.start(seen).await
}

/// The client the consent page lists tools with.
fn catalog_http() -> reqwest::Client {
    proxy::upstream_client(&proxy::ProxyOptions::default())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn pages_across_json_and_sse_with_the_credential_on_every_request() {
    let world = world("paged", true).await;
    let (row, http) = (world.row(), catalog_http());
    let tools = catalog::list_upstream_tools(&world.vault, &http, &row)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = tools.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["alpha", "beta", "gamma", "delta"],
        "every page, in order, the SSE one included"
    );
    assert_eq!(tools[1].1.as_deref(), Some("Beta"), "the title is kept");
    assert_eq!(
        tools[0].2.as_deref(),
        Some("alpha does"),
        "the description is kept"
    );
    assert_eq!(
        world.upstream.conversation(),
        [
            "POST initialize",
            "POST notifications/initialized",
            "POST tools/list",
            "POST tools/list",
            "POST tools/list",
            "DELETE "
        ],
        "the session is closed at the end, and no GET stream is opened"
    );
    let requests = world.upstream.requests();
    let cursors: Vec<Option<&str>> = requests
        .iter()
        .filter(|(_, _, b)| b["method"] == "tools/list")
        .map(|(_, _, b)| b["params"]["cursor"].as_str())
        .collect();
    assert_eq!(
        cursors,
        [None, Some("page-2"), Some("page-3")],
        "each page asks from the cursor the previous one gave"
    );
    for (i, (method, headers, _)) in requests.iter().enumerate() {
        assert_eq!(
            header(headers, "x-tenant-key"),
            Some(SECRET),
            "the connection's credential, whatever its header name, reaches {method} #{i}"
        );
        assert!(
            headers.get("authorization").is_none(),
            "a header connection sends no bearer"
        );
        let (session, version) = (
            header(headers, "mcp-session-id"),
            header(headers, "mcp-protocol-version"),
        );
        if i == 0 {
            assert_eq!(
                (session, version),
                (None, None),
                "initialize starts without a session"
            );
        } else {
            assert_eq!(
                (session, version),
                (Some(SESSION), Some("2025-06-18")),
                "{method} #{i} stays in the session, at the negotiated version"
            );
        }
    }
    assert_eq!(
        requests[0].2["params"]["protocolVersion"], "2025-06-18",
        "the protocol version Gatehouse asks for"
    );
    assert_eq!(requests[0].2["params"]["clientInfo"]["name"], "gatehouse");
}

#[tokio::test]
async fn a_bearer_reaches_every_request() {
    let world = world("paged", false).await;
    let (row, http) = (world.row(), catalog_http());
    let token = SecretString::from("upstream-access-token-93d1");
    let tools = catalog::list_upstream_tools_with(&world.vault, &http, &row, Some(&token))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tools.len(), 4);
    let requests = world.upstream.requests();
    assert_eq!(requests.len(), 6, "{:?}", world.upstream.conversation());
    for (method, headers, _) in &requests {
        assert_eq!(
            header(headers, "authorization"),
            Some("Bearer upstream-access-token-93d1"),
            "the upstream OAuth token reaches {method}"
        );
    }
}

#[tokio::test]
async fn pages_stop_at_max_pages() {
    let world = world("endless", true).await;
    let (row, http) = (world.row(), catalog_http());
    let tools = catalog::list_upstream_tools(&world.vault, &http, &row)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        tools.len(),
        catalog::MAX_PAGES,
        "one tool per page, MAX_PAGES pages"
    );
    let lists = world
        .upstream
        .conversation()
        .iter()
        .filter(|m| *m == "POST tools/list")
        .count();
    assert_eq!(
        lists,
        catalog::MAX_PAGES,
        "an upstream that always has a next page is not followed forever"
    );
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let world = world("redirect", true).await;
    let (row, http) = (world.row(), catalog_http());
    let err = catalog::list_upstream_tools(&world.vault, &http, &row)
        .await
        .err();
    assert_eq!(
        err.as_deref(),
        Some("the upstream MCP server answered HTTP 307"),
        "a redirect is an error"
    );
    assert_eq!(
        *world
            .upstream
            .elsewhere
            .lock()
            .unwrap_or_else(|e| e.into_inner()),
        0,
        "the credential was not carried to the redirect's target"
    );
    assert_eq!(world.upstream.conversation(), ["POST initialize"]);
}

#[tokio::test]
async fn an_sse_answer_over_the_cap_is_an_error() {
    let world = world("huge", true).await;
    let (row, http) = (world.row(), catalog_http());
    let err = catalog::list_upstream_tools(&world.vault, &http, &row)
        .await
        .err();
    assert_eq!(
        err.as_deref(),
        Some("the upstream's response is too large"),
        "an SSE answer is cut off at MAX_RESPONSE ({} bytes)",
        catalog::MAX_RESPONSE
    );
    assert_eq!(
        world.upstream.conversation().last().map(String::as_str),
        Some("DELETE "),
        "the session is still closed"
    );
}

#[tokio::test]
async fn a_refused_credential_says_so() {
    let world = world("rejected", true).await;
    let (row, http) = (world.row(), catalog_http());
    let err = catalog::list_upstream_tools(&world.vault, &http, &row)
        .await
        .err();
    assert_eq!(err.as_deref(), Some(proxy::forward::UPSTREAM_REJECTED));
}
