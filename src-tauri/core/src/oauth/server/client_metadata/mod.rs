//! Dynamic Client Registration requests: from self-asserted JSON to the metadata Gatehouse registers.
//!
//! Implements:
//! - RFC 7591 §2: client metadata fields; the AS MUST ignore fields it does not understand and MAY replace
//!   requested values (it returns the effective ones); `grant_types` defaults to `authorization_code` and
//!   `response_types` to `code`; §2.1: the two must be consistent.
//! - RFC 7591 §3.2.2: `invalid_redirect_uri` and `invalid_client_metadata`.
//! - RFC 7591 §2 and §5: `client_uri`, `logo_uri`, `tos_uri` and `policy_uri` are web pages (or an
//!   image) that an AS may show to the person, so only http(s) URLs are accepted.
//! - OAuth 2.1 §2.1 / §8.1: public clients only
//!   (`token_endpoint_auth_method` forced to `none`), `application_type` recorded.
//! - MCP security best practices §Scope Minimization: scopes outside the supported set are dropped.
//!
//! # Decisions
//! - **Structure vs value.** A body that is not an object, or a known field of the wrong JSON type
//!   (`redirect_uris` a string, `scope` a number …) is `invalid_client_metadata`. `null` counts as absent.
//! - **Redirect URIs** go through [`register_redirect_uris`]: refused entries (including non-strings) are
//!   dropped and reported in [`ValidatedClient::rejected_redirect_uris`]; `redirect_uris` missing, empty, or
//!   with no usable entry is `invalid_redirect_uri` (every client here is redirect-based, RFC 7591 §2).
//! - **Informational fields** (`client_name`, `software_id`, `software_version`) are trimmed, control
//!   characters (Unicode Cc) become spaces (so `"A\nB"` reads `A B`), format characters (Unicode Cf: the
//!   zero-width space, ZWJ/ZWNJ, the byte order mark, bidirectional embeddings, overrides and isolates,
//!   tag characters …) are removed, since they have no width of their own and only serve to hide text or
//!   reorder the consent text around the name; whitespace runs collapse, and the result is cut to
//!   [`MAX_NAME_CHARS`] characters; empty becomes absent.
//! - **Web URIs**: `client_uri`, `logo_uri`, `tos_uri` and `policy_uri` that are not absolute `http` or
//!   `https` URLs (`javascript:`, `data:`, `file:`, a bare host …) are `invalid_client_metadata`: a link to
//!   one of those, shown by a future consent page or the app, would run script or read local files.
//!   `client_uri` and `logo_uri` are then kept as text, never fetched; one longer than [`MAX_URI_LEN`] or
//!   containing control or format characters is dropped. `tos_uri` and `policy_uri` are checked but not
//!   kept (nothing shows them).
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
use url::Url;

use super::error::{ErrorCode, OAuthError};
use super::redirect_uri::{RedirectUri, RedirectUriError, RejectedUri, register_redirect_uris};

/// Largest registration body accepted, in bytes (a Gatehouse limit). The endpoint enforces it before
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

/// What a re-registration removed compared with the previous one (such a shrink revokes the affected
/// grants; a cosmetic change revokes nothing). Redirect URIs are compared by their cosmetic key (host
/// case, default port, loopback port and one trailing slash do not count as a change).
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
    let client_uri = web_uri_field(body, "client_uri")?;
    let logo_uri = web_uri_field(body, "logo_uri")?;
    web_uri_field(body, "tos_uri")?;
    web_uri_field(body, "policy_uri")?;

    Ok(ValidatedClient {
        redirect_uris,
        rejected_redirect_uris,
        client_name: string_field(body, "client_name")?.and_then(clean_text),
        client_uri,
        logo_uri,
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

/// Unicode general category Cf (format characters), from `DerivedGeneralCategory.txt` of Unicode 15.1:
/// invisible characters that hide text (U+200B zero-width space, U+200C/U+200D ZWNJ/ZWJ, U+2060 word
/// joiner, U+FEFF byte order mark, the U+E0000 tags) or reorder it (U+061C, U+200E/U+200F, the
/// U+202A-U+202E embeddings and overrides, the U+2066-U+2069 isolates).
const FORMAT_CHARACTERS: [(char, char); 21] = [
    ('\u{00AD}', '\u{00AD}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0001}', '\u{E0001}'),
    ('\u{E0020}', '\u{E007F}'),
];

fn is_format_character(c: char) -> bool {
    c >= '\u{00AD}'
        && FORMAT_CHARACTERS
            .iter()
            .any(|&(first, last)| (first..=last).contains(&c))
}

fn clean_text(raw: &str) -> Option<String> {
    let spaced: String = raw
        .chars()
        .filter(|&c| !is_format_character(c))
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let collapsed: Vec<&str> = spaced.split_whitespace().collect();
    let cleaned: String = collapsed.join(" ").chars().take(MAX_NAME_CHARS).collect();
    let cleaned = cleaned.trim_end();
    (!cleaned.is_empty()).then(|| cleaned.to_owned())
}

/// A web URI field (module docs): absent or blank is `None`; not an absolute http(s) URL is
/// `invalid_client_metadata`; too long or with control or format characters is dropped.
fn web_uri_field(
    body: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<String>, OAuthError> {
    let Some(raw) = string_field(body, name)? else {
        return Ok(None);
    };
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    // The WHATWG parser is what a browser would apply to a link, so its scheme is the one that counts
    // (it removes tabs and newlines: "java\tscript:" is javascript).
    if !Url::parse(raw).is_ok_and(|url| matches!(url.scheme(), "http" | "https")) {
        return Err(OAuthError::new(ErrorCode::InvalidClientMetadata)
            .with_description(format!("{name} must be an http or https URL")));
    }
    Ok((raw.len() <= MAX_URI_LEN
        && !raw
            .chars()
            .any(|c| c.is_control() || is_format_character(c)))
    .then(|| raw.to_owned()))
}

#[cfg(test)]
mod tests;
