//! The app's deep-link callback `dev.gatehouse:/oauth/callback` (RFC 8252 §7.1: a private-use URI
//! scheme in reverse-DNS form of a domain Gatehouse controls, with a single slash after the colon).
//!
//! The operating system hands the whole URL to the app (as the argument of a second launch, which
//! tauri-plugin-single-instance forwards to the running instance). [`callback_query`] turns it into the
//! same [`CallbackQuery`] the loopback route gets, so both callbacks end in
//! [`super::UpstreamOAuth::complete_signin`] with its checks: the `state` is burned first, `iss` is
//! compared before the code goes anywhere (RFC 9207 §2.4), and `code` / `error` are read as RFC 6749
//! §4.1.2 / §4.1.2.1 define them.
//!
//! Anything else under the scheme is [`DeepLinkError::NotACallback`]; a callback whose query repeats
//! a parameter (RFC 6749 §3.1: parameters must not be included more than once) or is not a URL is
//! [`DeepLinkError::Malformed`]. Neither error carries any part of the URL: a link may hold an
//! authorization code and a `state`, which must not reach a log line.

use url::Url;

use super::CallbackQuery;

/// The private-use scheme registered for the app (tauri.conf.json `plugins.deep-link`).
pub const DEEP_LINK_SCHEME: &str = "dev.gatehouse";

/// The redirect URI of a sign-in whose callback is the app's deep link.
pub const DEEP_LINK_REDIRECT_URI: &str = "dev.gatehouse:/oauth/callback";

/// Why a `dev.gatehouse:` link is not completed as a sign-in. Messages never contain the link.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeepLinkError {
    /// Another scheme, or another path under `dev.gatehouse:`.
    #[error("the link is not Gatehouse's sign-in callback")]
    NotACallback,
    #[error("the sign-in callback link is malformed ({0})")]
    Malformed(&'static str),
}

/// Whether `url` is the deep-link sign-in callback (scheme and path; the query is not looked at).
pub fn is_callback(url: &str) -> bool {
    parse(url).is_ok()
}

fn parse(url: &str) -> Result<Url, DeepLinkError> {
    let parsed = Url::parse(url).map_err(|_| DeepLinkError::NotACallback)?;
    let expected = Url::parse(DEEP_LINK_REDIRECT_URI).map_err(|_| DeepLinkError::NotACallback)?;
    // `dev.gatehouse:/oauth/callback` has no authority; `dev.gatehouse:///oauth/callback` has an
    // empty one. Both name the same resource; a host would not.
    let host_empty = parsed.host_str().is_none_or(str::is_empty);
    if parsed.scheme() != expected.scheme()
        || !host_empty
        || parsed.path() != expected.path()
        || parsed.fragment().is_some()
    {
        return Err(DeepLinkError::NotACallback);
    }
    Ok(parsed)
}

/// The authorization response carried by a deep-link callback URL.
pub fn callback_query(url: &str) -> Result<CallbackQuery, DeepLinkError> {
    let parsed = parse(url)?;
    let mut query = CallbackQuery::default();
    for (name, value) in parsed.query_pairs() {
        let slot = match name.as_ref() {
            "code" => &mut query.code,
            "state" => &mut query.state,
            "iss" => &mut query.iss,
            "error" => &mut query.error,
            "error_description" => &mut query.error_description,
            // Unknown parameters are ignored (RFC 6749 §3.1).
            _ => continue,
        };
        if slot.is_some() {
            return Err(DeepLinkError::Malformed("a parameter is repeated"));
        }
        *slot = Some(value.into_owned());
    }
    if query.state.is_none() {
        return Err(DeepLinkError::Malformed("no state"));
    }
    Ok(query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callback_link_becomes_the_callback_query() {
        let q = callback_query(
            "dev.gatehouse:/oauth/callback?code=c%2B1&state=s1&iss=http%3A%2F%2F127.0.0.1%3A9",
        )
        .unwrap_or_else(|e| panic!("a well-formed callback must parse: {e}"));
        assert_eq!(q.code.as_deref(), Some("c+1"), "percent-decoded code");
        assert_eq!(q.state.as_deref(), Some("s1"));
        assert_eq!(q.iss.as_deref(), Some("http://127.0.0.1:9"), "decoded iss");
        let denied = callback_query("dev.gatehouse:///oauth/callback?error=access_denied&state=s")
            .unwrap_or_else(|e| panic!("an empty authority is the same callback: {e}"));
        assert_eq!(denied.error.as_deref(), Some("access_denied"));
        assert!(denied.code.is_none());
    }

    #[test]
    fn other_links_are_not_callbacks_and_errors_never_echo_the_link() {
        for url in [
            "dev.gatehouse:/settings?code=x&state=y",
            "dev.gatehouse://evil.example/oauth/callback?code=x&state=y",
            "dev.gatehouse:/oauth/callback/extra?state=y",
            "http://127.0.0.1/oauth/callback?state=y",
            "dev.gatehouse:/oauth/callback?state=y#frag",
            "not a url",
        ] {
            assert_eq!(
                callback_query(url).err(),
                Some(DeepLinkError::NotACallback),
                "{url} is not the sign-in callback"
            );
            assert!(!is_callback(url), "{url}");
        }
        let repeated =
            callback_query("dev.gatehouse:/oauth/callback?state=a&state=b&code=SECRETCODE");
        assert_eq!(
            repeated.as_ref().err(),
            Some(&DeepLinkError::Malformed("a parameter is repeated")),
            "RFC 6749 §3.1: a repeated parameter is refused"
        );
        let message = repeated.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            !message.contains("SECRETCODE"),
            "an error must not carry the code: {message}"
        );
        assert_eq!(
            callback_query("dev.gatehouse:/oauth/callback?code=x").err(),
            Some(DeepLinkError::Malformed("no state"))
        );
        assert!(is_callback(DEEP_LINK_REDIRECT_URI));
    }
}
