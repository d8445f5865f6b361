//! The gateway's own loopback authority, as every layer above the network sees it: which `Host`
//! values name this gateway (RFC 9110 §7.2; MCP Streamable HTTP §Security Warning on DNS
//! rebinding), the base URL it issues and names resources under (RFC 8414 §2 issuer, RFC 9728 §3.3
//! resource), and which `Origin`s are loopback pages (RFC 6454 §7).
//!
//! It lives here, below the OAuth server, the proxy and the gateway, so that each of them can take
//! it without importing the gateway that composes them.

/// The gateway's own authority: which `Host` values are its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalAuthority {
    pub port: u16,
}

impl LocalAuthority {
    /// `http://127.0.0.1:PORT`: the issuer and the base of every resource URL.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The base URL as the client addressed the gateway: `http://` + the request's `Host` when it is
    /// one of our own loopback names (`localhost:PORT`, `[::1]:PORT`), else [`Self::base_url`]. A
    /// client configured with `http://localhost:PORT/mcp/…` must find its resource named with the
    /// authority it used (RFC 9728 §3.3, §7.3), while the issuer stays `http://127.0.0.1:PORT`.
    pub fn addressed_base_url(&self, headers: &http::HeaderMap) -> String {
        headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
            .filter(|host| self.is_own_host(host))
            .map_or_else(|| self.base_url(), |host| format!("http://{host}"))
    }

    /// Whether `host` (a `Host` header value) names this gateway: a loopback name and our port.
    pub fn is_own_host(&self, host: &str) -> bool {
        // Per request (the Host guard): compared in place, without building the three names.
        let Some((name, port)) = host.rsplit_once(':') else {
            return false;
        };
        let own_port = port.parse::<u16>().is_ok_and(|p| p == self.port)
            && !port.starts_with(['+', '0'])
            && !port.is_empty();
        own_port
            && (name == "127.0.0.1" || name.eq_ignore_ascii_case("localhost") || name == "[::1]")
    }
}

/// `http(s)://` + a loopback host (`localhost`, `127.0.0.0/8`, `[::1]`) + an optional port, and
/// nothing else. `null` (sandboxed frames, `file:` pages) is not loopback.
pub fn is_loopback_origin(origin: &str) -> bool {
    let Ok(url) = url::Url::parse(origin) else {
        return false;
    };
    if !matches!(url.scheme(), "http" | "https") || url.path() != "/" && !url.path().is_empty() {
        return false;
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() {
        return false;
    }
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9110 §7.2: `Host` is `uri-host [ ":" port ]`; the gateway answers only to its own
    /// loopback names with its own port, written as the decimal it listens on.
    #[test]
    fn only_our_loopback_names_with_our_port_are_our_host() {
        let local = LocalAuthority { port: 8765 };
        for own in [
            "127.0.0.1:8765",
            "localhost:8765",
            "LocalHost:8765",
            "[::1]:8765",
        ] {
            assert!(local.is_own_host(own), "{own} is ours");
        }
        for foreign in [
            "127.0.0.1",
            "localhost",
            "127.0.0.1:8766",
            "127.0.0.1:08765",
            "127.0.0.1:+8765",
            "127.0.0.1:",
            "127.0.0.2:8765",
            "evil.example:8765",
            "localhost.evil.example:8765",
            "127.0.0.1:8765:8765",
            "[::2]:8765",
            "",
        ] {
            assert!(!local.is_own_host(foreign), "{foreign:?} is not ours");
        }
    }
}
