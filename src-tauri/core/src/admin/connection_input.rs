//! Checking what a person types for a connection (the window's form, the CLI's flags) before anything
//! is stored: names, the upstream URL (https, or http only to a loopback host; no userinfo or
//! fragment), header names and values (RFC 9110 §5.1 token characters, §5.5 field values; headers the
//! proxy owns are refused) and the account name. Each refusal names the field it is about.

use super::AdminError;
use crate::oauth::server::resource::is_valid_slug;

/// Longest connection name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest upstream URL accepted, in bytes.
pub const MAX_URL_LEN: usize = 2048;
/// Longest header value accepted, in bytes.
pub const MAX_HEADER_VALUE_LEN: usize = 8192;

/// Headers the proxy sets or owns itself, or that would change how a request is framed or routed.
const RESERVED_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "content-type",
    "content-encoding",
    "accept",
    "accept-encoding",
    "origin",
    "mcp-session-id",
    "mcp-protocol-version",
    "last-event-id",
];

const LOOPBACK_HOSTS: &[&str] = &["127.0.0.1", "localhost", "[::1]"];

/// A connection's slug, trimmed: the path segment of `/mcp/<slug>`
/// ([`is_valid_slug`], so every slug that can be added can also be authorized).
pub(super) fn validate_slug(slug: &str) -> Result<&str, AdminError> {
    let slug = slug.trim();
    if is_valid_slug(slug) {
        Ok(slug)
    } else {
        Err(AdminError::invalid(
            "slug",
            format!(
                "{slug:?} must be 1-63 characters of lowercase letters, digits and '-', starting with a \
                 letter or digit"
            ),
        ))
    }
}

pub(super) fn validate_name(name: &str) -> Result<String, AdminError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AdminError::invalid("name", "the name must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(AdminError::invalid(
            "name",
            format!("the name must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(AdminError::invalid(
            "name",
            "the name must not contain control characters",
        ));
    }
    Ok(name.to_owned())
}

/// A user-named account: trimmed, at most [`MAX_NAME_CHARS`], no control characters; blank means
/// "none" (`Ok(None)`).
pub(super) fn validate_account_name(account: &str) -> Result<Option<String>, AdminError> {
    let account = account.trim();
    if account.is_empty() {
        return Ok(None);
    }
    if account.chars().count() > MAX_NAME_CHARS {
        return Err(AdminError::invalid(
            "account",
            format!("the account name must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if account.chars().any(char::is_control) {
        return Err(AdminError::invalid(
            "account",
            "the account name must not contain control characters",
        ));
    }
    Ok(Some(account.to_owned()))
}

/// Returns the URL in its parsed (normalized) form.
pub(super) fn validate_upstream_url(raw: &str) -> Result<String, AdminError> {
    let raw = raw.trim();
    if raw.len() > MAX_URL_LEN {
        return Err(AdminError::invalid(
            "url",
            format!("the upstream URL must be at most {MAX_URL_LEN} bytes"),
        ));
    }
    let url = url::Url::parse(raw).map_err(|e| {
        AdminError::invalid(
            "url",
            format!("{raw:?} is not an absolute URL ({e}); expected https://host/path"),
        )
    })?;
    let host = url.host_str().unwrap_or_default();
    match url.scheme() {
        "https" => {}
        "http" if LOOPBACK_HOSTS.contains(&host) => {}
        "http" => {
            return Err(AdminError::invalid(
                "url",
                format!(
                    "{raw:?} uses plain http to a non-loopback host; use https (plain http is allowed \
                     only for 127.0.0.1, localhost and [::1])"
                ),
            ));
        }
        other => {
            return Err(AdminError::invalid(
                "url",
                format!(
                    "{raw:?} has scheme {other:?}; the upstream URL must be https (or http to loopback)"
                ),
            ));
        }
    }
    if host.is_empty() {
        return Err(AdminError::invalid("url", format!("{raw:?} has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(AdminError::invalid(
            "url",
            "the upstream URL must not contain a user name or password; use --header for credentials",
        ));
    }
    if url.fragment().is_some() {
        return Err(AdminError::invalid(
            "url",
            "the upstream URL must not have a fragment (#...)",
        ));
    }
    Ok(url.to_string())
}

pub(super) fn validate_header_name(name: &str) -> Result<String, AdminError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AdminError::invalid("header", "the header name is empty"));
    }
    let parsed = http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
        AdminError::invalid(
            "header",
            format!("{name:?} is not a valid HTTP header name"),
        )
    })?;
    if RESERVED_HEADERS.contains(&parsed.as_str()) {
        return Err(AdminError::invalid(
            "header",
            format!("{name:?} is set by the gateway itself and cannot carry a credential"),
        ));
    }
    // Kept as typed, so the UI shows what the user entered; HTTP compares names case-insensitively.
    Ok(name.to_owned())
}

/// Checks the value without ever putting it in the message.
pub(super) fn validate_header_value(value: &str) -> Result<(), AdminError> {
    if value.is_empty() {
        return Err(AdminError::invalid("header", "the header value is empty"));
    }
    if value.len() > MAX_HEADER_VALUE_LEN {
        return Err(AdminError::invalid(
            "header",
            format!("the header value must be at most {MAX_HEADER_VALUE_LEN} bytes"),
        ));
    }
    if http::HeaderValue::from_str(value).is_err() {
        return Err(AdminError::invalid(
            "header",
            "the header value contains characters not allowed in an HTTP header (line breaks, \
             control or non-ASCII characters)",
        ));
    }
    Ok(())
}
