//! `GET /health`: liveness plus a cheap store round trip, for scripts and the app's status line.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::Runtime;

pub async fn health(State(state): State<Runtime>) -> impl IntoResponse {
    let store_ok = state.vault.store().ping().await.is_ok();
    let body = serde_json::json!({
        "status": if store_ok { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "issuer": state.local.base_url(),
        "key_source": state.vault.key_source().kind,
        "store": if store_ok { "ok" } else { "unavailable" },
    });
    let status = if store_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [(http::header::CACHE_CONTROL, "no-store")],
        Json(body),
    )
}
