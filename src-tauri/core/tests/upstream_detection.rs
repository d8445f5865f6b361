//! Auto-detection of how an upstream signs in (a 401 with `resource_metadata`, or metadata at the
//! well-known fallbacks, means OAuth: RFC 9728 §5.1, §3.1), through `admin::detect_auth`, the use
//! case behind the window's "Detect sign-in" and `gatehoused connections add` without `--auth`.
//! Every upstream is a real axum server on 127.0.0.1:0: OAuth servers (RFC 9728 metadata named by
//! the challenge, at the path-inserted well-known, at the root one), API-key servers that answer
//! 401 with no metadata anywhere, a 2025-03-26 server with and without the legacy opt-in, an open
//! server and a 404.

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use gatehouse_core::admin::{self, AuthDetection, SuggestedAuth};
use gatehouse_testkit::signin::*;
use serde_json::json;

async fn detect(url: &str, legacy: bool) -> AuthDetection {
    admin::detect_auth(url, legacy)
        .await
        .unwrap_or_else(|e| panic!("detecting {url} must not fail: {e}"))
}

/// An API-key server: 401 to the unauthenticated probe with `challenge` as WWW-Authenticate (or
/// none), and, when `catch_all_json`, a 200 JSON object without `authorization_servers` for every
/// GET (so the well-knowns answer, but with no protected resource metadata).
async fn api_key_server(challenge: Option<&'static str>, catch_all_json: bool) -> String {
    let mcp = move || async move {
        match challenge {
            Some(c) => (StatusCode::UNAUTHORIZED, [("www-authenticate", c)]).into_response(),
            None => StatusCode::UNAUTHORIZED.into_response(),
        }
    };
    let mut app = Router::new().route("/mcp", post(mcp));
    if catch_all_json {
        app = app.fallback(get(|| async { axum::Json(json!({"status": "ok"})) }));
    }
    format!("{}/mcp", serve(app).await)
}

#[tokio::test]
async fn oauth_is_detected_only_with_protected_resource_metadata_in_sight() {
    // Named by the challenge (RFC 9728 §5.1).
    let world = start_oauth_upstream().await;
    let url = format!("{}/mcp", world.mcp_base.lock().unwrap());
    let found = detect(&url, false).await;
    assert_eq!(found.suggested, SuggestedAuth::OAuth, "{found:?}");
    assert!(
        found.finding.contains("asks for OAuth sign-in"),
        "{found:?}"
    );
    assert_eq!(
        world.log.lock().unwrap().clone(),
        ["POST /mcp"],
        "the challenge is enough: nothing else is fetched"
    );

    // A bare challenge, metadata at the path-inserted well-known.
    *world.bare_challenge.lock().unwrap() = true;
    let found = detect(&url, false).await;
    assert_eq!(found.suggested, SuggestedAuth::OAuth, "{found:?}");
    assert!(
        found
            .finding
            .contains("/.well-known/oauth-protected-resource/mcp"),
        "the finding says where the metadata is: {found:?}"
    );

    // No challenge at all, metadata at the root well-known only.
    let issuer = world.issuer.lock().unwrap().clone();
    let root =
        Router::new()
            .route(
                "/mcp",
                post(|| async { StatusCode::UNAUTHORIZED.into_response() }),
            )
            .route(
                "/.well-known/oauth-protected-resource",
                get(move || {
                    let issuer = issuer.clone();
                    async move {
                        axum::Json(json!({"resource": "x", "authorization_servers": [issuer]}))
                    }
                }),
            );
    let url = format!("{}/mcp", serve(root).await);
    let found = detect(&url, false).await;
    assert_eq!(found.suggested, SuggestedAuth::OAuth, "{found:?}");
    assert!(
        found
            .finding
            .ends_with("/.well-known/oauth-protected-resource."),
        "{found:?}"
    );
}

#[tokio::test]
async fn a_401_without_metadata_anywhere_suggests_a_header() {
    for (challenge, catch_all_json) in [
        (Some("Bearer realm=\"<b>api</b>\""), false),
        (Some("Bearer realm=\"x\""), true),
        (None, false),
        (Some("ApiKey, Basic realm=\"x\""), false),
    ] {
        let url = api_key_server(challenge, catch_all_json).await;
        let found = detect(&url, false).await;
        assert_eq!(
            found.suggested,
            SuggestedAuth::Header,
            "{challenge:?} (catch-all JSON: {catch_all_json}) is not OAuth: {found:?}"
        );
        assert!(
            found.finding.contains("HTTP 401") && found.finding.contains("no OAuth metadata"),
            "the finding says what was found: {found:?}"
        );
        assert!(
            !found.finding.contains("<b>") && !found.finding.contains("realm"),
            "nothing but the scheme names of the challenge is repeated: {found:?}"
        );
        if let Some(c) = challenge {
            let scheme = c.split([' ', ',']).next().unwrap_or_default();
            assert!(
                found.finding.contains(scheme),
                "the scheme it asked for is named: {found:?}"
            );
        }
    }
}

#[tokio::test]
async fn the_legacy_opt_in_makes_a_metadata_less_401_oauth() {
    let world = start_legacy_oauth_upstream(false).await;
    let url = format!("{}/mcp", world.mcp_base.lock().unwrap());
    let without = detect(&url, false).await;
    assert_eq!(
        without.suggested,
        SuggestedAuth::Header,
        "a 2025-03-26 server looks like any other metadata-less 401 without the opt-in: {without:?}"
    );
    let with = detect(&url, true).await;
    assert_eq!(with.suggested, SuggestedAuth::OAuth, "{with:?}");
    assert!(with.finding.contains("2025-03-26"), "{with:?}");
}

#[tokio::test]
async fn open_servers_and_other_answers_are_not_oauth() {
    let open = Router::new().route(
        "/mcp",
        post(|| async { axum::Json(json!({"jsonrpc": "2.0", "id": 0, "result": {}})) }),
    );
    let url = format!("{}/mcp", serve(open).await);
    let found = detect(&url, false).await;
    assert_eq!(found.suggested, SuggestedAuth::None, "{found:?}");
    assert!(found.finding.contains("without credentials"), "{found:?}");

    let missing = Router::new().fallback(|| async { StatusCode::NOT_FOUND });
    let url = format!("{}/mcp", serve(missing).await);
    let found = detect(&url, false).await;
    assert_eq!(found.suggested, SuggestedAuth::None, "{found:?}");
    assert!(found.finding.contains("HTTP 404"), "{found:?}");
}

/// `connections add` without `--auth` acts on the detection: an API-key server is not added as an
/// OAuth connection that could never sign in; the error asks for the header instead.
#[tokio::test]
async fn the_cli_asks_for_a_header_instead_of_adding_an_api_key_server_as_oauth() {
    let url = api_key_server(Some("Bearer realm=\"x\""), false).await;
    let dir = tempfile::tempdir().unwrap();
    let cli = |args: &[&str]| {
        let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatehoused"));
        c.arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .env("GATEHOUSE_KEY_BACKEND", "file");
        c
    };
    let out = cli(&[
        "connections",
        "add",
        "--slug",
        "keyed",
        "--name",
        "Keyed",
        "--url",
        &url,
    ])
    .output()
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "refused: {stderr}");
    assert!(
        stderr.contains("no OAuth metadata") && stderr.contains("--header"),
        "the error says what was found and what to do: {stderr}"
    );
    let out = cli(&["connections", "list", "--json"])
        .output()
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "[]",
        "nothing was added"
    );
}

/// A server that answers `initialize` without credentials and asks for a token only from
/// `tools/list` on is detected as OAuth: the probe does not stop at one `initialize`.
#[tokio::test]
async fn a_server_that_asks_for_a_token_only_after_initialize_is_oauth() {
    let mcp = |body: axum::body::Bytes| async move {
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        match value["method"].as_str() {
            Some("initialize") => (
                [("mcp-session-id", "s-1")],
                axum::Json(json!({"jsonrpc": "2.0", "id": value["id"], "result": {
                    "protocolVersion": "2025-06-18", "capabilities": {},
                    "serverInfo": {"name": "late", "version": "1"}}})),
            )
                .into_response(),
            Some("notifications/initialized") => StatusCode::ACCEPTED.into_response(),
            _ => (
                StatusCode::UNAUTHORIZED,
                [(
                    "www-authenticate",
                    "Bearer resource_metadata=\"https://late.example/.well-known/oauth-protected-resource/mcp\"",
                )],
            )
                .into_response(),
        }
    };
    let url = format!(
        "{}/mcp",
        serve(Router::new().route("/mcp", post(mcp))).await
    );
    let found = detect(&url, false).await;
    assert_eq!(found.suggested, SuggestedAuth::OAuth, "{found:?}");
}

/// A 2026-07-28-only server refuses the legacy `initialize` with 400 -32022 (MCP 2026-07-28
/// basic/versioning §Backward Compatibility); the probe then asks as a modern client
/// (`server/discover`, `tools/list` with the `_meta` envelope and `Mcp-Method`), and a 401 there
/// is what tells how the server signs in. Open there, it is open.
#[tokio::test]
async fn a_2026_07_28_only_server_is_probed_as_a_modern_client() {
    let modern = |protected: bool| {
        move |headers: axum::http::HeaderMap, body: axum::body::Bytes| async move {
            let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let envelope = value
                .pointer("/params/_meta/io.modelcontextprotocol~1protocolVersion")
                .and_then(|v| v.as_str());
            let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
            if envelope != Some("2026-07-28")
                || header("mcp-protocol-version") != Some("2026-07-28")
                || header("mcp-method") != value["method"].as_str()
            {
                return (
                    StatusCode::BAD_REQUEST,
                    axum::Json(json!({"jsonrpc": "2.0", "id": value["id"], "error": {
                        "code": -32022, "message": "Unsupported protocol version",
                        "data": {"supported": ["2026-07-28"], "requested": "2025-06-18"}}})),
                )
                    .into_response();
            }
            match value["method"].as_str() {
                Some("tools/list") if protected => (
                    StatusCode::UNAUTHORIZED,
                    [(
                        "www-authenticate",
                        "Bearer resource_metadata=\"https://modern.example/.well-known/oauth-protected-resource/mcp\"",
                    )],
                )
                    .into_response(),
                _ => axum::Json(json!({"jsonrpc": "2.0", "id": value["id"], "result": {
                    "resultType": "complete", "supportedVersions": ["2026-07-28"],
                    "capabilities": {}, "tools": [], "ttlMs": 0, "cacheScope": "public"}}))
                .into_response(),
            }
        }
    };
    let url = format!(
        "{}/mcp",
        serve(Router::new().route("/mcp", post(modern(true)))).await
    );
    let found = detect(&url, false).await;
    assert_eq!(
        found.suggested,
        SuggestedAuth::OAuth,
        "the modern tools/list's challenge decides: {found:?}"
    );
    let url = format!(
        "{}/mcp",
        serve(Router::new().route("/mcp", post(modern(false)))).await
    );
    let found = detect(&url, false).await;
    assert_eq!(found.suggested, SuggestedAuth::None, "{found:?}");
    assert!(
        found.finding.contains("without credentials"),
        "answered as a modern client, it is open, not 'HTTP 400': {found:?}"
    );
}
