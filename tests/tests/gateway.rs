//! `gatehoused serve` over a real socket: address line, /health, loopback-only binding, and the
//! DNS-rebinding (Host) and Origin guards (MCP 2025-11-25 basic/transports §Security Warning).

use gatehouse_e2e::Gatehoused;

#[tokio::test]
async fn serve_prints_its_address_and_answers_health() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let gateway = Gatehoused::serve(dir.path());
    let response = reqwest::get(format!("{}/health", gateway.base_url))
        .await
        .unwrap_or_else(|e| panic!("GET /health: {e}"));
    assert_eq!(
        response.status(),
        200,
        "/health must answer 200 on a fresh data dir"
    );
    let body: serde_json::Value = response
        .json()
        .await
        .unwrap_or_else(|e| panic!("health body: {e}"));
    assert_eq!(body["status"], "ok", "health body: {body}");
    assert_eq!(
        body["store"], "ok",
        "the store round trip must work: {body}"
    );
    assert_eq!(
        body["key_source"], "KeyFile",
        "tests keep the key in a file: {body}"
    );
    assert_eq!(
        body["issuer"], gateway.base_url,
        "the issuer is the gateway's own origin"
    );
    assert!(
        dir.path().join("gatehouse.sqlite3").is_file(),
        "the store file must be created in the data dir"
    );
}

#[tokio::test]
async fn foreign_host_is_refused_and_loopback_names_are_accepted() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let gateway = Gatehoused::serve(dir.path());
    let client = reqwest::Client::new();
    let url = format!("{}/health", gateway.base_url);
    for host in [
        "evil.example",
        "evil.example:80",
        &format!("attacker.example:{}", gateway.port),
    ] {
        let response = client
            .get(&url)
            .header("Host", host)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            response.status(),
            421,
            "Host {host} must be refused (DNS rebinding)"
        );
        let body = response.text().await.unwrap_or_default();
        assert!(
            !body.contains("\"ok\""),
            "a refused request must not reach the handler: {body}"
        );
    }
    let localhost = format!("localhost:{}", gateway.port);
    let response = client
        .get(&url)
        .header("Host", &localhost)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        response.status(),
        200,
        "Host {localhost} names the gateway itself"
    );
}

#[tokio::test]
async fn foreign_origin_gets_403_and_loopback_origin_passes() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let gateway = Gatehoused::serve(dir.path());
    let client = reqwest::Client::new();
    let url = format!("{}/health", gateway.base_url);
    for origin in [
        "https://evil.example",
        "null",
        "http://localhost.evil.example",
    ] {
        let response = client
            .get(&url)
            .header("Origin", origin)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status(), 403, "Origin {origin} must get 403");
    }
    let response = client
        .get(&url)
        .header("Origin", "http://localhost:6274")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        response.status(),
        200,
        "a loopback origin (MCP Inspector) may call the gateway"
    );
}

#[tokio::test]
async fn gateway_is_not_reachable_on_other_interfaces() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let gateway = Gatehoused::serve(dir.path());
    // 127.0.0.2 is loopback too, but a socket bound to 127.0.0.1 only does not answer there; the same
    // holds for every non-loopback interface.
    let other = std::net::TcpStream::connect(("127.0.0.2", gateway.port));
    assert!(
        other.is_err(),
        "the gateway must be bound to 127.0.0.1 only, not 0.0.0.0"
    );
}

#[tokio::test]
async fn secrets_in_query_strings_and_bodies_never_reach_the_logs_even_at_trace_level() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let stderr_path = dir.path().join("stderr.log");
    let stderr = std::fs::File::create(&stderr_path).unwrap_or_else(|e| panic!("{e}"));
    let mut command = gatehouse_e2e::gatehoused(dir.path());
    command
        .args(["serve", "--port", "0"])
        .env("RUST_LOG", "trace")
        .stderr(stderr);
    let gateway = gatehouse_e2e::Gatehoused::start(command);
    let base = gateway.base_url.clone();

    let code = "gh_ac_QUERYSECRETqueryS3cretQUERYSECRETqueryS3cret0";
    let refresh = "gh_rt_BODYSECRETbodyS3cretBODYSECRETbodyS3cretBODY0";
    let bearer = "gh_at_HEADERSECRETheaderS3cretHEADERSECRETheader00";
    let http = reqwest::Client::new();
    let _ = http
        .get(format!("{base}/health?code={code}&state=st"))
        .send()
        .await;
    let _ = http
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", "x"),
        ])
        .send()
        .await;
    let _ = http
        .post(format!("{base}/mcp/none"))
        .bearer_auth(bearer)
        .body("{}")
        .send()
        .await;

    drop(gateway); // kills it, so every log line is written
    let mut logs = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    for entry in std::fs::read_dir(dir.path().join("logs"))
        .into_iter()
        .flatten()
        .flatten()
    {
        logs.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
    }
    assert!(
        logs.contains("/health"),
        "trace logging must actually be on for this test to mean anything"
    );
    for secret in [code, refresh, bearer] {
        assert!(
            !logs.contains(secret),
            "a secret reached the logs: {secret}"
        );
    }
}
