use super::*;

const SUPPORTED: &[&str] = &["mcp", "offline_access"];

fn valid(body: &Value) -> ValidatedClient {
    match validate_registration(body, SUPPORTED) {
        Ok(client) => client,
        Err(e) => panic!("a real client's registration must be accepted: {e}\n{body}"),
    }
}

fn refused(body: &Value) -> OAuthError {
    match validate_registration(body, SUPPORTED) {
        Ok(client) => panic!("registration must be refused: {body}\n got {client:?}"),
        Err(e) => e,
    }
}

fn uris(client: &ValidatedClient) -> Vec<&str> {
    client
        .redirect_uris
        .iter()
        .map(RedirectUri::as_str)
        .collect()
}

fn any_matches(client: &ValidatedClient, requested: &str) -> bool {
    client.redirect_uris.iter().any(|r| r.matches(requested))
}

fn claude_code() -> Value {
    json!({
        "client_name": "Claude Code (github)",
        "redirect_uris": ["http://localhost:53123/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none"
    })
}

#[test]
fn claude_code_registration() {
    let client = valid(&claude_code());
    assert_eq!(
        client.client_name.as_deref(),
        Some("Claude Code (github)"),
        "name kept"
    );
    assert_eq!(
        client.grant_types,
        [GrantType::AuthorizationCode, GrantType::RefreshToken],
        "both grants"
    );
    assert_eq!(client.response_types, [ResponseType::Code], "code");
    assert!(
        any_matches(&client, "http://localhost:61234/callback"),
        "a later random port still matches"
    );
    assert_eq!(
        client.scopes, SUPPORTED,
        "no scope asked: the ceiling is the supported set"
    );
    assert_eq!(client.application_type, None, "absent stays absent");
}

#[test]
fn vs_code_registration() {
    let client = valid(&json!({
        "client_name": "Visual Studio Code",
        "application_type": "native",
        "redirect_uris": [
            "https://insiders.vscode.dev/redirect",
            "https://vscode.dev/redirect",
            "http://127.0.0.1/",
            "http://127.0.0.1:33418/"
        ],
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "none"
    }));
    assert_eq!(
        client.application_type,
        Some(ApplicationType::Native),
        "OAuth 2.1 §8.1: client type recorded"
    );
    assert_eq!(client.redirect_uris.len(), 4, "several redirects, all kept");
    assert!(
        any_matches(&client, "http://127.0.0.1:50000/"),
        "busy-port fallback"
    );
    assert!(
        any_matches(&client, "https://vscode.dev/redirect"),
        "web redirect"
    );
    assert!(client.rejected_redirect_uris.is_empty(), "nothing refused");
}

#[test]
fn cursor_registration() {
    let client = valid(&json!({
        "client_name": "Cursor",
        "redirect_uris": [
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "https://www.cursor.com/agents/mcp/oauth/callback",
            "http://localhost:8787/callback"
        ],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none"
    }));
    assert!(
        any_matches(&client, "cursor://anysphere.cursor-mcp/oauth/callback"),
        "private-use scheme"
    );
    assert_eq!(client.client_name.as_deref(), Some("Cursor"), "name kept");
}

#[test]
fn mcp_remote_registration_is_down_scoped() {
    let client = valid(&json!({
        "client_name": "MCP CLI Proxy",
        "client_uri": "https://github.com/modelcontextprotocol/mcp-cli",
        "software_id": "2e6dc280-f3c3-4e01-99a7-8181dbd1d23d",
        "software_version": "0.1.16",
        "redirect_uris": ["http://localhost:3335/oauth/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": "openid email profile"
    }));
    assert_eq!(
        client.software_id.as_deref(),
        Some("2e6dc280-f3c3-4e01-99a7-8181dbd1d23d"),
        "software_id kept"
    );
    assert_eq!(
        client.software_version.as_deref(),
        Some("0.1.16"),
        "software_version kept"
    );
    assert_eq!(
        client.client_uri.as_deref(),
        Some("https://github.com/modelcontextprotocol/mcp-cli"),
        "text"
    );
    assert_eq!(
        client.dropped_scopes,
        ["openid", "email", "profile"],
        "OIDC scopes dropped, not refused"
    );
    assert_eq!(
        client.scopes, SUPPORTED,
        "nothing supported was asked: the supported set is the ceiling"
    );
    assert!(
        any_matches(&client, "http://localhost:3400/oauth/callback"),
        "hashed port variant"
    );
}

#[test]
fn codex_scopes_are_intersected() {
    let client = valid(&json!({
        "client_name": "Codex",
        "redirect_uris": ["http://127.0.0.1:1455/callback"],
        "scope": "openid profile email offline_access"
    }));
    assert_eq!(client.scopes, ["offline_access"], "supported scopes kept");
    assert_eq!(
        client.dropped_scopes,
        ["openid", "profile", "email"],
        "unknown scopes dropped for the log"
    );
    assert_eq!(
        client.grant_types,
        [GrantType::AuthorizationCode],
        "RFC 7591 §2 default grant type"
    );
}

#[test]
fn inspector_registration() {
    let client = valid(&json!({
        "redirect_uris": ["http://localhost:6274/oauth/callback"],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "client_name": "MCP Inspector",
        "client_uri": "https://github.com/modelcontextprotocol/inspector",
        "scope": "mcp"
    }));
    assert_eq!(
        client.scopes,
        ["mcp"],
        "requested supported scope kept alone"
    );
    assert!(
        any_matches(&client, "http://localhost:6274/oauth/callback"),
        "Inspector callback"
    );
}

#[test]
fn not_an_object_is_invalid_client_metadata() {
    for body in [json!([]), json!("x"), json!(null), json!(42)] {
        assert_eq!(
            refused(&body).error(),
            ErrorCode::InvalidClientMetadata,
            "RFC 7591 §3.2.2"
        );
    }
}

#[test]
fn redirect_uris_shape_errors() {
    let string = refused(&json!({"redirect_uris": "http://localhost/cb"}));
    assert_eq!(
        string.error(),
        ErrorCode::InvalidClientMetadata,
        "a string is a malformed field"
    );
    let missing = refused(&json!({"client_name": "x"}));
    assert_eq!(
        missing.error(),
        ErrorCode::InvalidRedirectUri,
        "a redirect-based client needs redirect URIs"
    );
    let null = refused(&json!({"redirect_uris": null}));
    assert_eq!(
        null.error(),
        ErrorCode::InvalidRedirectUri,
        "null is absent"
    );
    let empty = refused(&json!({"redirect_uris": []}));
    assert_eq!(
        empty.error(),
        ErrorCode::InvalidRedirectUri,
        "an empty list has no usable URI"
    );
    let numbers = refused(&json!({"redirect_uris": [1, 2]}));
    assert_eq!(
        numbers.error(),
        ErrorCode::InvalidRedirectUri,
        "no string, no usable URI"
    );
}

#[test]
fn all_redirect_uris_invalid_is_invalid_redirect_uri() {
    let e = refused(&json!({"redirect_uris": ["http://evil.example/cb", "javascript:alert(1)"]}));
    assert_eq!(
        e.error(),
        ErrorCode::InvalidRedirectUri,
        "a non-loopback http or script redirect is refused"
    );
    let description = e.description().unwrap_or_default();
    assert!(
        description.contains("loopback"),
        "the first reason is given: {description}"
    );
    assert!(
        !description.contains("evil"),
        "the URI itself is never echoed: {description}"
    );
    let e = refused(
        &json!({"redirect_uris": ["ms-settings:privacy", "view-source:https://a.example/"]}),
    );
    assert_eq!(
        e.error(),
        ErrorCode::InvalidRedirectUri,
        "RFC 7591 §3.2.2: dotless private-use schemes outside the allow-list (RFC 8252 §7.1)"
    );
}

#[test]
fn one_bad_redirect_uri_does_not_fail_the_registration() {
    let client =
        valid(&json!({"redirect_uris": ["http://evil.example/cb", "http://localhost/cb", 7]}));
    assert_eq!(
        uris(&client),
        ["http://localhost/cb"],
        "the usable URI is registered"
    );
    assert_eq!(
        client.rejected_redirect_uris.len(),
        2,
        "the refused ones are reported"
    );
    assert_eq!(
        client.rejected_redirect_uris[1].reason,
        RedirectUriError::NotAString,
        "non-string element"
    );
}

#[test]
fn grant_types_need_authorization_code() {
    let e = refused(
        &json!({"redirect_uris": ["http://localhost/cb"], "grant_types": ["client_credentials"]}),
    );
    assert_eq!(
        e.error(),
        ErrorCode::InvalidClientMetadata,
        "nothing usable"
    );
    let e = refused(
        &json!({"redirect_uris": ["http://localhost/cb"], "grant_types": ["refresh_token"]}),
    );
    assert_eq!(
        e.error(),
        ErrorCode::InvalidClientMetadata,
        "refresh alone can never start"
    );
    let e = refused(
        &json!({"redirect_uris": ["http://localhost/cb"], "grant_types": "authorization_code"}),
    );
    assert_eq!(
        e.error(),
        ErrorCode::InvalidClientMetadata,
        "must be an array"
    );
    let client = valid(&json!({
        "redirect_uris": ["http://localhost/cb"],
        "grant_types": ["implicit", "authorization_code", "client_credentials", "authorization_code"]
    }));
    assert_eq!(
        client.grant_types,
        [GrantType::AuthorizationCode],
        "unsupported grants dropped, deduplicated"
    );
}

#[test]
fn response_types_are_code_only() {
    let e =
        refused(&json!({"redirect_uris": ["http://localhost/cb"], "response_types": ["token"]}));
    assert_eq!(
        e.error(),
        ErrorCode::InvalidClientMetadata,
        "implicit flow refused"
    );
    let client = valid(
        &json!({"redirect_uris": ["http://localhost/cb"], "response_types": ["code", "token"]}),
    );
    assert_eq!(
        client.response_types,
        [ResponseType::Code],
        "only code kept"
    );
}

#[test]
fn auth_method_is_forced_to_none() {
    let client = valid(&json!({
        "redirect_uris": ["http://localhost/cb"],
        "token_endpoint_auth_method": "client_secret_basic"
    }));
    assert_eq!(
        client.token_endpoint_auth_method(),
        "none",
        "public clients only"
    );
    assert_eq!(
        client.requested_token_endpoint_auth_method.as_deref(),
        Some("client_secret_basic"),
        "what was asked is kept for the log"
    );
    assert_eq!(
        client.metadata_json()["token_endpoint_auth_method"],
        "none",
        "the response shows the effect"
    );
}

#[test]
fn application_type_values() {
    let web = valid(&json!({"redirect_uris": ["https://a.example/cb"], "application_type": "web"}));
    assert_eq!(
        web.application_type,
        Some(ApplicationType::Web),
        "web recorded"
    );
    let e =
        refused(&json!({"redirect_uris": ["http://localhost/cb"], "application_type": "browser"}));
    assert_eq!(
        e.error(),
        ErrorCode::InvalidClientMetadata,
        "unknown application_type"
    );
}

#[test]
fn wrong_types_are_invalid_client_metadata() {
    for (field, value) in [
        ("client_name", json!(5)),
        ("scope", json!(["mcp"])),
        ("client_uri", json!({})),
        ("response_types", json!("code")),
    ] {
        let mut body = json!({"redirect_uris": ["http://localhost/cb"]});
        body[field] = value;
        let e = refused(&body);
        assert_eq!(
            e.error(),
            ErrorCode::InvalidClientMetadata,
            "{field} has the wrong JSON type"
        );
        assert!(
            e.description().is_some_and(|d| d.contains(field)),
            "the field is named"
        );
    }
}

#[test]
fn client_name_is_cleaned() {
    let name = |raw: &str| {
        valid(&json!({"redirect_uris": ["http://localhost/cb"], "client_name": raw})).client_name
    };
    assert_eq!(
        name("  Claude\nCode\t "),
        Some("Claude Code".into()),
        "controls become spaces, trimmed"
    );
    assert_eq!(
        name("Evil\u{202E}edoC"),
        Some("EviledoC".into()),
        "bidi override cannot reorder the page"
    );
    for (raw, why) in [
        ("Cl\u{200B}aude Code", "zero-width space"),
        ("Cl\u{200C}au\u{200D}de Code", "ZWNJ and ZWJ"),
        ("\u{FEFF}Claude Code", "byte order mark"),
        ("\u{2066}Claude\u{2069} Code", "bidi isolates"),
        (
            "\u{202A}Claude\u{202C} Code\u{200E}",
            "bidi embedding and mark",
        ),
        ("Clau\u{00AD}de\u{2060} Code", "soft hyphen and word joiner"),
        ("Claude Code\u{E0041}\u{E007F}", "tag characters"),
    ] {
        assert_eq!(
            name(raw),
            Some("Claude Code".into()),
            "format characters (Unicode Cf) are removed: {why}"
        );
    }
    assert_eq!(name("\u{0007}\u{0000} "), None, "nothing left is absent");
    assert_eq!(
        name(" \u{200B}\u{FEFF}\u{202E} \u{2069}"),
        None,
        "a name of format characters only is absent"
    );
    assert_eq!(
        name(&"é".repeat(300)).map(|n| n.chars().count()),
        Some(MAX_NAME_CHARS),
        "length cap in chars"
    );
    let client = valid(
        &json!({"redirect_uris": ["http://localhost/cb"], "client_name": null, "extra": {"x": 1}}),
    );
    assert_eq!(
        client.client_name, None,
        "null is absent; unknown fields ignored (RFC 7591 §2)"
    );
}

#[test]
fn web_uris_must_be_http_or_https() {
    for field in ["client_uri", "logo_uri", "tos_uri", "policy_uri"] {
        for bad in [
            "javascript:alert(document.cookie)",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "java\tscript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "file:///etc/passwd",
            "vbscript:msgbox(1)",
            "ftp://a.example/x",
            "//a.example/x",
            "a.example",
        ] {
            let e = refused(&json!({"redirect_uris": ["http://localhost/cb"], field: bad}));
            assert_eq!(
                e.error(),
                ErrorCode::InvalidClientMetadata,
                "RFC 7591 §2/§3.2.2: {field} {bad:?} is not a web page"
            );
            assert!(
                e.description().is_some_and(|d| d.contains(field)),
                "the field is named"
            );
        }
        for good in ["https://a.example/about", "http://a.example/", "", "  "] {
            let body = json!({"redirect_uris": ["http://localhost/cb"], field: good});
            assert!(
                validate_registration(&body, SUPPORTED).is_ok(),
                "{field} {good:?} is an http(s) URL or blank (absent)"
            );
        }
    }
    let client = valid(&json!({
        "redirect_uris": ["http://localhost/cb"],
        "client_uri": "https://a.example/\u{200B}",
    }));
    assert_eq!(
        client.client_uri, None,
        "a hidden format character drops it"
    );
}

#[test]
fn uris_are_kept_as_text_or_dropped() {
    let client = valid(&json!({
        "redirect_uris": ["http://localhost/cb"],
        "logo_uri": format!("https://a.example/{}", "x".repeat(MAX_URI_LEN)),
        "client_uri": "https://a.example/\u{0000}"
    }));
    assert_eq!(client.logo_uri, None, "overlong logo_uri dropped");
    assert_eq!(client.client_uri, None, "control characters dropped");
}

#[test]
fn body_limit_constant() {
    assert_eq!(MAX_REGISTRATION_BODY, 16 * 1024, "16 KiB cap");
}

#[test]
fn metadata_json_shows_effective_values() {
    let client = valid(&claude_code());
    assert_eq!(
        client.metadata_json(),
        json!({
            "redirect_uris": ["http://localhost:53123/callback"],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "scope": "mcp offline_access",
            "client_name": "Claude Code (github)"
        }),
        "RFC 7591 §3.2.1: the registered (effective) metadata"
    );
}

fn with_redirects(list: &[&str]) -> ValidatedClient {
    valid(
        &json!({"redirect_uris": list, "grant_types": ["authorization_code", "refresh_token"], "scope": "mcp"}),
    )
}

#[test]
fn same_registration_does_not_shrink() {
    let a = valid(&claude_code());
    assert!(!shrinks(&a, &a).is_shrink(), "identical re-registration");
}

#[test]
fn cosmetic_changes_do_not_shrink() {
    let old = with_redirects(&["https://vscode.dev/redirect", "http://127.0.0.1:33418/"]);
    let new = with_redirects(&["HTTPS://VSCode.dev/redirect/", "http://127.0.0.1/"]);
    let shrink = shrinks(&old, &new);
    assert!(
        !shrink.is_shrink(),
        "host case, trailing slash and loopback port are cosmetic: {shrink:?}"
    );
    let new = with_redirects(&[
        "https://vscode.dev:443/redirect",
        "http://127.0.0.1:40000",
        "https://x.example/",
    ]);
    assert!(
        !shrinks(&old, &new).is_shrink(),
        "default port and added URIs are no removal"
    );
}

#[test]
fn removed_redirect_uri_is_reported() {
    let old = with_redirects(&["http://localhost/callback", "http://127.0.0.1/callback"]);
    let new = with_redirects(&["http://localhost/callback"]);
    let shrink = shrinks(&old, &new);
    assert!(shrink.is_shrink(), "a redirect URI was removed");
    assert_eq!(
        shrink
            .removed_redirect_uris
            .iter()
            .map(RedirectUri::as_str)
            .collect::<Vec<_>>(),
        ["http://127.0.0.1/callback"],
        "exactly the removed one, so only its grants get revoked"
    );
    let moved = with_redirects(&["http://localhost/callback", "http://127.0.0.1/other"]);
    assert_eq!(
        shrinks(&old, &moved).removed_redirect_uris.len(),
        1,
        "a path change is a removal"
    );
}

#[test]
fn removed_scope_grant_and_response_type_are_reported() {
    let old = valid(&json!({
        "redirect_uris": ["http://localhost/cb"],
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "mcp offline_access"
    }));
    let new = valid(&json!({"redirect_uris": ["http://localhost/cb"], "scope": "mcp"}));
    let shrink = shrinks(&old, &new);
    assert_eq!(shrink.removed_scopes, ["offline_access"], "scope removed");
    assert_eq!(
        shrink.removed_grant_types,
        [GrantType::RefreshToken],
        "grant type removed"
    );
    assert!(
        shrink.removed_redirect_uris.is_empty(),
        "redirects unchanged"
    );
    assert!(
        shrink.removed_response_types.is_empty(),
        "code is the only response type there is"
    );
    assert!(
        !shrinks(&new, &old).is_shrink(),
        "widening is not a shrink (consent handles it)"
    );

    let mut no_code = new.clone();
    no_code.response_types.clear();
    assert_eq!(
        shrinks(&new, &no_code).removed_response_types,
        [ResponseType::Code],
        "response type removed"
    );
}
