use std::net::IpAddr;

use serde_json::json;

use super::*;

const CLAUDE: &str = "https://claude.ai/oauth/claude-code-client-metadata";

#[tokio::test]
async fn a_document_is_reused_only_as_long_as_its_cache_control_allows() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    let url = format!("http://127.0.0.1:{port}/client.json");
    let fetches = Arc::new(AtomicUsize::new(0));
    let cache_control = Arc::new(Mutex::new("max-age=60".to_owned()));
    let document = json!({
        "client_id": url,
        "client_name": "Cache Test",
        "redirect_uris": ["http://127.0.0.1/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none"
    });
    let (count, control) = (Arc::clone(&fetches), Arc::clone(&cache_control));
    let app = axum::Router::new().route(
        "/client.json",
        axum::routing::get(move || {
            count.fetch_add(1, Ordering::SeqCst);
            let control = control.lock().map(|c| c.clone()).unwrap_or_default();
            let body = document.to_string();
            async move {
                (
                    [
                        (http::header::CONTENT_TYPE, "application/json".to_owned()),
                        (http::header::CACHE_CONTROL, control),
                    ],
                    body,
                )
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let resolver = CimdResolver::insecure_loopback_for_tests();
    let resolve = |now| {
        let resolver = &resolver;
        let url = url.clone();
        async move {
            resolver
                .resolve(&url, now)
                .await
                .unwrap_or_else(|e| panic!("resolve: {e}"))
                .fetched
        }
    };
    assert!(resolve(0).await, "first use fetches");
    assert!(
        !resolve(59_000).await,
        "within max-age=60 the copy is reused"
    );
    assert!(resolve(60_000).await, "after max-age it is fetched again");
    assert_eq!(fetches.load(Ordering::SeqCst), 2);

    if let Ok(mut c) = cache_control.lock() {
        *c = "no-store".to_owned();
    }
    assert!(resolve(200_000).await, "the max-age=60 copy has expired");
    assert!(resolve(200_001).await, "no-store: never reused");
    assert_eq!(fetches.load(Ordering::SeqCst), 4);
}

/// A web page can make `/authorize` resolve any number of metadata URLs: the memory they take
/// is bounded, the documents that expire first going first.
#[tokio::test]
async fn at_most_max_cached_documents_are_kept() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    let app = axum::Router::new().route(
        "/c/{n}",
        axum::routing::get(
            move |axum::extract::Path(n): axum::extract::Path<u32>| async move {
                axum::Json(json!({
                    "client_id": format!("http://127.0.0.1:{port}/c/{n}"),
                    "client_name": "Flood",
                    "redirect_uris": ["http://127.0.0.1/callback"],
                    "token_endpoint_auth_method": "none"
                }))
            },
        ),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let resolver = CimdResolver::insecure_loopback_for_tests();
    let total = u32::try_from(MAX_CACHED_DOCUMENTS).unwrap_or(u32::MAX) + 10;
    for n in 0..total {
        let url = format!("http://127.0.0.1:{port}/c/{n}");
        resolver
            .resolve(&url, i64::from(n))
            .await
            .unwrap_or_else(|e| panic!("resolve {url}: {e}"));
    }
    let kept = resolver.cache.lock().map(|c| c.len()).unwrap_or_default();
    assert_eq!(kept, MAX_CACHED_DOCUMENTS, "the cache is bounded");
    let newest = format!("http://127.0.0.1:{port}/c/{}", total - 1);
    assert!(
        resolver.cached(&newest, i64::from(total)).is_some(),
        "the newest document is kept"
    );
    let oldest = format!("http://127.0.0.1:{port}/c/0");
    assert!(
        resolver.cached(&oldest, i64::from(total)).is_none(),
        "the first to expire went"
    );
}

#[test]
fn cache_lifetime_follows_cache_control_within_bounds() {
    let with = |value: &str| {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_str(value).unwrap_or_else(|e| panic!("{e}")),
        );
        cache_lifetime(&h)
    };
    assert_eq!(cache_lifetime(&http::HeaderMap::new()), CACHE_TTL);
    assert_eq!(with("public, max-age=60"), 60_000);
    assert_eq!(with("max-age=0"), 0);
    assert_eq!(with("no-store"), 0);
    assert_eq!(with("max-age=3600, no-cache"), 0);
    assert_eq!(with("max-age=99999999"), MAX_CACHE_TTL);
    assert_eq!(with("max-age=-5"), 0, "a malformed max-age is not trusted");
    assert_eq!(with("max-age=abc"), 0);
    assert_eq!(with("private"), CACHE_TTL);
}

#[test]
fn client_id_urls_are_validated_before_any_fetch() {
    assert!(
        validate_client_id_url(CLAUDE).is_ok(),
        "Claude Code's client_id is a valid CIMD URL"
    );
    assert!(
        validate_client_id_url("https://vscode.dev/oauth/client-metadata.json?v=1").is_ok(),
        "a query is discouraged but allowed"
    );
    assert!(
        validate_client_id_url("https://example.com:8443/client").is_ok(),
        "a port is allowed"
    );
    let cases = [
        ("http://example.com/client", CimdError::NotHttps),
        ("https://example.com", CimdError::NoPath),
        ("https://example.com/", CimdError::NoPath),
        ("https://example.com/a/../client", CimdError::DotSegment),
        ("https://example.com/a/./client", CimdError::DotSegment),
        ("https://example.com/a/%2E%2E/client", CimdError::DotSegment),
        ("https://example.com/client#frag", CimdError::Fragment),
        ("https://user@example.com/client", CimdError::Userinfo),
        ("https://user:pw@example.com/client", CimdError::Userinfo),
        ("https://EXAMPLE.com/client", CimdError::NotCanonical),
        ("https://example.com:443/client", CimdError::NotCanonical),
        ("ftp://example.com/client", CimdError::NotHttps),
    ];
    for (url, expected) in cases {
        assert_eq!(
            validate_client_id_url(url).err(),
            Some(expected.clone()),
            "CIMD §3: {url} must be refused with {expected:?}"
        );
    }
}

#[test]
fn non_public_addresses_are_never_fetched() {
    for ip in [
        "10.0.0.5",
        "169.254.169.254",
        "127.0.0.1",
        "192.168.1.1",
        "172.16.0.1",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fd00:ec2::254",
        "::ffff:10.0.0.5",
        "::ffff:169.254.169.254",
        "64:ff9b::a00:5",
        "::",
    ] {
        let ip: IpAddr = ip.parse().unwrap_or_else(|e| panic!("{ip}: {e}"));
        assert!(
            !is_public_address(ip),
            "CIMD §6.5 (SSRF): {ip} must not be fetched"
        );
    }
    for ip in ["93.184.216.34", "2606:4700::6810:84e5", "1.1.1.1"] {
        let ip: IpAddr = ip.parse().unwrap_or_else(|e| panic!("{ip}: {e}"));
        assert!(is_public_address(ip), "{ip} is a public address");
    }
}

fn claude_document() -> Value {
    json!({
        "client_id": CLAUDE,
        "client_name": "Claude Code",
        "redirect_uris": ["http://localhost/callback", "http://127.0.0.1/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none"
    })
}

#[test]
fn documents_are_validated() {
    let client = validate_document(CLAUDE, &claude_document())
        .unwrap_or_else(|e| panic!("Claude Code's document is valid: {e}"));
    assert_eq!(
        client.redirect_uris.len(),
        2,
        "both loopback callbacks kept"
    );

    let mut other = claude_document();
    other["client_id"] = json!("https://claude.ai/oauth/other");
    assert_eq!(
        validate_document(CLAUDE, &other).err(),
        Some(CimdError::ClientIdMismatch),
        "CIMD §4.1: client_id must equal the URL"
    );
    let mut secret = claude_document();
    secret["client_secret"] = json!("s");
    assert_eq!(
        validate_document(CLAUDE, &secret).err(),
        Some(CimdError::HasSecret),
        "CIMD §4.1: no client_secret"
    );
    let mut expires = claude_document();
    expires["client_secret_expires_at"] = json!(0);
    assert_eq!(
        validate_document(CLAUDE, &expires).err(),
        Some(CimdError::HasSecret),
        "CIMD §4.1: no client_secret_expires_at"
    );
    let mut post = claude_document();
    post["token_endpoint_auth_method"] = json!("client_secret_post");
    assert_eq!(
        validate_document(CLAUDE, &post).err(),
        Some(CimdError::SecretAuthMethod),
        "CIMD §4.1: no shared-secret method"
    );
    let mut no_name = claude_document();
    no_name.as_object_mut().map(|m| m.remove("client_name"));
    assert_eq!(
        validate_document(CLAUDE, &no_name).err(),
        Some(CimdError::Missing("client_name")),
        "MCP client registration: client_name required"
    );
    assert_eq!(
        validate_document(CLAUDE, &json!([1])).err(),
        Some(CimdError::NotJson),
        "an array is not a document"
    );
}

#[test]
fn documents_get_the_registration_checks_on_names_and_web_uris() {
    for field in ["client_uri", "logo_uri", "tos_uri", "policy_uri"] {
        let mut doc = claude_document();
        doc[field] = json!("javascript:alert(1)");
        assert!(
            matches!(
                validate_document(CLAUDE, &doc),
                Err(CimdError::Invalid(ref why)) if why.contains(field)
            ),
            "RFC 7591 §2/§3.2.2 as for DCR: {field} must be http(s)"
        );
    }
    let mut hidden = claude_document();
    hidden["client_name"] = json!("Claude\u{200B} Code\u{202E}");
    assert_eq!(
        validate_document(CLAUDE, &hidden)
            .ok()
            .and_then(|c| c.client_name),
        Some("Claude Code".to_owned()),
        "format characters are removed from a document's name too"
    );
    let mut invisible = claude_document();
    invisible["client_name"] = json!("\u{200B}\u{FEFF}");
    assert_eq!(
        validate_document(CLAUDE, &invisible).err(),
        Some(CimdError::Missing("client_name")),
        "a name that cleans to nothing is missing"
    );
}

#[test]
fn registration_row_is_cimd_sourced() {
    let client =
        validate_document(CLAUDE, &claude_document()).unwrap_or_else(|e| panic!("valid: {e}"));
    let id = ClientId::new(CLAUDE).unwrap_or_else(|| panic!("non-empty"));
    let reg = registration(&id, &client);
    assert_eq!(reg.registration_source, RegistrationSource::Cimd, "source");
    assert_eq!(
        reg.redirect_uris,
        vec!["http://localhost/callback", "http://127.0.0.1/callback"],
        "normalized callbacks in order"
    );
    assert_eq!(reg.token_endpoint_auth_method, "none", "public client");
}
