//! Test support: a listener on 127.0.0.1:0 for a stand-in peer served with axum.

use tokio::net::TcpListener;

/// A bound loopback listener and its base URL (`http://127.0.0.1:PORT`).
pub(crate) async fn loopback_listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let address = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("local_addr: {e}"));
    (listener, format!("http://{address}"))
}

/// Serves `app` on a fresh loopback listener in the background; returns its base URL.
pub(crate) async fn serve(app: axum::Router) -> String {
    let (listener, base) = loopback_listener().await;
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}
