use super::*;

fn page() -> ConsentPage {
    ConsentPage {
        client_name: Some("<script>alert(1)</script>".into()),
        client_id: "c\"1".into(),
        client_id_host: None,
        caller: Some(CallerProcess {
            pid: 4242,
            exe: Some("/usr/bin/<claude>".into()),
        }),
        connection_name: "Docs & <b>".into(),
        account_label: None,
        callback: "http://localhost:53122/callback?x=<y>".into(),
        callback_host: "localhost".into(),
        warnings: vec!["every <callback>".into()],
        scopes: vec![SCOPE_MCP_ACCESS.into()],
        tools: Ok(vec![ToolSummary {
            name: "x\"><script>".into(),
            title: Some("<i>T</i>".into()),
            description: Some("<img src=x onerror=alert(1)>".into()),
        }]),
        request_id: "r".into(),
        csrf_token: "t".into(),
    }
}

#[test]
fn every_interpolated_value_is_escaped() {
    let html = page().render();
    assert!(
        html.contains("<code>/usr/bin/&#60;claude&#62;</code> (pid 4242)"),
        "the program the OS saw is shown, escaped, beside the reported name"
    );
    for raw in [
        "<claude>",
        "<script>",
        "<b>",
        "<y>",
        "<callback>",
        "<i>",
        "<img",
        "x\">",
    ] {
        assert!(
            !html.contains(raw),
            "self-reported text must never become markup: found {raw} in the page"
        );
    }
    assert!(
        html.contains("&quot;&#60;script&#62;alert(1)&#60;/script&#62;&quot;"),
        "the client name is shown, escaped, in quotes"
    );
    assert!(!html.contains("<script"), "the page has no script at all");
    assert!(
        html.contains("value=\"x&#34;&#62;&#60;script&#62;\""),
        "a tool name cannot break out of its attribute"
    );
}

#[test]
fn unnamed_client_and_failed_tool_list() {
    let mut p = page();
    p.client_name = None;
    p.tools = Err("upstream unreachable".into());
    let html = p.render();
    assert!(
        html.contains("Unverified MCP client"),
        "no name → the unverified label"
    );
    assert!(
        html.contains(
            "The tool list could not be loaded: upstream unreachable; approving allows all tools"
        ),
        "the failure is explained"
    );
    assert!(
        !html.contains("type=\"checkbox\""),
        "no checkboxes without a tool list"
    );
    assert!(html.contains("on behalf of you"), "no account label → you");
}

#[test]
fn buttons_have_exact_accessible_names() {
    let html = page().render();
    assert!(
        html.contains(
            "<button type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>"
        ),
        "Approve button"
    );
    assert!(
        html.contains("<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>"),
        "Deny button"
    );
}

#[test]
fn form_action_sources() {
    assert_eq!(
        form_action_source("http://localhost:53122/callback").as_deref(),
        Some("http://localhost:53122"),
        "loopback origin with its port"
    );
    assert_eq!(
        form_action_source("cursor://anysphere.cursor-mcp/oauth/callback").as_deref(),
        Some("cursor:"),
        "private-use scheme"
    );
    assert_eq!(
        form_action_source("https://vscode.dev/redirect").as_deref(),
        Some("https://vscode.dev"),
        "https origin"
    );
    assert_eq!(
        form_action_source("http://[::1]:5000/cb").as_deref(),
        Some("http:"),
        "CSP cannot name IPv6 literals"
    );
}

#[test]
fn headers_refuse_framing_and_caching() {
    let response = page().response();
    let get = |name: &HeaderName| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        get(&CONTENT_SECURITY_POLICY).contains("frame-ancestors 'none'"),
        "framing refused (OAuth 2.1 §7.10)"
    );
    assert_eq!(
        get(&X_FRAME_OPTIONS),
        "DENY",
        "framing refused (OAuth 2.1 §7.10)"
    );
    assert_eq!(
        get(&CACHE_CONTROL),
        "no-store",
        "the CSRF token is not cached"
    );
    assert!(
        get(&CONTENT_SECURITY_POLICY).contains("form-action 'self' http://localhost:53122;"),
        "the 303 to the callback is allowed"
    );
}
