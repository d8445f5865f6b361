//! Opaque local tokens that role 1 issues: access and refresh tokens, authorization codes, CSRF
//! tokens and session ids.
//!
//! Each is 256 bits from the OS CSPRNG, base64url without padding (RFC 4648 §5), behind a prefix that
//! names its kind (`gh_at_…`), so a leaked value is recognisable in a secret scanner and garbage is
//! rejected before any store lookup. 256 bits is well past the 2^-128 guessing bound of RFC 6749
//! §10.10. Only the SHA-256 of a token ([`TokenHash`]) is stored, following the storage advice of
//! RFC 6749 §10.3–10.5, RFC 6819 §5.1.4.1.3 and the security considerations of OAuth 2.1 §7: a copy
//! of the database grants nothing.

use std::fmt;
use std::hash::{Hash, Hasher};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Random bytes in every token.
const ENTROPY_LEN: usize = 32;

/// Length of the base64url text after the prefix: ceil(32 * 8 / 6).
pub const TOKEN_BODY_LEN: usize = 43;

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    AccessToken,
    RefreshToken,
    AuthorizationCode,
    CsrfToken,
    SessionId,
}

impl TokenKind {
    pub const ALL: [Self; 5] = [
        Self::AccessToken,
        Self::RefreshToken,
        Self::AuthorizationCode,
        Self::CsrfToken,
        Self::SessionId,
    ];

    /// The text every token of this kind starts with. No prefix is a prefix of another.
    #[must_use]
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::AccessToken => "gh_at_",
            Self::RefreshToken => "gh_rt_",
            Self::AuthorizationCode => "gh_ac_",
            Self::CsrfToken => "gh_csrf_",
            Self::SessionId => "gh_sid_",
        }
    }
}

/// A new token of `kind`: its prefix followed by 256 random bits, base64url without padding.
#[must_use]
pub fn generate(kind: TokenKind) -> SecretString {
    let mut entropy = Zeroizing::new([0u8; ENTROPY_LEN]);
    OsRng.fill_bytes(entropy.as_mut());
    let prefix = kind.prefix();
    // Sized up front so the string never reallocates and leaves a copy behind.
    let mut token = String::with_capacity(prefix.len() + TOKEN_BODY_LEN);
    token.push_str(prefix);
    URL_SAFE_NO_PAD.encode_string(entropy.as_ref(), &mut token);
    SecretString::from(token)
}

/// The kind named by a token's prefix, if the rest has the shape of a token this module generates.
///
/// A cheap filter before any lookup: `Some` does not mean the token exists.
#[must_use]
pub fn kind_of(token: &str) -> Option<TokenKind> {
    TokenKind::ALL.into_iter().find(|kind| {
        token.strip_prefix(kind.prefix()).is_some_and(|body| {
            body.len() == TOKEN_BODY_LEN
                && body
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
    })
}

/// Compares two byte strings in time that depends only on their lengths.
#[must_use]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// SHA-256 of a token's full text (prefix included): what the store keeps instead of the token.
///
/// Not a secret, so `Debug` shows it in hex. Equality is constant-time.
#[derive(Clone, Copy)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    pub const LEN: usize = 32;

    #[must_use]
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    #[must_use]
    pub fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.0
    }

    /// Reads a hash back from a BLOB column; `None` unless it is exactly 32 bytes.
    #[must_use]
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }
}

impl PartialEq for TokenHash {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for TokenHash {}

impl Hash for TokenHash {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(")?;
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn generated_tokens_have_prefix_length_and_url_safe_body() {
        for kind in TokenKind::ALL {
            let token = generate(kind);
            let text = token.expose_secret();
            let body = text.strip_prefix(kind.prefix());
            assert!(
                body.is_some(),
                "{kind:?} token starts with {}",
                kind.prefix()
            );
            let body = body.unwrap_or_default();
            assert_eq!(
                body.len(),
                TOKEN_BODY_LEN,
                "256 bits are 43 base64 characters"
            );
            assert!(
                body.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "body is base64url without padding: {body}"
            );
            let decoded = URL_SAFE_NO_PAD.decode(body);
            assert_eq!(
                decoded.map(|d| d.len()),
                Ok(ENTROPY_LEN),
                "body decodes to 32 bytes"
            );
        }
    }

    #[test]
    fn prefixes_are_distinct_and_unambiguous() {
        for a in TokenKind::ALL {
            for b in TokenKind::ALL {
                if a != b {
                    assert!(
                        !a.prefix().starts_with(b.prefix()),
                        "{a:?}'s prefix must not start with {b:?}'s"
                    );
                }
            }
        }
    }

    #[test]
    fn a_thousand_tokens_are_distinct() {
        let tokens: HashSet<String> = (0..1000)
            .map(|_| generate(TokenKind::AccessToken).expose_secret().to_owned())
            .collect();
        assert_eq!(tokens.len(), 1000, "256-bit random tokens never collide");
    }

    #[test]
    fn hash_is_sha256_of_the_full_token() {
        // FIPS 180-2 appendix B.1 test vector.
        let abc = TokenHash::of("abc");
        let expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(
            format!("{abc:?}"),
            format!("TokenHash({expected})"),
            "TokenHash is plain SHA-256, shown in hex"
        );
        assert_eq!(
            TokenHash::from_slice(abc.as_bytes()),
            Some(abc),
            "a hash reads back from its bytes"
        );
        assert_eq!(
            TokenHash::from_slice(&abc.as_bytes()[..31]),
            None,
            "a BLOB of the wrong length is not a hash"
        );
        assert_ne!(
            TokenHash::of("abd"),
            abc,
            "different tokens hash differently"
        );
    }

    #[test]
    fn kind_of_reads_the_prefix_and_rejects_garbage() {
        for kind in TokenKind::ALL {
            let token = generate(kind);
            assert_eq!(
                kind_of(token.expose_secret()),
                Some(kind),
                "a generated token is recognised"
            );
        }
        let body = "A".repeat(TOKEN_BODY_LEN);
        for garbage in [
            String::new(),
            "gh_at_".to_owned(),
            format!("gh_xx_{body}"),
            format!("gh_at_{}", &body[1..]),
            format!("gh_at_{body}A"),
            format!("gh_at_{}=", &body[1..]),
            format!("gh_at_{}+", &body[1..]),
            format!("Bearer gh_at_{body}"),
        ] {
            assert_eq!(kind_of(&garbage), None, "{garbage:?} is not a token");
        }
    }

    #[test]
    fn constant_time_eq_compares_contents_and_lengths() {
        assert!(constant_time_eq(b"abc", b"abc"), "equal slices");
        assert!(!constant_time_eq(b"abc", b"abd"), "different content");
        assert!(!constant_time_eq(b"abc", b"abcd"), "different length");
        assert!(constant_time_eq(b"", b""), "two empty slices are equal");
    }

    #[test]
    fn token_debug_does_not_reveal_the_value() {
        let token = generate(TokenKind::RefreshToken);
        let debug = format!("{token:?}");
        assert!(
            !debug.contains(token.expose_secret()) && !debug.contains("gh_rt_"),
            "Debug of a token must not show it: {debug}"
        );
    }
}
