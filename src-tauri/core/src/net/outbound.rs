//! Fetching URLs that come from outside, guarded against SSRF (RFC 9728 §7.7; CIMD §6.5; the MCP
//! security best practices §SSRF Mitigation).
//!
//! Every fetch goes through [`Outbound::send`], which:
//! - accepts `https`, and `http` only to a loopback host when the policy allows loopback (a local
//!   upstream, or a test); never `javascript:`, `file:` and the like;
//! - resolves the host first and refuses the fetch if **any** answer is not a public unicast address
//!   ([`is_public_address`]), loopback excepted when the policy allows it; the request is then
//!   pinned to the checked address with reqwest's `resolve()`, so a second DNS answer cannot swap it
//!   (the time-of-check/time-of-use gap the MCP security best practices warn of);
//! - never follows a redirect (a 3xx is an error: the next hop would escape the check);
//! - bounds the whole request by a timeout and the body by a size cap, read incrementally.
//!
//! Error texts never contain the response body.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use http::{HeaderMap, Method, StatusCode};
use url::Url;

/// Default whole-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a fetch was refused or failed. Safe to show: no body, no secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error("the URL is not a valid absolute URL")]
    InvalidUrl,
    #[error("the URL must use https (http is only allowed to this computer)")]
    NotHttps,
    #[error("the URL must not contain a user name or password")]
    Userinfo,
    #[error("the host could not be resolved")]
    Resolve,
    #[error("the host resolves to a private, loopback, link-local or metadata address")]
    ForbiddenAddress,
    #[error("the request failed: {0}")]
    Fetch(String),
    #[error("the server answered with a redirect (HTTP {0}), which Gatehouse does not follow")]
    Redirect(u16),
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
}

/// Which destinations a fetch may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outbound {
    /// Loopback hosts (and `http` to them) are allowed: the upstream itself runs on this computer.
    pub allow_loopback: bool,
    pub timeout: Duration,
    pub max_bytes: usize,
}

/// A response read in full (within the cap).
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// What to send.
#[derive(Debug)]
pub enum Body<'a> {
    Empty,
    Json(&'a serde_json::Value),
    /// `application/x-www-form-urlencoded`.
    Form(&'a [(&'a str, &'a str)]),
    /// Bytes already encoded; the headers given say what they are.
    Bytes(&'a [u8]),
}

impl Outbound {
    /// Public destinations only, https only.
    pub fn public(max_bytes: usize) -> Self {
        Self {
            allow_loopback: false,
            timeout: DEFAULT_TIMEOUT,
            max_bytes,
        }
    }

    /// The policy for everything an upstream hands Gatehouse: loopback destinations are allowed
    /// exactly when the upstream MCP URL itself is on loopback (the user chose a local server).
    pub fn for_upstream(mcp_url: &str, max_bytes: usize) -> Self {
        let allow_loopback = Url::parse(mcp_url).is_ok_and(|u| is_loopback_host(&u));
        Self {
            allow_loopback,
            timeout: DEFAULT_TIMEOUT,
            max_bytes,
        }
    }

    /// Checks `raw` without touching the network: absolute, https (or http to loopback when
    /// allowed), a host, no userinfo.
    pub fn check_url(&self, raw: &str) -> Result<Url, OutboundError> {
        let url = Url::parse(raw).map_err(|_| OutboundError::InvalidUrl)?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_loopback && is_loopback_host(&url) => {}
            _ => return Err(OutboundError::NotHttps),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(OutboundError::InvalidUrl);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(OutboundError::Userinfo);
        }
        Ok(url)
    }

    fn allowed(&self, ip: IpAddr) -> bool {
        is_public_address(ip) || (self.allow_loopback && ip.is_loopback())
    }

    /// Resolves `url`'s host and returns the address to pin, if every answer is allowed.
    pub async fn resolve(&self, url: &Url) -> Result<SocketAddr, OutboundError> {
        let host = url.host_str().ok_or(OutboundError::InvalidUrl)?;
        let port = url
            .port_or_known_default()
            .ok_or(OutboundError::InvalidUrl)?;
        let lookup = host.trim_start_matches('[').trim_end_matches(']');
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host((lookup, port))
            .await
            .map_err(|_| OutboundError::Resolve)?
            .collect();
        let first = *addresses.first().ok_or(OutboundError::Resolve)?;
        if !addresses.iter().all(|a| self.allowed(a.ip())) {
            tracing::warn!(%host, "outbound fetch refused: the host resolves to a forbidden address");
            return Err(OutboundError::ForbiddenAddress);
        }
        Ok(first)
    }

    /// Sends one request under this policy and reads the response within the size cap.
    pub async fn send(
        &self,
        method: Method,
        raw_url: &str,
        headers: HeaderMap,
        body: Body<'_>,
    ) -> Result<Fetched, OutboundError> {
        let url = self.check_url(raw_url)?;
        let pinned = self.resolve(&url).await?;
        let host = url.host_str().ok_or(OutboundError::InvalidUrl)?.to_owned();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeout)
            .connect_timeout(self.timeout)
            .https_only(!self.allow_loopback)
            .resolve(&host, pinned)
            .no_proxy()
            .build()
            .map_err(|e| OutboundError::Fetch(e.to_string()))?;
        let mut request = client.request(method, url.as_str()).headers(headers);
        request = match body {
            Body::Empty => request,
            Body::Json(value) => request.json(value),
            Body::Form(pairs) => request.form(pairs),
            Body::Bytes(bytes) => request.body(bytes.to_vec()),
        };
        let mut response = request
            .send()
            .await
            .map_err(|e| OutboundError::Fetch(error_text(&e)))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(OutboundError::Redirect(status.as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|len| len > self.max_bytes as u64)
        {
            return Err(OutboundError::TooLarge(self.max_bytes));
        }
        let headers = response.headers().clone();
        let mut body = Vec::with_capacity(1024);
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| OutboundError::Fetch(error_text(&e)))?
        {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(OutboundError::TooLarge(self.max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            status,
            headers,
            body,
        })
    }
}

/// Whether the URL's host is a loopback name or address (`127.0.0.0/8`, `::1`, `localhost`).
pub fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

fn error_text(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "it timed out".into()
    } else if e.is_connect() {
        "the connection failed".into()
    } else {
        "the request failed".into()
    }
}

/// Whether Gatehouse may fetch from `ip`: only public unicast addresses (CIMD §6.5; MCP security
/// best practices §SSRF Mitigation).
pub fn is_public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            // NAT64 well-known prefix 64:ff9b::/96 embeds an IPv4 address.
            if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
                let v4 = Ipv4Addr::new(
                    (s[6] >> 8) as u8,
                    (s[6] & 0xff) as u8,
                    (s[7] >> 8) as u8,
                    (s[7] & 0xff) as u8,
                );
                return is_public_v4(v4);
            }
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (s[0] & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x2001 && s[1] < 0x0200) // IETF protocol assignments incl. Teredo
                || (s[0] == 0x2002) // 6to4 can embed private IPv4
                || s[0..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible (deprecated) and ::/96
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16, including the 169.254.169.254 metadata address
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space / CGNAT
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_passes_the_url_check() {
        let public = Outbound::public(1024);
        let local = Outbound::for_upstream("http://127.0.0.1:9/mcp", 1024);
        assert!(local.allow_loopback, "a loopback MCP URL allows loopback");
        assert!(
            !Outbound::for_upstream("https://mcp.example.com/mcp", 1024).allow_loopback,
            "a public MCP URL does not"
        );
        for bad in [
            "javascript:alert(1)",
            "file:///etc/passwd",
            "data:text/plain,x",
            "vbscript:x",
            "ftp://example.com/x",
        ] {
            assert!(public.check_url(bad).is_err(), "{bad} must be refused");
            assert!(local.check_url(bad).is_err(), "{bad} must be refused");
        }
        assert_eq!(
            public.check_url("http://127.0.0.1:1/x").unwrap_err(),
            OutboundError::NotHttps,
            "http to loopback needs a loopback upstream"
        );
        assert!(local.check_url("http://127.0.0.1:1/x").is_ok());
        assert_eq!(
            local.check_url("http://10.0.0.1/x").unwrap_err(),
            OutboundError::NotHttps,
            "http is for loopback only"
        );
        assert_eq!(
            public.check_url("https://u:p@example.com/x").unwrap_err(),
            OutboundError::Userinfo
        );
    }

    #[tokio::test]
    async fn forbidden_addresses_are_refused_before_any_connection() {
        let public = Outbound::public(1024);
        let local = Outbound::for_upstream("http://127.0.0.1:9/mcp", 1024);
        for url in [
            "https://169.254.169.254/latest/meta-data",
            "https://10.0.0.1/x",
            "https://192.168.1.1/x",
            "https://[fe80::1]/x",
            "https://[fd00::1]/x",
        ] {
            for policy in [public, local] {
                assert_eq!(
                    policy
                        .send(Method::GET, url, HeaderMap::new(), Body::Empty)
                        .await
                        .unwrap_err(),
                    OutboundError::ForbiddenAddress,
                    "{url} must never be fetched"
                );
            }
        }
        for url in ["https://localhost:6379/", "https://127.0.0.1:6379/"] {
            assert_eq!(
                public
                    .send(Method::GET, url, HeaderMap::new(), Body::Empty)
                    .await
                    .unwrap_err(),
                OutboundError::ForbiddenAddress,
                "{url}: loopback is refused for a public upstream"
            );
        }
    }

    #[test]
    fn address_classification() {
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(is_public_address(ip.parse().unwrap()), "{ip} is public");
        }
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fc00::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(
                !is_public_address(ip.parse().unwrap()),
                "{ip} is not public"
            );
        }
    }
}
