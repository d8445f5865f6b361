//! Dynamic Client Registration requests: from self-asserted JSON to the metadata Gatehouse registers.
//!
//! Implements:
//! - RFC 7591 §2: client metadata fields; the AS MUST ignore fields it does not understand and MAY replace
//!   requested values (it returns the effective ones); `grant_types` defaults to `authorization_code` and
//!   `response_types` to `code`; §2.1: the two must be consistent.
//! - RFC 7591 §3.2.2: `invalid_redirect_uri` and `invalid_client_metadata`.
//! - OAuth 2.1 §2.1 / §8.1 and mcp-auth-checklist §2.2: public clients only
//!   (`token_endpoint_auth_method` forced to `none`), `application_type` recorded.
//! - mcp-auth-checklist §2.7 / BP26 §Scope Minimization: scopes outside the supported set are dropped.
//!
//! # Decisions
//! - **Structure vs value.** A body that is not an object, or a known field of the wrong JSON type
//!   (`redirect_uris` a string, `scope` a number …) is `invalid_client_metadata`. `null` counts as absent.
//! - **Redirect URIs** go through [`register_redirect_uris`]: refused entries (including non-strings) are
//!   dropped and reported in [`ValidatedClient::rejected_redirect_uris`]; `redirect_uris` missing, empty, or
//!   with no usable entry is `invalid_redirect_uri` (every client here is redirect-based, RFC 7591 §2).
//! - **Informational fields** (`client_name`, `software_id`, `software_version`) are trimmed, control and
//!   bidirectional-formatting characters become spaces (so `"A\nB"` reads `A B` and cannot reorder the
//!   consent text), whitespace runs collapse, and the result is cut to [`MAX_NAME_CHARS`] characters; empty
//!   becomes absent. `client_uri` and `logo_uri` are kept as text, never fetched; one longer than
//!   [`MAX_URI_LEN`] or containing control characters is dropped.
//! - **`application_type`**: `native` or `web` recorded, absent stays absent (no OIDC default: Gatehouse
//!   applies one redirect policy to every client, so the type changes nothing here); any other string is
//!   `invalid_client_metadata`.
//! - **`grant_types`**: intersected with `authorization_code` + `refresh_token`. The result must contain
//!   `authorization_code` (a client that can only refresh can never get its first token), else
//!   `invalid_client_metadata`.
//! - **`response_types`**: intersected with `code`; empty is `invalid_client_metadata`.
//! - **`token_endpoint_auth_method`**: always `none`; what the client asked is kept for the log.
//! - **`scope`** is the ceiling the client may later ask for, not a grant (the consent page decides). It is
//!   the requested scopes that are supported; when the client asked none, or only unsupported ones
//!   (mcp-remote's `openid email profile` fallback), the ceiling is the whole supported set, so the
//!   registration is down-scoped instead of refused. Dropped scopes are kept for the log.

use serde_json::{Map, Value, json};

use super::error::{ErrorCode, OAuthError};
use super::redirect_uri::{RedirectUri, RedirectUriError, RejectedUri, register_redirect_uris};

/// Largest registration body accepted, in bytes (mcp-auth-checklist §2.2). The endpoint enforces it before
/// parsing JSON; larger bodies get 413.
pub const MAX_REGISTRATION_BODY: usize = 16 * 1024;
/// Longest `client_name`, `software_id` or `software_version` kept, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest `client_uri` or `logo_uri` kept, in bytes.
pub const MAX_URI_LEN: usize = 2048;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApplicationType {
    Native,
    Web,
}

impl ApplicationType {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationType::Native => "native",
            ApplicationType::Web => "web",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
}

impl GrantType {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
        }
    }

    fn parse(s: &str) -> Option<GrantType> {
        match s {
            "authorization_code" => Some(GrantType::AuthorizationCode),
            "refresh_token" => Some(GrantType::RefreshToken),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResponseType {
    Code,
}

impl ResponseType {
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseType::Code => "code",
        }
    }
}

/// The effective metadata of a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedClient {
    pub redirect_uris: Vec<RedirectUri>,
    /// Redirect URIs left out, with reasons (for the log and the UI; never echoed in an error body).
    pub rejected_redirect_uris: Vec<RejectedUri>,
    /// Self-reported; show as unverified.
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub software_id: Option<String>,
    pub software_version: Option<String>,
    pub application_type: Option<ApplicationType>,
    pub grant_types: Vec<GrantType>,
    pub response_types: Vec<ResponseType>,
    /// What the client asked for (cleaned like `client_name`); the effective method is always `none`.
    pub requested_token_endpoint_auth_method: Option<String>,
    /// The scope ceiling, in first-requested order (or supported order when defaulted).
    pub scopes: Vec<String>,
    /// Requested scopes that are not supported, dropped.
    pub dropped_scopes: Vec<String>,
}

impl ValidatedClient {
    /// Always `none`: Gatehouse registers public clients only.
    pub fn token_endpoint_auth_method(&self) -> &'static str {
        "none"
    }

    /// The effective client metadata for the RFC 7591 §3.2.1 response; the endpoint adds `client_id` and
    /// `client_id_issued_at`.
    pub fn metadata_json(&self) -> Value {
        let mut map = Map::new();
        map.insert(
            "redirect_uris".into(),
            json!(
                self.redirect_uris
                    .iter()
                    .map(RedirectUri::as_str)
                    .collect::<Vec<_>>()
            ),
        );
        map.insert(
            "token_endpoint_auth_method".into(),
            json!(self.token_endpoint_auth_method()),
        );
        map.insert(
            "grant_types".into(),
            json!(
                self.grant_types
                    .iter()
                    .map(|g| g.as_str())
                    .collect::<Vec<_>>()
            ),
        );
        map.insert(
            "response_types".into(),
            json!(
                self.response_types
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
            ),
        );
        if !self.scopes.is_empty() {
            map.insert("scope".into(), json!(self.scopes.join(" ")));
        }
        let optional = [
            ("client_name", self.client_name.as_deref()),
            ("client_uri", self.client_uri.as_deref()),
            ("logo_uri", self.logo_uri.as_deref()),
            ("software_id", self.software_id.as_deref()),
            ("software_version", self.software_version.as_deref()),
            (
                "application_type",
                self.application_type.map(ApplicationType::as_str),
            ),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                map.insert(name.into(), json!(value));
            }
        }
        Value::Object(map)
    }
}

/// What a re-registration removed compared with the previous one (product.md §2: such a shrink revokes the
/// affected grants). Redirect URIs are compared by their cosmetic key (host case, default port, loopback
/// port and one trailing slash do not count as a change).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shrink {
    /// Redirect URIs of the old registration no longer present (the grants bound to them get revoked).
    pub removed_redirect_uris: Vec<RedirectUri>,
    pub removed_scopes: Vec<String>,
    pub removed_grant_types: Vec<GrantType>,
    pub removed_response_types: Vec<ResponseType>,
}

impl Shrink {
    /// Whether anything was removed.
    pub fn is_shrink(&self) -> bool {
        !(self.removed_redirect_uris.is_empty()
            && self.removed_scopes.is_empty()
            && self.removed_grant_types.is_empty()
            && self.removed_response_types.is_empty())
    }
}

/// Compares a re-registration with the registration it replaces.
pub fn shrinks(old: &ValidatedClient, new: &ValidatedClient) -> Shrink {
    let new_keys: Vec<String> = new
        .redirect_uris
        .iter()
        .map(RedirectUri::cosmetic_key)
        .collect();
    Shrink {
        removed_redirect_uris: old
            .redirect_uris
            .iter()
            .filter(|uri| !new_keys.contains(&uri.cosmetic_key()))
            .cloned()
            .collect(),
        removed_scopes: old
            .scopes
            .iter()
            .filter(|s| !new.scopes.contains(s))
            .cloned()
            .collect(),
        removed_grant_types: old
            .grant_types
            .iter()
            .filter(|g| !new.grant_types.contains(g))
            .copied()
            .collect(),
        removed_response_types: old
            .response_types
            .iter()
            .filter(|r| !new.response_types.contains(r))
            .copied()
            .collect(),
    }
}

/// Validates a DCR request body (already size-capped and parsed as JSON) into effective metadata.
pub fn validate_registration(
    json: &Value,
    supported_scopes: &[&str],
) -> Result<ValidatedClient, OAuthError> {
    let Value::Object(body) = json else {
        return Err(metadata_error(
            "the registration body must be a JSON object",
        ));
    };

    let (redirect_uris, rejected_redirect_uris) = redirect_uris(body)?;
    let application_type = match string_field(body, "application_type")? {
        None => None,
        Some("native") => Some(ApplicationType::Native),
        Some("web") => Some(ApplicationType::Web),
        Some(_) => return Err(metadata_error("application_type must be native or web")),
    };

    let grant_types = match string_list_field(body, "grant_types")? {
        None => vec![GrantType::AuthorizationCode],
        Some(requested) => dedup(requested.iter().filter_map(|g| GrantType::parse(g))),
    };
    if !grant_types.contains(&GrantType::AuthorizationCode) {
        return Err(metadata_error(
            "grant_types must include authorization_code",
        ));
    }
    let response_types = match string_list_field(body, "response_types")? {
        None => vec![ResponseType::Code],
        Some(requested) => dedup(
            requested
                .iter()
                .filter(|r| **r == "code")
                .map(|_| ResponseType::Code),
        ),
    };
    if response_types.is_empty() {
        return Err(metadata_error("response_types must include code"));
    }

    let (scopes, dropped_scopes) = scopes(string_field(body, "scope")?, supported_scopes);

    Ok(ValidatedClient {
        redirect_uris,
        rejected_redirect_uris,
        client_name: string_field(body, "client_name")?.and_then(clean_text),
        client_uri: string_field(body, "client_uri")?.and_then(clean_uri),
        logo_uri: string_field(body, "logo_uri")?.and_then(clean_uri),
        software_id: string_field(body, "software_id")?.and_then(clean_text),
        software_version: string_field(body, "software_version")?.and_then(clean_text),
        application_type,
        grant_types,
        response_types,
        requested_token_endpoint_auth_method: string_field(body, "token_endpoint_auth_method")?
            .and_then(clean_text),
        scopes,
        dropped_scopes,
    })
}

fn metadata_error(description: &'static str) -> OAuthError {
    OAuthError::described(ErrorCode::InvalidClientMetadata, description)
}

fn redirect_uris(
    body: &Map<String, Value>,
) -> Result<(Vec<RedirectUri>, Vec<RejectedUri>), OAuthError> {
    let list = match body.get("redirect_uris") {
        None | Some(Value::Null) => {
            return Err(OAuthError::described(
                ErrorCode::InvalidRedirectUri,
                "redirect_uris is required",
            ));
        }
        Some(Value::Array(list)) => list,
        Some(_) => return Err(metadata_error("redirect_uris must be an array of strings")),
    };
    let mut strings = Vec::with_capacity(list.len());
    let mut not_strings = Vec::new();
    for item in list {
        match item {
            Value::String(s) => strings.push(s.clone()),
            other => not_strings.push(RejectedUri {
                uri: other.to_string(),
                reason: RedirectUriError::NotAString,
            }),
        }
    }
    match register_redirect_uris(&strings) {
        Ok((accepted, mut rejected)) => {
            rejected.extend(not_strings);
            Ok((accepted, rejected))
        }
        Err(e) => {
            let description = match e.rejected.first() {
                Some(first) => format!("no usable redirect URI: {}", first.reason),
                None if not_strings.is_empty() => String::from("redirect_uris must not be empty"),
                None => format!("no usable redirect URI: {}", RedirectUriError::NotAString),
            };
            Err(OAuthError::new(ErrorCode::InvalidRedirectUri).with_description(description))
        }
    }
}

/// A string field; absent and `null` are `None`, another JSON type is `invalid_client_metadata`.
fn string_field<'a>(
    body: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a str>, OAuthError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(OAuthError::new(ErrorCode::InvalidClientMetadata)
            .with_description(format!("{name} must be a string"))),
    }
}

/// An array-of-strings field; non-string elements are ignored (they name nothing we support).
fn string_list_field<'a>(
    body: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<Vec<&'a str>>, OAuthError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(list)) => Ok(Some(list.iter().filter_map(Value::as_str).collect())),
        Some(_) => Err(OAuthError::new(ErrorCode::InvalidClientMetadata)
            .with_description(format!("{name} must be an array of strings"))),
    }
}

fn dedup<T: PartialEq>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut out = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// RFC 6749 §3.3: space-delimited `scope-token`s of `%x21 / %x23-5B / %x5D-7E`.
fn scopes(requested: Option<&str>, supported: &[&str]) -> (Vec<String>, Vec<String>) {
    let requested = dedup(requested.unwrap_or_default().split_ascii_whitespace());
    let (kept, dropped): (Vec<&str>, Vec<&str>) =
        requested.into_iter().partition(|s| supported.contains(s));
    let kept = if kept.is_empty() {
        supported.to_vec()
    } else {
        kept
    };
    let dropped = dropped.into_iter().filter_map(clean_text).collect();
    (kept.into_iter().map(str::to_owned).collect(), dropped)
}

/// Unicode bidirectional formatting characters: they can reorder the text around a client name.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn clean_text(raw: &str) -> Option<String> {
    let spaced: String = raw
        .chars()
        .map(|c| {
            if c.is_control() || is_bidi_control(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    let collapsed: Vec<&str> = spaced.split_whitespace().collect();
    let cleaned: String = collapsed.join(" ").chars().take(MAX_NAME_CHARS).collect();
    let cleaned = cleaned.trim_end();
    (!cleaned.is_empty()).then(|| cleaned.to_owned())
}

fn clean_uri(raw: &str) -> Option<String> {
    let raw = raw.trim();
    (!raw.is_empty()
        && raw.len() <= MAX_URI_LEN
        && !raw.chars().any(|c| c.is_control() || is_bidi_control(c)))
    .then(|| raw.to_owned())
}

#[cfg(test)]
mod tests {
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
            "O21 §8.1: client type recorded"
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
        let e =
            refused(&json!({"redirect_uris": ["http://evil.example/cb", "javascript:alert(1)"]}));
        assert_eq!(
            e.error(),
            ErrorCode::InvalidRedirectUri,
            "checklist case 27"
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
        let e = refused(
            &json!({"redirect_uris": ["http://localhost/cb"], "response_types": ["token"]}),
        );
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
            "checklist case 30: public clients only"
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
        let web =
            valid(&json!({"redirect_uris": ["https://a.example/cb"], "application_type": "web"}));
        assert_eq!(
            web.application_type,
            Some(ApplicationType::Web),
            "web recorded"
        );
        let e = refused(
            &json!({"redirect_uris": ["http://localhost/cb"], "application_type": "browser"}),
        );
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
            valid(&json!({"redirect_uris": ["http://localhost/cb"], "client_name": raw}))
                .client_name
        };
        assert_eq!(
            name("  Claude\nCode\t "),
            Some("Claude Code".into()),
            "controls become spaces, trimmed"
        );
        assert_eq!(
            name("Evil\u{202E}edoC"),
            Some("Evil edoC".into()),
            "bidi override cannot reorder the page"
        );
        assert_eq!(name("\u{0007}\u{0000} "), None, "nothing left is absent");
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
        assert_eq!(
            MAX_REGISTRATION_BODY,
            16 * 1024,
            "mcp-auth-checklist §2.2: 16 KiB cap (case 28)"
        );
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
}
