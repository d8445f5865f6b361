use super::*;

fn uri(raw: &str) -> RedirectUri {
    match RedirectUri::parse_for_registration(raw) {
        Ok(uri) => uri,
        Err(e) => {
            panic!("{raw} should register (it is a real client's callback or policy-valid): {e}")
        }
    }
}

fn refused(raw: &str) -> RedirectUriError {
    match RedirectUri::parse_for_registration(raw) {
        Ok(uri) => panic!("{raw} must be refused by the registration policy, got {uri}"),
        Err(e) => e,
    }
}

fn register(list: &[&str]) -> Vec<RedirectUri> {
    let owned: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
    match register_redirect_uris(&owned) {
        Ok((accepted, rejected)) => {
            assert!(
                rejected.is_empty(),
                "every URI of a real client's registration is usable: {rejected:?}"
            );
            accepted
        }
        Err(e) => panic!("registration of {list:?} should succeed: {e:?}"),
    }
}

fn any_matches(registered: &[RedirectUri], requested: &str) -> bool {
    registered.iter().any(|r| r.matches(requested))
}

// What real local MCP clients register: each one registers and its real callback matches.

#[test]
fn claude_code_portless_localhost_matches_random_port() {
    let registered = register(&["http://localhost/callback", "http://127.0.0.1/callback"]);
    assert!(
        any_matches(&registered, "http://localhost:53123/callback"),
        "RFC 8252 §7.3: any loopback port"
    );
    assert!(
        any_matches(&registered, "http://127.0.0.1:61000/callback"),
        "RFC 8252 §7.3: any loopback port"
    );
    assert!(
        any_matches(&registered, "http://localhost/callback"),
        "the registered URI itself matches"
    );
    assert!(
        !any_matches(&registered, "http://localhost:53123/callback/"),
        "path compared exactly"
    );
}

#[test]
fn vs_code_redirects_register_and_match() {
    let registered = register(&[
        "https://vscode.dev/redirect",
        "https://insiders.vscode.dev/redirect",
        "http://127.0.0.1/",
        "http://127.0.0.1:33418/",
    ]);
    assert_eq!(
        registered.len(),
        4,
        "both loopback forms are kept as registered"
    );
    assert!(
        any_matches(&registered, "http://127.0.0.1:33418/"),
        "the fixed VS Code port matches"
    );
    assert!(
        any_matches(&registered, "http://127.0.0.1:49152/"),
        "VS Code falls back to a random port"
    );
    assert!(
        any_matches(&registered, "https://vscode.dev/redirect"),
        "the web redirect matches exactly"
    );
    assert!(
        !any_matches(&registered, "https://vscode.dev:8443/redirect"),
        "https ports are not wildcards"
    );
    assert!(
        !any_matches(&registered, "http://localhost:33418/"),
        "localhost is not 127.0.0.1"
    );
}

#[test]
fn vs_code_portless_loopback_without_slash_is_the_same_uri() {
    let a = uri("http://127.0.0.1");
    assert_eq!(
        a.as_str(),
        "http://127.0.0.1/",
        "RFC 3986 §6.2.3: empty http path is /"
    );
    assert!(
        a.matches("http://127.0.0.1:33418/"),
        "any port on a loopback registration"
    );
}

#[test]
fn cursor_redirects_register_and_match() {
    let registered = register(&[
        "cursor://anysphere.cursor-mcp/oauth/callback",
        "https://www.cursor.com/agents/mcp/oauth/callback",
        "http://localhost:8787/callback",
    ]);
    assert!(
        any_matches(&registered, "cursor://anysphere.cursor-mcp/oauth/callback"),
        "private-use exact"
    );
    assert!(
        any_matches(&registered, "http://localhost:8787/callback"),
        "loopback with its own port"
    );
    assert!(
        any_matches(&registered, "http://localhost:9999/callback"),
        "loopback with another port"
    );
    assert!(
        !any_matches(&registered, "cursor://anysphere.cursor-mcp/oauth/callback2"),
        "path exact"
    );
    assert_eq!(
        registered[0].kind(),
        RedirectKind::PrivateUse { reverse_dns: false },
        "cursor:// has no dot; the consent page should be able to say so"
    );
}

#[test]
fn mcp_remote_hashed_port_variants_match() {
    let registered = register(&["http://localhost:3335/oauth/callback"]);
    for requested in [
        "http://localhost:3335/oauth/callback",
        "http://localhost:3412/oauth/callback",
    ] {
        assert!(
            any_matches(&registered, requested),
            "mcp-remote uses 3335+hash ports: {requested}"
        );
    }
    assert!(
        !any_matches(&registered, "http://localhost:3335/oauth/callback?x=1"),
        "extra query refused"
    );
}

#[test]
fn inspector_and_codex_callbacks_match() {
    let inspector = register(&["http://localhost:6274/oauth/callback"]);
    assert!(
        any_matches(&inspector, "http://localhost:6274/oauth/callback"),
        "Inspector's fixed callback"
    );
    let codex = register(&["http://127.0.0.1:1455/callback"]);
    assert!(
        any_matches(&codex, "http://127.0.0.1:1455/callback"),
        "Codex's callback"
    );
    assert!(
        any_matches(&codex, "http://127.0.0.1:1456/callback"),
        "Codex on a busy-port fallback"
    );
}

#[test]
fn other_private_use_schemes_register() {
    for raw in [
        "vscode://vscode.github-authentication/did-authenticate",
        "claude://oauth/callback",
    ] {
        assert!(
            uri(raw).matches(raw),
            "{raw} is a private-use scheme and must match itself"
        );
    }
    let reverse = uri("com.example.app:/cb");
    assert_eq!(
        reverse.kind(),
        RedirectKind::PrivateUse { reverse_dns: true },
        "RFC 8252 §7.1 form"
    );
    assert!(
        reverse.matches("com.example.app:/cb"),
        "reverse-DNS scheme matches itself"
    );
    assert!(
        !reverse.matches("com.example.app:/cb2"),
        "path exact for private-use"
    );
}

#[test]
fn dotless_private_use_schemes_are_refused_unless_a_real_client_uses_them() {
    for raw in [
        "ms-settings:privacy",
        "view-source:https://a.example/cb",
        "about:blank",
        "chrome://settings/",
        "ftp://a.example/cb",
        "myapp://oauth/callback",
        "mailto:someone@a.example",
        "intent://cb",
    ] {
        assert_eq!(
            refused(raw),
            RedirectUriError::NotReverseDns,
            "RFC 8252 §7.1: {raw} is not a reverse domain name and no MCP client needs it"
        );
    }
    for raw in [
        "javascript:alert(1)",
        "data:text/html,x",
        "file:///cb",
        "blob:x",
    ] {
        assert_eq!(
            refused(raw),
            RedirectUriError::BlockedScheme,
            "{raw} keeps its own, sharper reason"
        );
    }
    for scheme in DOTLESS_APP_SCHEMES {
        let raw = format!("{scheme}://publisher.extension/oauth/callback");
        assert_eq!(
            uri(&raw).kind(),
            RedirectKind::PrivateUse { reverse_dns: false },
            "{scheme} is on the allow-list, still flagged as not reverse-DNS"
        );
        assert!(
            uri(&format!(
                "{}://publisher.extension/oauth/callback",
                scheme.to_ascii_uppercase()
            ))
            .matches(&raw),
            "scheme case does not matter for {scheme}"
        );
    }
    assert_eq!(
        uri("com.example.app:/cb").kind(),
        RedirectKind::PrivateUse { reverse_dns: true },
        "RFC 8252 §7.1 form"
    );
    assert_eq!(
        uri("dev.zed.Zed://oauth/callback").kind(),
        RedirectKind::PrivateUse { reverse_dns: true },
        "any scheme with a dot"
    );
}

// Matching a requested redirect URI (OAuth 2.1 §2.3.1) and refusing registrations (OAuth 2.1 §2.3).

#[test]
fn a_different_path_does_not_match() {
    assert!(
        !uri("http://127.0.0.1/cb").matches("http://127.0.0.1:53122/other"),
        "path must match"
    );
    assert!(
        !uri("https://app.example/cb").matches("https://app.example/cb/x"),
        "path must match"
    );
}

#[test]
fn loopback_redirects_match_any_port() {
    assert!(
        uri("http://127.0.0.1/cb").matches("http://127.0.0.1:53122/cb"),
        "OAuth 2.1 §2.3.1: any port"
    );
    assert!(
        uri("http://[::1]/cb").matches("http://[::1]:53122/cb"),
        "IPv6 loopback also any port"
    );
    assert!(
        uri("http://127.0.0.1:1/cb").matches("http://127.0.0.1/cb"),
        "registered port is no constraint"
    );
}

#[test]
fn localhost_does_not_stand_in_for_127_0_0_1() {
    assert!(
        !uri("http://127.0.0.1/cb").matches("http://localhost:53122/cb"),
        "localhost is not 127.0.0.1"
    );
    assert!(
        !uri("http://localhost/cb").matches("http://127.0.0.1:53122/cb"),
        "127.0.0.1 is not localhost"
    );
    assert!(
        !uri("http://127.0.0.1/cb").matches("http://[::1]:53122/cb"),
        "::1 is not 127.0.0.1"
    );
}

#[test]
fn userinfo_fragment_or_extra_query_never_match() {
    let registered = uri("http://127.0.0.1/cb");
    assert!(
        !registered.matches("http://127.0.0.1:1@evil.com/cb"),
        "userinfo would send the code to evil.com"
    );
    assert!(
        !registered.matches("http://127.0.0.1:5000/cb#frag"),
        "fragments are never allowed"
    );
    assert!(
        !registered.matches("http://127.0.0.1:5000/cb?x=1"),
        "extra query is not an exact match"
    );
    assert!(
        !registered.matches("http://127.0.0.1:5000/cb?"),
        "even an empty query differs"
    );
    let with_query = uri("https://app.example/cb?a=1");
    assert!(
        with_query.matches("https://app.example/cb?a=1"),
        "a registered query matches itself"
    );
    assert!(
        !with_query.matches("https://app.example/cb?a=1&b=2"),
        "extra query parameter"
    );
    assert!(
        !with_query.matches("https://app.example/cb"),
        "missing query parameter"
    );
}

#[test]
fn registration_refuses_non_loopback_http_and_script_schemes() {
    assert_eq!(
        refused("http://evil.example/cb"),
        RedirectUriError::PlainHttpNotLoopback,
        "plain http remote"
    );
    assert_eq!(
        refused("javascript:alert(1)"),
        RedirectUriError::BlockedScheme,
        "script scheme"
    );
    for raw in [
        "data:text/html,x",
        "VBScript:x",
        "file:///etc/passwd",
        "blob:https://a.example/1",
    ] {
        assert_eq!(
            refused(raw),
            RedirectUriError::BlockedScheme,
            "{raw} can run code or read local data"
        );
    }
    assert_eq!(
        refused("http://127.0.0.1:1@evil.com/cb"),
        RedirectUriError::Userinfo,
        "userinfo"
    );
    assert_eq!(
        refused("https://user@app.example/cb"),
        RedirectUriError::Userinfo,
        "userinfo on https"
    );
    assert_eq!(
        refused("https://app.example/cb#x"),
        RedirectUriError::Fragment,
        "OAuth 2.1 §2.3: no fragment"
    );
    assert_eq!(
        refused("https://app.example/cb#"),
        RedirectUriError::Fragment,
        "even an empty fragment"
    );
}

#[test]
fn normalization_is_cosmetic_only() {
    assert_eq!(
        uri("HTTPS://VSCode.Dev/redirect").as_str(),
        "https://vscode.dev/redirect",
        "case"
    );
    assert_eq!(
        uri("https://vscode.dev:443/redirect").as_str(),
        "https://vscode.dev/redirect",
        "default port"
    );
    assert_eq!(
        uri("HTTP://LOCALHOST:80/cb").as_str(),
        "http://localhost/cb",
        "http default port"
    );
    assert_eq!(
        uri("https://a.example/A/b").as_str(),
        "https://a.example/A/b",
        "path case is kept"
    );
    assert_eq!(
        uri("CURSOR://Anysphere.Cursor-MCP/x").as_str(),
        "cursor://anysphere.cursor-mcp/x",
        "RFC 3986"
    );
    assert!(
        uri("https://vscode.dev/redirect").matches("https://VSCODE.dev:443/redirect"),
        "cosmetic"
    );
    assert!(
        !uri("https://a.example/cb").matches("https://a.example/cb/"),
        "trailing slash is not cosmetic"
    );
    assert!(
        !uri("https://a.example/%41").matches("https://a.example/A"),
        "no percent-decoding"
    );
}

#[test]
fn parser_rewrites_are_refused_not_normalized() {
    let cases = [
        "https://a.example/x/../cb",
        "https://a.example/./cb",
        "https://a.example/%2e%2e/cb",
        "http://0x7f.0.0.1/cb",
        "http://2130706433/cb",
        "https://ex%61mple.com/cb",
        "http://[0:0:0:0:0:0:0:1]/cb",
        "http://127.0.0.1:0053/cb",
        "https://a.example/cb?it's",
    ];
    for raw in cases {
        assert!(
            RedirectUri::parse_for_registration(raw).is_err(),
            "{raw}: a parser would rewrite it; refuse"
        );
    }
    assert!(
        !uri("http://127.0.0.1/cb").matches("http://0x7f.0.0.1:5/cb"),
        "numeric host form is not a match"
    );
    assert!(
        !uri("https://a.example/cb").matches("https://a.example/x/../cb"),
        "dot segments never match"
    );
}

#[test]
fn malformed_inputs_are_refused() {
    assert_eq!(refused(""), RedirectUriError::Empty, "empty");
    assert_eq!(
        refused("/callback"),
        RedirectUriError::NotAbsolute,
        "relative reference"
    );
    assert_eq!(
        refused("1abc:/x"),
        RedirectUriError::NotAbsolute,
        "scheme must start with a letter"
    );
    assert_eq!(
        refused("http://127.0.0.1/c b"),
        RedirectUriError::ForbiddenCharacter,
        "space"
    );
    assert_eq!(
        refused("http://127.0.0.1/c\nb"),
        RedirectUriError::ForbiddenCharacter,
        "newline"
    );
    assert_eq!(
        refused("http://127.0.0.1\\@evil.com/"),
        RedirectUriError::ForbiddenCharacter,
        "backslash"
    );
    assert_eq!(
        refused("https://bücher.example/"),
        RedirectUriError::ForbiddenCharacter,
        "IDN must be punycode"
    );
    assert_eq!(
        refused("http://127.0.0.1:/cb"),
        RedirectUriError::InvalidPort,
        "empty port"
    );
    assert_eq!(
        refused("http://127.0.0.1:70000/cb"),
        RedirectUriError::InvalidPort,
        "port out of range"
    );
    assert_eq!(
        refused("http://[::1]x/cb"),
        RedirectUriError::InvalidPort,
        "junk after IPv6 literal"
    );
    assert_eq!(
        refused("https:///cb"),
        RedirectUriError::MissingHost,
        "https needs a host"
    );
    assert_eq!(
        refused("http:///cb"),
        RedirectUriError::MissingHost,
        "http needs a host"
    );
    assert_eq!(
        refused("https:cb"),
        RedirectUriError::MissingHost,
        "https needs an authority"
    );
    let long = format!("https://a.example/{}", "a".repeat(MAX_REDIRECT_URI_LEN));
    assert_eq!(refused(&long), RedirectUriError::TooLong, "length cap");
}

#[test]
fn only_three_loopback_spellings() {
    assert_eq!(
        refused("http://127.0.0.2/cb"),
        RedirectUriError::PlainHttpNotLoopback,
        "documented decision"
    );
    assert_eq!(
        refused("http://localhost./cb"),
        RedirectUriError::PlainHttpNotLoopback,
        "trailing dot"
    );
    assert_eq!(
        refused("http://localhost.evil.com/cb"),
        RedirectUriError::PlainHttpNotLoopback,
        "suffix trick"
    );
    assert!(
        uri("http://LocalHost/cb").is_loopback(),
        "host case is cosmetic"
    );
    assert!(
        !uri("https://localhost/cb").is_loopback(),
        "https loopback is matched exactly, port included"
    );
    assert!(
        !uri("https://localhost/cb").matches("https://localhost:5/cb"),
        "no any-port rule for https"
    );
}

#[test]
fn error_messages_are_ascii_and_never_contain_input() {
    for e in [
        refused("http://evil.example/cb"),
        refused("javascript:alert(1)"),
        refused("http://127.0.0.1/c b"),
        refused("http://0x7f.0.0.1/cb"),
    ] {
        let message = e.to_string();
        assert!(
            message.is_ascii(),
            "error_description must be ASCII (RFC 6749 §5.2): {message}"
        );
        assert!(
            !message.contains("evil") && !message.contains("0x7f"),
            "never echo input: {message}"
        );
    }
}

#[test]
fn registration_keeps_usable_uris_and_reports_the_rest() {
    let list = vec![
        "http://evil.example/cb".to_owned(),
        "http://localhost/callback".to_owned(),
        "HTTP://localhost:80/callback".to_owned(),
        "javascript:alert(1)".to_owned(),
    ];
    let Ok((accepted, rejected)) = register_redirect_uris(&list) else {
        panic!("one odd URI must not fail a registration that has a usable one");
    };
    assert_eq!(
        accepted.len(),
        1,
        "duplicates after normalization are kept once"
    );
    assert_eq!(rejected.len(), 2, "both refused URIs are reported");
    assert_eq!(
        rejected[0].reason,
        RedirectUriError::PlainHttpNotLoopback,
        "reason kept per URI"
    );
    assert_eq!(
        rejected[1].uri, "javascript:alert(1)",
        "the raw value is kept for the log"
    );
}

#[test]
fn registration_without_usable_uri_fails() {
    let Err(e) = register_redirect_uris(&[]) else {
        panic!("an empty list is not a usable registration")
    };
    assert!(
        e.rejected.is_empty(),
        "nothing was rejected, there was nothing"
    );
    let list = vec!["http://evil.example/cb".to_owned()];
    let Err(e) = register_redirect_uris(&list) else {
        panic!("no usable URI must fail the registration")
    };
    assert_eq!(e.rejected.len(), 1, "the refused URI is reported");
}

#[test]
fn cosmetic_key_ignores_trailing_slash_and_loopback_port() {
    assert_eq!(
        uri("https://vscode.dev/redirect").cosmetic_key(),
        uri("https://VSCODE.dev/redirect/").cosmetic_key(),
        "host case and trailing slash are cosmetic for revocation"
    );
    assert_eq!(
        uri("http://127.0.0.1:33418/").cosmetic_key(),
        uri("http://127.0.0.1").cosmetic_key(),
        "loopback port never constrained a match, so changing it removes nothing"
    );
    assert_ne!(
        uri("http://127.0.0.1/cb").cosmetic_key(),
        uri("http://localhost/cb").cosmetic_key(),
        "a host change is a real change"
    );
    assert_ne!(
        uri("https://a.example/cb?x=1").cosmetic_key(),
        uri("https://a.example/cb").cosmetic_key(),
        "a query change is a real change"
    );
    assert_eq!(
        uri("https://a.example:8443/cb/?x=1").cosmetic_key(),
        "https://a.example:8443/cb?x=1",
        "https port kept, slash before the query dropped"
    );
}
