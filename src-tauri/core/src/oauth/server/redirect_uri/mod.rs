//! Redirect URIs of local MCP clients: what may be registered and what a request must send to match.
//!
//! Implements:
//! - OAuth 2.1 (draft-ietf-oauth-v2-1-13) §2.3, §2.3.1: registered redirect URIs are absolute, have no
//!   fragment, and are compared to the requested one by simple string comparison, except that for loopback
//!   redirects **any port** is allowed (also §4.1.1, §8.4.2).
//! - RFC 8252 §7.1 (private-use URI schemes), §7.3 (loopback interface redirection: any port).
//! - RFC 3986 §6.2.2.1 / §6.2.3 for the only normalizations applied (see below).
//!
//! # Registration policy (Gatehouse decision within OAuth 2.1 §2.3)
//! Accepted:
//! - `https` with any host;
//! - loopback `http` whose host is exactly `127.0.0.1`, `[::1]` or `localhost` (any letter case);
//! - a private-use scheme in reverse domain name form, i.e. containing a `.` (RFC 8252 §7.1:
//!   `com.example.app:/cb`);
//! - the few dotless private-use schemes that real MCP clients register, listed in [`DOTLESS_APP_SCHEMES`]
//!   (`cursor://anysphere.cursor-mcp/oauth/callback`, `vscode://…`). OAuth 2.1 §2.3.1 says an AS SHOULD
//!   refuse private-use schemes without a `.`; these are accepted anyway, and
//!   [`RedirectKind::PrivateUse::reverse_dns`] tells the consent page to warn.
//!
//! Refused: `javascript`, `data`, `vbscript`, `file`, `blob`; every other dotless scheme (`about:`,
//! `chrome:`, `ftp:`, `ms-settings:`, `view-source:` … name browser internals, OS settings or other
//! protocols, never an app's callback); plain `http` on any other host; a fragment;
//! userinfo; anything longer than [`MAX_REDIRECT_URI_LEN`]; characters outside RFC 3986's set (whitespace,
//! controls, non-ASCII, `\`, `"`, `<`, `>` …); and any URI whose meaning a URL parser would change beyond the
//! cosmetic normalizations below (dot segments, numeric or percent-encoded hosts, `[0:0::1]`, leading-zero
//! ports …): those are how "normalization" usually widens a match, so they are refused instead.
//!
//! Other 127.0.0.0/8 addresses (`127.0.0.2`) are **not** treated as loopback: RFC 8252 §7.3 names
//! `127.0.0.1` and `::1`, no surveyed client uses another address, and fewer spellings mean fewer ways to
//! sneak a near-match past the comparison.
//!
//! # Normalization (cosmetic only)
//! Scheme and host are lowercased, the scheme's default port is dropped (`:443` for https, `:80` for http),
//! and an empty http(s) path becomes `/`. Nothing else: path and query are compared byte for byte, so
//! `/cb` ≠ `/cb/`, `%41` ≠ `A`, and `?` ≠ no query.
//!
//! # Matching
//! [`RedirectUri::matches`] parses the requested URI with the same rules and then:
//! - for a loopback `http` registration, scheme, host, path and query must be equal and the port is ignored,
//!   both when the registration has a port and when it has none. `localhost` never stands in for `127.0.0.1`.
//! - otherwise the normalized strings must be equal (https ports included).

use std::fmt;

use url::Url;

/// Longest redirect URI accepted, in bytes. Far above real callbacks; bounds what is stored and shown.
pub const MAX_REDIRECT_URI_LEN: usize = 2048;

const BLOCKED_SCHEMES: [&str; 5] = ["javascript", "data", "vbscript", "file", "blob"];

/// Private-use schemes without a `.` that are accepted anyway (RFC 8252 §7.1 asks for a reverse domain
/// name): the app-link schemes of MCP clients that register them. Every other dotless scheme is refused;
/// add one here only with the client that needs it.
pub const DOTLESS_APP_SCHEMES: [&str; 6] = [
    // VS Code and VS Code Insiders: `vscode.env.uriScheme`, which VS Code extensions with their own MCP
    // OAuth put in their callbacks (Cline: `vscode://saoudrizwan.claude-dev/…` on the desktop).
    "vscode",
    "vscode-insiders",
    // Cursor: its MCP client registers `cursor://anysphere.cursor-mcp/oauth/callback`;
    // also `vscode.env.uriScheme` for such extensions running in Cursor.
    "cursor",
    // Windsurf: `vscode.env.uriScheme` for such extensions running in Windsurf.
    "windsurf",
    // Claude Desktop's app link.
    "claude",
    // Zed's app link.
    "zed",
];
const LOOPBACK_HOSTS: [&str; 3] = ["127.0.0.1", "[::1]", "localhost"];

/// Why a redirect URI was refused. Messages are ASCII, static and never contain the URI itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    #[error("the redirect URI is empty")]
    Empty,
    #[error("the redirect URI is not a string")]
    NotAString,
    #[error("the redirect URI is longer than 2048 bytes")]
    TooLong,
    #[error(
        "the redirect URI contains whitespace, control, non-ASCII or other characters not allowed in a URI"
    )]
    ForbiddenCharacter,
    #[error("the redirect URI is not an absolute URI")]
    NotAbsolute,
    #[error("the redirect URI has a fragment")]
    Fragment,
    #[error("the redirect URI has userinfo")]
    Userinfo,
    #[error(
        "the redirect URI scheme can run code or read local data (javascript, data, vbscript, file, blob)"
    )]
    BlockedScheme,
    #[error(
        "a private-use redirect URI scheme must be a reverse domain name such as com.example.app (RFC 8252 section 7.1)"
    )]
    NotReverseDns,
    #[error(
        "plain http redirect URIs are only allowed for the loopback hosts 127.0.0.1, [::1] and localhost"
    )]
    PlainHttpNotLoopback,
    #[error("the redirect URI has no host")]
    MissingHost,
    #[error("the redirect URI has an invalid port")]
    InvalidPort,
    #[error(
        "the redirect URI is not in canonical form (dot segments, encoded or numeric host, and the like)"
    )]
    NotCanonical,
}

/// The three kinds of redirect URI the policy accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RedirectKind {
    /// `https://…`, port compared exactly.
    Https,
    /// `http://127.0.0.1`, `http://[::1]` or `http://localhost`, any port (RFC 8252 §7.3).
    LoopbackHttp,
    /// A private-use scheme. `reverse_dns` is false for the [`DOTLESS_APP_SCHEMES`] (`cursor`, `vscode`),
    /// which OAuth 2.1 §2.3.1 discourages: the consent page should say so.
    PrivateUse { reverse_dns: bool },
}

/// A validated, normalized redirect URI.
///
/// Equality and hashing are on the normalized string, so two registrations that differ only cosmetically
/// are the same URI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RedirectUri {
    normalized: String,
    kind: RedirectKind,
    /// Lowercased host (`[::1]` keeps its brackets); empty for private-use URIs without authority.
    host: String,
    /// Normalized path plus `?query` (without the `?` when there is no query).
    path_and_query: String,
}

/// A redirect URI left out of a registration, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedUri {
    /// The value as the client sent it (for logs and the UI, never for an error response body).
    pub uri: String,
    pub reason: RedirectUriError,
}

/// Every redirect URI of a registration was refused (or there were none).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no usable redirect URI")]
pub struct NoUsableRedirectUri {
    pub rejected: Vec<RejectedUri>,
}

impl RedirectUri {
    /// Validates `raw` against the registration policy (module docs) and normalizes it.
    pub fn parse_for_registration(raw: &str) -> Result<RedirectUri, RedirectUriError> {
        if raw.is_empty() {
            return Err(RedirectUriError::Empty);
        }
        if raw.len() > MAX_REDIRECT_URI_LEN {
            return Err(RedirectUriError::TooLong);
        }
        if !raw.bytes().all(is_uri_byte) {
            return Err(RedirectUriError::ForbiddenCharacter);
        }
        if raw.contains('#') {
            return Err(RedirectUriError::Fragment);
        }
        let (scheme, rest) = raw.split_once(':').ok_or(RedirectUriError::NotAbsolute)?;
        if !is_scheme(scheme) {
            return Err(RedirectUriError::NotAbsolute);
        }
        let scheme = scheme.to_ascii_lowercase();
        if BLOCKED_SCHEMES.contains(&scheme.as_str()) {
            return Err(RedirectUriError::BlockedScheme);
        }
        let web = scheme == "http" || scheme == "https";

        let (authority, path_and_query) = match rest.strip_prefix("//") {
            Some(after) => {
                let end = after.find(['/', '?']).unwrap_or(after.len());
                (Some(&after[..end]), &after[end..])
            }
            None => (None, rest),
        };
        let (host, port) = match authority {
            Some(authority) => split_authority(authority)?,
            None => (String::new(), None),
        };

        let kind = match scheme.as_str() {
            "https" => RedirectKind::Https,
            "http" if LOOPBACK_HOSTS.contains(&host.as_str()) => RedirectKind::LoopbackHttp,
            "http" if host.is_empty() => return Err(RedirectUriError::MissingHost),
            "http" => return Err(RedirectUriError::PlainHttpNotLoopback),
            _ if scheme.contains('.') => RedirectKind::PrivateUse { reverse_dns: true },
            _ if DOTLESS_APP_SCHEMES.contains(&scheme.as_str()) => {
                RedirectKind::PrivateUse { reverse_dns: false }
            }
            _ => return Err(RedirectUriError::NotReverseDns),
        };
        if web && host.is_empty() {
            return Err(RedirectUriError::MissingHost);
        }
        let default_port = match scheme.as_str() {
            "https" => Some("443"),
            "http" => Some("80"),
            _ => None,
        };
        let port = port.filter(|p| Some(*p) != default_port);
        let path_and_query = if web && !path_and_query.starts_with('/') {
            format!("/{path_and_query}")
        } else {
            path_and_query.to_owned()
        };

        let mut normalized = format!("{scheme}:");
        if authority.is_some() {
            normalized.push_str("//");
            normalized.push_str(&host);
            if let Some(port) = port {
                normalized.push(':');
                normalized.push_str(port);
            }
        }
        normalized.push_str(&path_and_query);

        // The normalized form must already be what a WHATWG URL parser (the browser that follows the
        // redirect) makes of it; otherwise the parser would rewrite something we compare byte for byte.
        match Url::parse(&normalized) {
            Ok(url) if url.as_str() == normalized => {}
            Ok(_) => return Err(RedirectUriError::NotCanonical),
            Err(_) => return Err(RedirectUriError::NotAbsolute),
        }

        Ok(RedirectUri {
            normalized,
            kind,
            host,
            path_and_query,
        })
    }

    /// Whether `requested` (from an authorization or token request) may be used with this registration.
    /// See the module docs; anything that fails the registration policy never matches.
    pub fn matches(&self, requested: &str) -> bool {
        let Ok(requested) = RedirectUri::parse_for_registration(requested) else {
            return false;
        };
        match (self.kind, requested.kind) {
            (RedirectKind::LoopbackHttp, RedirectKind::LoopbackHttp) => {
                self.host == requested.host && self.path_and_query == requested.path_and_query
            }
            _ => self.normalized == requested.normalized,
        }
    }

    /// True for loopback `http` redirects (the ones matched with any port).
    pub fn is_loopback(&self) -> bool {
        self.kind == RedirectKind::LoopbackHttp
    }

    pub fn kind(&self) -> RedirectKind {
        self.kind
    }

    /// The normalized URI: what is stored, shown on the consent page and returned in DCR responses.
    pub fn as_str(&self) -> &str {
        &self.normalized
    }

    /// The host (lowercased) for the consent page; empty for a private-use URI without authority.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Key under which two registrations count as the same redirect target when deciding whether a
    /// re-registration removed one (a cosmetic change must not revoke a grant). Looser than
    /// [`RedirectUri::matches`] on purpose: a false "same" here keeps a grant, a false match there would
    /// send a code elsewhere. Ignores the loopback port (matching ignores it too) and one trailing `/` of
    /// the path.
    pub(crate) fn cosmetic_key(&self) -> String {
        let (path, query) = match self.path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (self.path_and_query.as_str(), None),
        };
        let path = path.strip_suffix('/').unwrap_or(path);
        let prefix = match self.kind {
            RedirectKind::LoopbackHttp => format!("http://{}", self.host),
            _ => {
                let end = self.normalized.len() - self.path_and_query.len();
                self.normalized[..end].to_owned()
            }
        };
        match query {
            Some(query) => format!("{prefix}{path}?{query}"),
            None => format!("{prefix}{path}"),
        }
    }
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.normalized)
    }
}

/// Validates every redirect URI of a registration: refused ones are reported, not fatal, as long as at
/// least one is usable (a client listing a web callback we refuse next to its loopback one still
/// registers). Duplicates after normalization are kept once, in first-seen order.
pub fn register_redirect_uris(
    list: &[String],
) -> Result<(Vec<RedirectUri>, Vec<RejectedUri>), NoUsableRedirectUri> {
    let mut accepted: Vec<RedirectUri> = Vec::new();
    let mut rejected = Vec::new();
    for raw in list {
        match RedirectUri::parse_for_registration(raw) {
            Ok(uri) if accepted.contains(&uri) => {}
            Ok(uri) => accepted.push(uri),
            Err(reason) => rejected.push(RejectedUri {
                uri: raw.clone(),
                reason,
            }),
        }
    }
    if accepted.is_empty() {
        Err(NoUsableRedirectUri { rejected })
    } else {
        Ok((accepted, rejected))
    }
}

/// RFC 3986 §2: unreserved, reserved and `%`. Everything else is refused before parsing.
fn is_uri_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b)
}

/// RFC 3986 §3.1: `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.')
}

/// Splits `host[:port]` (no userinfo allowed) and lowercases the host.
fn split_authority(authority: &str) -> Result<(String, Option<&str>), RedirectUriError> {
    if authority.contains('@') {
        return Err(RedirectUriError::Userinfo);
    }
    let (host, port) = if authority.starts_with('[') {
        let close = authority.find(']').ok_or(RedirectUriError::NotCanonical)?;
        let (host, after) = authority.split_at(close + 1);
        match after {
            "" => (host, None),
            _ => (
                host,
                Some(
                    after
                        .strip_prefix(':')
                        .ok_or(RedirectUriError::InvalidPort)?,
                ),
            ),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if let Some(port) = port
        && (port.is_empty()
            || !port.bytes().all(|b| b.is_ascii_digit())
            || port.parse::<u16>().is_err())
    {
        return Err(RedirectUriError::InvalidPort);
    }
    Ok((host.to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests;
