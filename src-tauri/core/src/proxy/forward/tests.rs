use super::*;

#[test]
fn accept_ranges() {
    let mut h = HeaderMap::new();
    h.insert(
        header::ACCEPT,
        HeaderValue::from_static("application/json, text/event-stream;q=0.9"),
    );
    assert!(
        accepts(&h, "application/json") && accepts(&h, "text/event-stream"),
        "both listed"
    );
    h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    assert!(!accepts(&h, "text/event-stream"), "SSE not listed");
    h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
    assert!(accepts(&h, "text/event-stream"), "*/* admits everything");
}

#[test]
fn only_mcp_headers_go_upstream() {
    let mut h = HeaderMap::new();
    for (n, v) in [
        ("authorization", "Bearer x"),
        ("cookie", "a=b"),
        ("connection", "keep-alive"),
        ("mcp-session-id", "s"),
        ("content-type", "application/json"),
        ("mcp-param-region", "eu"),
        ("last-event-id", "9"),
        ("x-forwarded-for", "1.2.3.4"),
    ] {
        h.insert(HeaderName::from_static(n), HeaderValue::from_static(v));
    }
    let out = outbound_headers(&h, false);
    let mut names: Vec<&str> = out.keys().map(HeaderName::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["content-type", "last-event-id", "mcp-param-region"],
        "allow-list only"
    );
    assert!(
        !outbound_headers(&h, true).contains_key(LAST_EVENT_ID),
        "modern requests have no resumption"
    );
}
