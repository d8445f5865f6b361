//! The authorization server of the OAuth upstream: RFC 8414 metadata, RFC 7591 dynamic
//! registration, an `/authorize` that approves at once (and can answer without `iss`, with the
//! wrong one, or with a denial, RFC 9207), a `/token` for the authorization code (with its PKCE
//! check, RFC 7636 §4.6), refresh (rotation) and client credentials grants, RFC 7009 revocation and
//! a userinfo endpoint.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{DENIAL_MARKUP, M2M_SECRET, OAuthUpstream, bearer, client_of};

/// The RFC 8414 metadata, with [`OAuthUpstream::metadata_patch`] applied.
pub async fn as_metadata(State(w): State<Arc<OAuthUpstream>>) -> Response {
    w.log("/.well-known/oauth-authorization-server");
    let issuer = w.issuer.lock().unwrap().clone();
    let mut m = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "registration_endpoint": format!("{issuer}/register"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "scopes_supported": ["mcp:tools", "offline_access"]
    });
    let map = m.as_object_mut().unwrap();
    for (k, v) in w.metadata_patch.lock().unwrap().iter() {
        if v.is_null() {
            map.remove(k);
        } else {
            map.insert(k.clone(), v.clone());
        }
    }
    axum::Json(m).into_response()
}

/// RFC 7591 registration.
pub async fn register(
    State(w): State<Arc<OAuthUpstream>>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    w.log("/register");
    w.registrations.lock().unwrap().push(body.clone());
    let all_loopback = body["redirect_uris"].as_array().is_some_and(|uris| {
        uris.iter().all(|u| {
            u.as_str()
                .is_some_and(|u| u.starts_with("http://127.0.0.1:"))
        })
    });
    if *w.loopback_redirects_only.lock().unwrap() && !all_loopback {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_redirect_uri"})),
        )
            .into_response();
    }
    let id = format!("dcr-client-{}", w.next());
    let mut answer = json!({"client_id": id, "client_id_issued_at": 0,
                            "redirect_uris": body["redirect_uris"], "token_endpoint_auth_method": "none"});
    let padding = *w.register_padding.lock().unwrap();
    if padding > 0 {
        answer["client_uri"] = json!(format!("https://example.com/{}", "x".repeat(padding)));
    }
    (StatusCode::CREATED, axum::Json(answer)).into_response()
}

/// `GET /authorize`: approves at once and redirects with a code.
pub async fn authorize(
    State(w): State<Arc<OAuthUpstream>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    w.log("/authorize");
    w.authorize_queries.lock().unwrap().push(q.clone());
    let code = format!("code-{}", w.next());
    w.codes.lock().unwrap().insert(
        code.clone(),
        (
            q["code_challenge"].clone(),
            q["redirect_uri"].clone(),
            q["client_id"].clone(),
            q.get("scope").cloned().unwrap_or_default(),
        ),
    );
    let issuer = w.issuer.lock().unwrap().clone();
    let mut location = url::Url::parse(&q["redirect_uri"]).unwrap();
    {
        let mut pairs = location.query_pairs_mut();
        pairs.append_pair("code", &code);
        pairs.append_pair("state", &q["state"]);
        match *w.iss_mode.lock().unwrap() {
            "missing" => {}
            "wrong" => {
                pairs.append_pair("iss", "https://evil.example");
                pairs.append_pair("error", "access_denied");
                pairs.append_pair("error_description", "<script>alert(1)</script>");
            }
            "denied" => {
                pairs.append_pair("iss", &issuer);
                pairs.append_pair("error", "access_denied");
                pairs.append_pair("error_description", DENIAL_MARKUP);
            }
            _ => {
                pairs.append_pair("iss", &issuer);
            }
        }
    }
    (StatusCode::FOUND, [("location", location.to_string())]).into_response()
}

/// `POST /token`.
pub async fn token(
    State(w): State<Arc<OAuthUpstream>>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    w.log("/token");
    w.token_forms.lock().unwrap().push(f.clone());
    let error =
        |e: &str| (StatusCode::BAD_REQUEST, axum::Json(json!({"error": e}))).into_response();
    let grant = f.get("grant_type").map(String::as_str);
    {
        let client = client_of(&headers, &f);
        if *w.refuse_all_clients.lock().unwrap()
            || w.refused_clients.lock().unwrap().contains(&client)
        {
            return (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"error": "invalid_client"})),
            )
                .into_response();
        }
    }
    match grant {
        Some("authorization_code") => {
            let Some((challenge, redirect, client, scope)) = w
                .codes
                .lock()
                .unwrap()
                .remove(f.get("code").map_or("", String::as_str))
            else {
                return error("invalid_grant");
            };
            let verifier = f.get("code_verifier").cloned().unwrap_or_default();
            if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != challenge
                || f.get("redirect_uri") != Some(&redirect)
                || client_of(&headers, &f) != client
            {
                return error("invalid_grant");
            }
            let (at, rt) = w.issue();
            if scope.split_whitespace().any(|s| s == "admin") {
                w.admin_tokens.lock().unwrap().insert(at.clone());
            }
            let mut body = w.token_body(&at, &rt);
            if !*w.anonymous.lock().unwrap() {
                let claims = w
                    .id_token_claims
                    .lock()
                    .unwrap()
                    .clone()
                    .unwrap_or_else(|| json!({"sub": "1", "email": "ada@example.com"}));
                let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
                body["id_token"] = json!(format!("e30.{claims}.sig"));
            }
            axum::Json(body).into_response()
        }
        Some("refresh_token") => {
            w.refresh_calls.fetch_add(1, Ordering::SeqCst);
            // Widen the race window: concurrent refreshes would all be in flight here.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let rt = f.get("refresh_token").cloned().unwrap_or_default();
            if !w.refresh.lock().unwrap().remove(&rt) {
                return error("invalid_grant");
            }
            *w.expires_in.lock().unwrap() = 3600;
            let (at, new_rt) = w.issue();
            axum::Json(w.token_body(&at, &new_rt)).into_response()
        }
        Some("client_credentials") => {
            let expected = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("m2m:{M2M_SECRET}"))
            );
            if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&expected) {
                return (
                    StatusCode::UNAUTHORIZED,
                    axum::Json(json!({"error": "invalid_client"})),
                )
                    .into_response();
            }
            w.refresh_calls.fetch_add(1, Ordering::SeqCst);
            let (at, _) = w.issue();
            axum::Json(json!({"access_token": at, "token_type": "Bearer", "expires_in": 3600}))
                .into_response()
        }
        _ => error("unsupported_grant_type"),
    }
}

/// RFC 7009 revocation.
pub async fn revoke(
    State(w): State<Arc<OAuthUpstream>>,
    Form(f): Form<HashMap<String, String>>,
) -> StatusCode {
    w.log("/revoke");
    let t = f.get("token").cloned().unwrap_or_default();
    if *w.revoke_fails.lock().unwrap() {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    w.access.lock().unwrap().remove(&t);
    w.refresh.lock().unwrap().remove(&t);
    w.revoked.lock().unwrap().push(t);
    StatusCode::OK
}

/// `GET /userinfo`.
pub async fn userinfo(State(w): State<Arc<OAuthUpstream>>, headers: HeaderMap) -> Response {
    w.log("/userinfo");
    if bearer(&headers).is_some_and(|t| w.access.lock().unwrap().contains(&t)) {
        if *w.anonymous.lock().unwrap() {
            return axum::Json(json!({"sub": "1"})).into_response();
        }
        axum::Json(json!({"sub": "1", "email": "ada@example.com"})).into_response()
    } else {
        StatusCode::UNAUTHORIZED.into_response()
    }
}
