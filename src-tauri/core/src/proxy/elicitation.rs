//! "Sign in first", said so that the client can take the person there: when a request cannot go
//! upstream because Gatehouse is not signed in to the connection (never signed in, or its sign-in
//! expired), a client that declared URL-mode elicitation in its `initialize`
//! (`capabilities.elicitation.url`, MCP 2025-11-25 Client Features › Elicitation, URL mode) gets
//! the error `URLElicitationRequiredError` (-32042) whose `data.elicitations` holds one URL-mode
//! elicitation: Gatehouse's own sign-in page for that connection
//! ([`crate::oauth::upstream::signin_page`]). The client shows the message, offers to open the
//! page, and retries once the person signed in. Any other client, and every other upstream
//! trouble, gets the plain JSON-RPC error as before: never a dead end, never an elicitation to a
//! client that did not ask for them (the spec forbids that).
//!
//! The page is on the gateway's loopback address, reachable only by this desktop's account
//! (`gateway::caller_policy`), and the sign-in starts only from its own form.
//!
//! **2026-07-28** has no -32042 (schema: "URL elicitation required, 2025-11-25 only"); a server asks
//! for input with a multi-round-trip `InputRequiredResult` instead. A modern request whose
//! per-request `clientCapabilities` declare `elicitation.url`, for a method whose result may be one
//! (`tools/call`, `resources/read`, `prompts/get`), gets `resultType: "input_required"` with one
//! `elicitation/create` input request in URL mode, keyed [`INPUT_KEY`]. The client retries the
//! request with `inputResponses[INPUT_KEY]`: Gatehouse takes that answer out before the request goes
//! upstream ([`take_answer`]; the upstream never asked), and a declined or cancelled sign-in gets
//! the plain error rather than the same question again.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use super::jsonrpc;
use crate::oauth::upstream::signin_page;

/// `URLElicitationRequiredError` (MCP 2025-11-25).
pub const URL_ELICITATION_REQUIRED: i64 = -32042;

/// The `inputRequests` key of Gatehouse's own sign-in question (2026-07-28).
pub const INPUT_KEY: &str = "gatehouse_sign_in";

/// Who asked: the request's id and whether its client takes URL-mode elicitations.
#[derive(Debug, Default, Clone, Copy)]
pub struct Asker<'a> {
    pub id: Option<&'a Value>,
    pub url_elicitation: bool,
    /// A 2026-07-28 request for this method (`None`: an earlier era).
    pub modern_method: Option<&'a str>,
    /// The client already answered Gatehouse's sign-in question with decline or cancel.
    pub declined: bool,
}

/// Methods whose 2026-07-28 result may be an `InputRequiredResult` (schema: `CallToolResultResponse`,
/// `ReadResourceResultResponse`, `GetPromptResultResponse`).
fn may_require_input(method: &str) -> bool {
    matches!(method, "tools/call" | "resources/read" | "prompts/get")
}

/// Takes the client's answer to Gatehouse's sign-in question out of a 2026-07-28 request's
/// `params.inputResponses` (an emptied map goes too). `Some(declined)` when there was one.
pub fn take_answer(body: &mut Value) -> Option<bool> {
    let params = body.get_mut("params")?.as_object_mut()?;
    let responses = params.get_mut("inputResponses")?.as_object_mut()?;
    let answer = responses.remove(INPUT_KEY)?;
    if responses.is_empty() {
        params.remove("inputResponses");
    }
    Some(answer.get("action").and_then(Value::as_str) != Some("accept"))
}

/// The answer to a request that waits for a sign-in to `slug` (module docs).
pub fn sign_in_first(asker: Asker<'_>, base_url: &str, slug: &str, message: &str) -> Response {
    let Some(id) = asker
        .id
        .filter(|_| asker.url_elicitation && !asker.declined)
    else {
        return jsonrpc::answer_error(asker.id, jsonrpc::UPSTREAM_ERROR, message);
    };
    let url = format!("{base_url}{}", signin_page::path(slug));
    if let Some(method) = asker.modern_method {
        if !may_require_input(method) {
            return jsonrpc::answer_error(asker.id, jsonrpc::UPSTREAM_ERROR, message);
        }
        let result = json!({
            "resultType": "input_required",
            "inputRequests": { INPUT_KEY: {
                "method": "elicitation/create",
                "params": { "mode": "url", "message": message, "url": url },
            }},
        });
        return jsonrpc::answer_result(id, &result);
    }
    let elicitation = json!({
        "mode": "url",
        "elicitationId": uuid::Uuid::new_v4().to_string(),
        "url": url,
        "message": message,
    });
    let body = json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {
            "code": URL_ELICITATION_REQUIRED,
            "message": message,
            "data": { "elicitations": [elicitation] },
        },
    });
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        serde_json::to_vec(&body).unwrap_or_default(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(response: Response) -> Value {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap_or_default();
        serde_json::from_slice(&bytes).unwrap_or_default()
    }

    #[tokio::test]
    async fn a_client_that_declared_url_elicitation_gets_the_sign_in_page() {
        let id = json!(7);
        let asked = Asker {
            id: Some(&id),
            url_elicitation: true,
            ..Asker::default()
        };
        let answer = body(sign_in_first(
            asked,
            "http://127.0.0.1:9",
            "docs",
            "sign in",
        ))
        .await;
        assert_eq!(answer["id"], 7);
        assert_eq!(answer["error"]["code"], URL_ELICITATION_REQUIRED);
        let e = &answer["error"]["data"]["elicitations"][0];
        assert_eq!(e["mode"], "url");
        assert_eq!(e["url"], "http://127.0.0.1:9/oauth/connections/docs/signin");
        assert!(e["elicitationId"].as_str().is_some_and(|i| i.len() == 36));
    }

    #[tokio::test]
    async fn others_get_the_plain_error() {
        let id = json!(7);
        let plain = Asker {
            id: Some(&id),
            url_elicitation: false,
            ..Asker::default()
        };
        let answer = body(sign_in_first(
            plain,
            "http://127.0.0.1:9",
            "docs",
            "sign in",
        ))
        .await;
        assert_eq!(answer["error"]["code"], jsonrpc::UPSTREAM_ERROR);
        assert!(answer["error"].get("data").is_none());
        let notification = Asker {
            id: None,
            url_elicitation: true,
            ..Asker::default()
        };
        let answer = sign_in_first(notification, "http://127.0.0.1:9", "docs", "sign in");
        assert_eq!(
            answer.status(),
            StatusCode::BAD_GATEWAY,
            "nothing to answer"
        );
    }

    #[tokio::test]
    async fn a_2026_07_28_client_gets_an_input_required_result_and_its_answer_is_taken_out() {
        // 2026-07-28 schema: InputRequiredResult, ElicitRequestURLParams; no -32042 there.
        let id = json!("c1");
        let modern = Asker {
            id: Some(&id),
            url_elicitation: true,
            modern_method: Some("tools/call"),
            declined: false,
        };
        let answer = body(sign_in_first(
            modern,
            "http://127.0.0.1:9",
            "docs",
            "sign in",
        ))
        .await;
        assert_eq!(answer["result"]["resultType"], "input_required", "{answer}");
        let asked = &answer["result"]["inputRequests"][INPUT_KEY];
        assert_eq!(asked["method"], "elicitation/create");
        assert_eq!(asked["params"]["mode"], "url");
        assert_eq!(
            asked["params"]["url"],
            "http://127.0.0.1:9/oauth/connections/docs/signin"
        );
        for (method, declined) in [("tools/list", false), ("tools/call", true)] {
            let asker = Asker {
                modern_method: Some(method),
                declined,
                ..modern
            };
            let answer = body(sign_in_first(
                asker,
                "http://127.0.0.1:9",
                "docs",
                "sign in",
            ))
            .await;
            assert_eq!(
                answer["error"]["code"],
                jsonrpc::UPSTREAM_ERROR,
                "{method} (declined: {declined}) gets the plain error"
            );
        }
        let mut retried = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "echo",
            "inputResponses": {INPUT_KEY: {"action": "accept"}, "theirs": {"action": "accept"}}}});
        assert_eq!(take_answer(&mut retried), Some(false));
        assert_eq!(
            retried["params"]["inputResponses"],
            json!({"theirs": {"action": "accept"}}),
            "only Gatehouse's own answer is taken out"
        );
        let mut cancelled = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
            "name": "echo", "inputResponses": {INPUT_KEY: {"action": "cancel"}}}});
        assert_eq!(take_answer(&mut cancelled), Some(true));
        assert!(cancelled["params"].get("inputResponses").is_none());
    }
}
