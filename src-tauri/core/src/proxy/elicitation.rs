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
//! (`gateway::caller_policy`), and the sign-in starts only from its own form. 2026-07-28 requests
//! declare capabilities per request and answer input requests differently (no -32042); they get
//! the plain error.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use super::jsonrpc;
use crate::oauth::upstream::signin_page;

/// `URLElicitationRequiredError` (MCP 2025-11-25).
pub const URL_ELICITATION_REQUIRED: i64 = -32042;

/// Who asked: the request's id and whether its client takes URL-mode elicitations.
#[derive(Debug, Default, Clone, Copy)]
pub struct Asker<'a> {
    pub id: Option<&'a Value>,
    pub url_elicitation: bool,
}

/// The answer to a request that waits for a sign-in to `slug` (module docs).
pub fn sign_in_first(asker: Asker<'_>, base_url: &str, slug: &str, message: &str) -> Response {
    let Some(id) = asker.id.filter(|_| asker.url_elicitation) else {
        return jsonrpc::answer_error(asker.id, jsonrpc::UPSTREAM_ERROR, message);
    };
    let elicitation = json!({
        "mode": "url",
        "elicitationId": uuid::Uuid::new_v4().to_string(),
        "url": format!("{base_url}{}", signin_page::path(slug)),
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
        };
        let answer = sign_in_first(notification, "http://127.0.0.1:9", "docs", "sign in");
        assert_eq!(
            answer.status(),
            StatusCode::BAD_GATEWAY,
            "nothing to answer"
        );
    }
}
