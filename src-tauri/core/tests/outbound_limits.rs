//! The outbound client's bounds (`net::outbound`: what an outside URL may cost Gatehouse) against
//! real axum servers on 127.0.0.1:0: a response over the size cap is refused whether it announces
//! its length or streams it, one at the cap is read, a server slower than the timeout is given up
//! on, and a redirect is never followed.

use std::time::Duration;

use axum::Router;
use axum::body::Body as AxumBody;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use futures_util::stream;
use gatehouse_core::net::outbound::{Body, Outbound, OutboundError};
use http::{HeaderMap, Method};

const CAP: usize = 4096;

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn policy(base: &str, timeout: Duration) -> Outbound {
    Outbound {
        timeout,
        ..Outbound::for_upstream(base, CAP)
    }
}

async fn get_from(policy: &Outbound, url: &str) -> Result<Vec<u8>, OutboundError> {
    policy
        .send(Method::GET, url, HeaderMap::new(), Body::Empty)
        .await
        .map(|f| f.body)
}

async fn limits_server() -> String {
    let app = Router::new()
        .route("/exact", get(|| async { "x".repeat(CAP) }))
        .route("/announced", get(|| async { "x".repeat(CAP + 1) }))
        .route(
            "/streamed",
            get(|| async {
                // No Content-Length: 8 chunks of 1 KiB, twice the cap, read until the cap is hit.
                let chunks = (0..8).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 1024]));
                AxumBody::from_stream(stream::iter(chunks))
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "too late"
            }),
        )
        .route(
            "/trickle",
            get(|| async {
                // Headers at once, then a body that never finishes in time.
                let chunks = stream::unfold(0, |n| async move {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    (n < 100).then(|| (Ok::<_, std::io::Error>(vec![b'x']), n + 1))
                });
                AxumBody::from_stream(chunks)
            }),
        )
        .route(
            "/redirect",
            get(|| async {
                (StatusCode::FOUND, [(header::LOCATION, "http://10.0.0.1/")]).into_response()
            }),
        );
    serve(app).await
}

#[tokio::test]
async fn responses_over_the_size_cap_are_refused_however_they_arrive() {
    let base = limits_server().await;
    let p = policy(&base, Duration::from_secs(10));
    assert_eq!(
        get_from(&p, &format!("{base}/exact"))
            .await
            .map(|b| b.len()),
        Ok(CAP),
        "a body of exactly the cap is read in full"
    );
    assert_eq!(
        get_from(&p, &format!("{base}/announced")).await,
        Err(OutboundError::TooLarge(CAP)),
        "a Content-Length over the cap is refused"
    );
    assert_eq!(
        get_from(&p, &format!("{base}/streamed")).await,
        Err(OutboundError::TooLarge(CAP)),
        "a streamed body is cut off at the cap"
    );
}

#[tokio::test]
async fn a_server_slower_than_the_timeout_is_given_up_on() {
    let base = limits_server().await;
    let p = policy(&base, Duration::from_millis(300));
    for path in ["/slow", "/trickle"] {
        assert_eq!(
            get_from(&p, &format!("{base}{path}")).await,
            Err(OutboundError::Fetch("it timed out".into())),
            "{path}: the whole request is bounded, body included"
        );
    }
}

#[tokio::test]
async fn a_redirect_is_an_error_not_a_hop() {
    let base = limits_server().await;
    let p = policy(&base, Duration::from_secs(10));
    assert_eq!(
        get_from(&p, &format!("{base}/redirect")).await,
        Err(OutboundError::Redirect(302))
    );
}
