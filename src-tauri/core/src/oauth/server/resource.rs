//! The `resource` parameter (RFC 8707) and which Gatehouse connection it names.
//!
//! Implements:
//! - RFC 8707 §2: the value is an absolute URI without a fragment; an unacceptable one is `invalid_target`.
//! - MCP 2026-07-28 authorization §Canonical Server URI: lowercase scheme and host, no trailing slash;
//!   compare case-insensitively on scheme and host.
//! - Gatehouse's rule: exactly one `resource` per request, since a multi-audience token
//!   would cross connections (RFC 8707 §3).
//!
//! # Decisions
//! - Canonical form: the WHATWG/RFC 3986 normalization of the `url` crate (lowercase scheme and host, no
//!   default port, dot segments resolved), then one trailing `/` removed from the path (`http://h:1/` becomes
//!   `http://h:1`). The value identifies an audience, it is not a destination, so normalizing generously
//!   is safe here (unlike redirect URIs).
//! - Host aliases: a client may call the gateway by any loopback name, so `127.0.0.1`, `localhost` and
//!   `[::1]` with the gateway's port are one audience; [`slug_for`] accepts all three, and
//!   [`ResourceUri::for_connection`] gives the canonical `http://127.0.0.1:PORT/mcp/<slug>` to bind
//!   grants and tokens to.
//! - A resource with userinfo or a query never names a connection (`None` from [`slug_for`]).
//! - A missing `resource` is `Ok(None)`: whether that means `invalid_target` or the consent page's
//!   connection picker is the endpoint's policy (RFC 8707 §2.1 allows either).
//! - Slugs are `[a-z0-9][a-z0-9-]{0,62}`; the path is case-sensitive, so `/mcp/Foo` names nothing.

use std::fmt;

use url::Url;

use super::error::{ErrorCode, OAuthError};

/// Longest accepted `resource` value, in bytes.
pub const MAX_RESOURCE_LEN: usize = 2048;

const LOOPBACK_ALIASES: [&str; 3] = ["127.0.0.1", "localhost", "[::1]"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    #[error("only one resource parameter is allowed")]
    Multiple,
    #[error("resource must be an absolute URI")]
    NotAbsolute,
    #[error("resource must not contain a fragment")]
    Fragment,
    #[error("resource is too long")]
    TooLong,
}

impl From<ResourceError> for OAuthError {
    fn from(e: ResourceError) -> Self {
        OAuthError::new(ErrorCode::InvalidTarget).with_description(e.to_string())
    }
}

/// A syntactically valid `resource` value in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceUri {
    canonical: String,
}

impl ResourceUri {
    /// Parses one `resource` value (RFC 8707 §2).
    pub fn parse(raw: &str) -> Result<ResourceUri, ResourceError> {
        if raw.len() > MAX_RESOURCE_LEN {
            return Err(ResourceError::TooLong);
        }
        if raw.contains('#') {
            return Err(ResourceError::Fragment);
        }
        let mut url = Url::parse(raw).map_err(|_| ResourceError::NotAbsolute)?;
        if url.fragment().is_some() {
            return Err(ResourceError::Fragment);
        }
        let path = url.path();
        if path.len() > 1
            && let Some(trimmed) = path.strip_suffix('/')
        {
            let trimmed = trimmed.to_owned();
            url.set_path(&trimmed);
        }
        let mut canonical = String::from(url);
        // `url` always serializes an http(s) root path as `/`; the canonical form has no trailing slash.
        if let Some(prefix) = root_without_slash(&canonical) {
            canonical = prefix;
        }
        Ok(ResourceUri { canonical })
    }

    /// The canonical resource URI of a connection: `http://127.0.0.1:PORT/mcp/<slug>`. `None` for an
    /// invalid slug.
    pub fn for_connection(issuer_port: u16, slug: &str) -> Option<ResourceUri> {
        is_valid_slug(slug).then(|| ResourceUri {
            canonical: format!("http://127.0.0.1:{issuer_port}/mcp/{slug}"),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.canonical
    }
}

impl fmt::Display for ResourceUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical)
    }
}

/// `scheme://authority/` with nothing after the root slash → `scheme://authority`.
fn root_without_slash(serialized: &str) -> Option<String> {
    let after_scheme = serialized.find("://")? + 3;
    let slash = after_scheme + serialized[after_scheme..].find('/')?;
    (slash + 1 == serialized.len()).then(|| serialized[..slash].to_owned())
}

/// All `resource` values of one request (repeated query or form parameters): none, or exactly one valid.
pub fn parse_resource_params(values: &[&str]) -> Result<Option<ResourceUri>, ResourceError> {
    match values {
        [] => Ok(None),
        [one] => ResourceUri::parse(one).map(Some),
        _ => Err(ResourceError::Multiple),
    }
}

/// The connection slug when `resource` names this gateway's `/mcp/<slug>` on `issuer_port` (through any of
/// the loopback aliases); `None` otherwise, which the endpoint answers with `invalid_target`.
pub fn slug_for(resource: &ResourceUri, issuer_port: u16) -> Option<&str> {
    let url = Url::parse(resource.as_str()).ok()?;
    if url.scheme() != "http"
        || !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
    {
        return None;
    }
    let host = url.host_str()?;
    if !LOOPBACK_ALIASES.contains(&host) || url.port_or_known_default() != Some(issuer_port) {
        return None;
    }
    let slug = url.path().strip_prefix("/mcp/")?;
    if !is_valid_slug(slug) {
        return None;
    }
    // Borrow the slug from the canonical string (it ends with the path, since there is no query).
    resource
        .as_str()
        .strip_suffix(slug)
        .map(|prefix| &resource.as_str()[prefix.len()..])
}

/// `[a-z0-9][a-z0-9-]{0,62}`.
pub fn is_valid_slug(slug: &str) -> bool {
    let mut bytes = slug.bytes();
    slug.len() <= 63
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const PORT: u16 = 4849;

    fn one(raw: &str) -> ResourceUri {
        match parse_resource_params(&[raw]) {
            Ok(Some(r)) => r,
            other => panic!("{raw} is an absolute URI without fragment and must parse: {other:?}"),
        }
    }

    fn slug(raw: &str) -> Option<String> {
        slug_for(&one(raw), PORT).map(str::to_owned)
    }

    #[test]
    fn connection_url_names_its_slug() {
        assert_eq!(
            slug("http://127.0.0.1:4849/mcp/github").as_deref(),
            Some("github"),
            "the local URL"
        );
        assert_eq!(
            slug("http://127.0.0.1:4849/mcp/a-1").as_deref(),
            Some("a-1"),
            "digits and dashes"
        );
    }

    #[test]
    fn loopback_aliases_are_one_audience() {
        for raw in [
            "http://localhost:4849/mcp/github",
            "http://[::1]:4849/mcp/github",
        ] {
            assert_eq!(
                slug(raw).as_deref(),
                Some("github"),
                "loopback aliases name the same connection: {raw}"
            );
        }
    }

    #[test]
    fn cosmetic_differences_are_canonicalized() {
        assert_eq!(
            one("HTTP://LOCALHOST:4849/mcp/github").as_str(),
            "http://localhost:4849/mcp/github",
            "MCP canonical server URI: scheme and host compared case-insensitively"
        );
        assert_eq!(
            slug("HTTP://127.0.0.1:4849/mcp/github").as_deref(),
            Some("github"),
            "uppercase scheme"
        );
        assert_eq!(
            one("http://127.0.0.1:4849/mcp/github/").as_str(),
            "http://127.0.0.1:4849/mcp/github",
            "slash"
        );
        assert_eq!(
            slug("http://127.0.0.1:4849/mcp/github/").as_deref(),
            Some("github"),
            "trailing slash"
        );
        assert_eq!(
            one("https://api.example.com:443/").as_str(),
            "https://api.example.com",
            "default port, root"
        );
        assert_eq!(
            one("https://api.example.com").as_str(),
            "https://api.example.com",
            "bare origin"
        );
        assert_eq!(
            one("http://127.0.0.1:80/mcp/x").as_str(),
            "http://127.0.0.1/mcp/x",
            "default port dropped"
        );
        assert_eq!(
            slug_for(&one("http://127.0.0.1/mcp/x"), 80),
            Some("x"),
            "gateway on port 80 still matches"
        );
    }

    #[test]
    fn other_resources_name_no_connection() {
        assert_eq!(
            slug("https://other.example/mcp"),
            None,
            "not a Gatehouse connection"
        );
        assert_eq!(
            slug("http://127.0.0.1:4850/mcp/github"),
            None,
            "another port is another server"
        );
        assert_eq!(
            slug("http://127.0.0.1/mcp/github"),
            None,
            "no port means 80, not the gateway's"
        );
        assert_eq!(
            slug("http://127.0.0.2:4849/mcp/github"),
            None,
            "only the three loopback aliases"
        );
        assert_eq!(
            slug("http://example.com:4849/mcp/github"),
            None,
            "another host"
        );
        assert_eq!(
            slug("https://127.0.0.1:4849/mcp/github"),
            None,
            "the gateway speaks http"
        );
        assert_eq!(slug("http://127.0.0.1:4849/mcp/"), None, "no slug");
        assert_eq!(slug("http://127.0.0.1:4849/mcp"), None, "no slug");
        assert_eq!(
            slug("http://127.0.0.1:4849/mcp/github/tools"),
            None,
            "a sub-path is not a connection"
        );
        assert_eq!(
            slug("http://127.0.0.1:4849/mcp/GitHub"),
            None,
            "paths are case-sensitive, slugs lowercase"
        );
        assert_eq!(
            slug("http://127.0.0.1:4849/mcp/github?x=1"),
            None,
            "a query names no connection"
        );
        assert_eq!(
            slug("http://u@127.0.0.1:4849/mcp/github"),
            None,
            "userinfo names no connection"
        );
        assert_eq!(
            slug("http://127.0.0.1:4849/mcp/-x"),
            None,
            "slug must start with a letter or digit"
        );
        assert_eq!(
            slug("http://127.0.0.1:4849/other/github"),
            None,
            "only /mcp/<slug>"
        );
    }

    #[test]
    fn fragment_and_multiple_resources_are_refused() {
        assert_eq!(
            parse_resource_params(&["http://127.0.0.1:4849/mcp/github#x"]),
            Err(ResourceError::Fragment),
            "RFC 8707 §2: no fragment"
        );
        assert_eq!(
            parse_resource_params(&["http://127.0.0.1:4849/mcp/github#"]),
            Err(ResourceError::Fragment),
            "even an empty fragment"
        );
        assert_eq!(
            parse_resource_params(&["http://127.0.0.1:4849/mcp/a", "http://127.0.0.1:4849/mcp/b"]),
            Err(ResourceError::Multiple),
            "one audience per token"
        );
        assert_eq!(
            parse_resource_params(&["http://127.0.0.1:4849/mcp/a", "http://127.0.0.1:4849/mcp/a"]),
            Err(ResourceError::Multiple),
            "even the same value twice"
        );
        assert_eq!(
            OAuthError::from(ResourceError::Multiple).error(),
            ErrorCode::InvalidTarget,
            "RFC 8707 errors are invalid_target"
        );
    }

    #[test]
    fn missing_resource_is_left_to_policy() {
        assert_eq!(
            parse_resource_params(&[]),
            Ok(None),
            "absent resource is not an error here"
        );
    }

    #[test]
    fn non_absolute_values_are_refused() {
        for raw in [
            "",
            "/mcp/github",
            "127.0.0.1:4849/mcp/github x",
            "mcp/github",
        ] {
            assert_eq!(
                parse_resource_params(&[raw]),
                Err(ResourceError::NotAbsolute),
                "{raw:?} is not absolute"
            );
        }
        let long = format!("https://a.example/{}", "a".repeat(MAX_RESOURCE_LEN));
        assert_eq!(
            parse_resource_params(&[&long]),
            Err(ResourceError::TooLong),
            "length cap"
        );
    }

    #[test]
    fn for_connection_is_canonical_and_round_trips() {
        let Some(resource) = ResourceUri::for_connection(PORT, "github") else {
            panic!("github is a valid slug");
        };
        assert_eq!(
            resource.as_str(),
            "http://127.0.0.1:4849/mcp/github",
            "the connection's local URL"
        );
        assert_eq!(
            one(resource.as_str()),
            resource,
            "parsing the canonical form changes nothing"
        );
        assert_eq!(
            slug_for(&resource, PORT),
            Some("github"),
            "the canonical URL names its own slug"
        );
        assert_eq!(
            ResourceUri::for_connection(PORT, "Git Hub"),
            None,
            "invalid slug"
        );
    }

    #[test]
    fn slug_syntax() {
        assert!(is_valid_slug("a"), "one character");
        assert!(
            is_valid_slug(&format!("a{}", "b".repeat(62))),
            "63 characters"
        );
        assert!(
            !is_valid_slug(&format!("a{}", "b".repeat(63))),
            "64 characters"
        );
        assert!(!is_valid_slug(""), "empty");
        assert!(!is_valid_slug("a_b"), "underscore");
        assert!(!is_valid_slug("a/b"), "slash");
    }
}
