//! PKCE for the authorization server: S256 only.
//!
//! Implements:
//! - RFC 7636 §4.2 / OAuth 2.1 §4.1.1: `code_challenge` syntax, `code_challenge_method` (absent means
//!   `plain`).
//! - OAuth 2.1 §4.1.2.1: a missing challenge, `plain` (explicit or by default)
//!   or any other method is `invalid_request`.
//! - RFC 7636 §4.1 / §4.6, OAuth 2.1 §4.1.3: `code_verifier` syntax (43-128 characters of
//!   `[A-Za-z0-9-._~]`) and `BASE64URL-NOPAD(SHA256(ASCII(code_verifier))) == code_challenge`, compared in
//!   constant time.
//!
//! # Decisions
//! - An S256 challenge must be exactly 43 characters of the base64url alphabet that decode to 32 bytes.
//!   The general 43-128 `[A-Za-z0-9-._~]` rule is checked first (so the error for junk is the RFC's), then
//!   the S256 form: any other challenge can never equal a SHA-256 output, and refusing it at `/authorize`
//!   tells the client at once instead of failing its token request a minute later.
//! - `code_challenge_method` is compared case-sensitively (`S256`, RFC 7636 §4.3).
//! - At the token endpoint ([`check_verifier`]): a missing `code_verifier` is `invalid_request` ("missing a
//!   required parameter", OAuth 2.1 §3.2.4; some servers answer `invalid_grant` instead); a malformed or
//!   wrong one is `invalid_grant` (RFC 7636 §4.6).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::{ErrorCode, OAuthError};

/// Length of an S256 challenge: 32 bytes in unpadded base64url.
pub const S256_CHALLENGE_LEN: usize = 43;
pub const MIN_LEN: usize = 43;
pub const MAX_LEN: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PkceError {
    #[error("code_challenge is required")]
    MissingChallenge,
    #[error("code_challenge_method plain is not supported; use S256")]
    PlainNotAllowed,
    #[error("code_challenge_method is not supported; use S256")]
    UnsupportedMethod,
    #[error("code_challenge must be 43 base64url characters (an S256 hash)")]
    MalformedChallenge,
    #[error("code_verifier is required")]
    MissingVerifier,
    #[error("code_verifier does not match the code_challenge")]
    VerifierMismatch,
}

impl From<PkceError> for OAuthError {
    fn from(e: PkceError) -> Self {
        let code = match e {
            PkceError::VerifierMismatch => ErrorCode::InvalidGrant,
            _ => ErrorCode::InvalidRequest,
        };
        OAuthError::new(code).with_description(e.to_string())
    }
}

/// A validated S256 code challenge, as bound to an authorization code. Not secret (it is a hash), but it
/// must never appear in a response (OAuth 2.1 §4.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// Rebuilds a challenge read back from the store (it was validated when stored).
    pub fn from_stored(challenge: &str) -> Result<CodeChallenge, PkceError> {
        validate_challenge(Some(challenge), Some("S256"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Always `S256`: the only method accepted.
    pub fn method(&self) -> &'static str {
        "S256"
    }
}

/// Validates the `code_challenge` and `code_challenge_method` of an authorization request.
pub fn validate_challenge(
    challenge: Option<&str>,
    method: Option<&str>,
) -> Result<CodeChallenge, PkceError> {
    let challenge = challenge.ok_or(PkceError::MissingChallenge)?;
    match method {
        Some("S256") => {}
        None | Some("plain") => return Err(PkceError::PlainNotAllowed),
        Some(_) => return Err(PkceError::UnsupportedMethod),
    }
    if !is_pkce_string(challenge) || challenge.len() != S256_CHALLENGE_LEN {
        return Err(PkceError::MalformedChallenge);
    }
    match URL_SAFE_NO_PAD.decode(challenge) {
        Ok(digest) if digest.len() == 32 => Ok(CodeChallenge(challenge.to_owned())),
        _ => Err(PkceError::MalformedChallenge),
    }
}

/// Whether `verifier` is a well-formed code verifier whose S256 transform equals `challenge`.
pub fn verify(challenge: &CodeChallenge, verifier: &str) -> bool {
    if !is_pkce_string(verifier) {
        return false;
    }
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    computed.as_bytes().ct_eq(challenge.0.as_bytes()).into()
}

/// Token-endpoint check with the error choice of the module docs: missing → `invalid_request`,
/// malformed or wrong → `invalid_grant`.
pub fn check_verifier(challenge: &CodeChallenge, verifier: Option<&str>) -> Result<(), PkceError> {
    match verifier {
        None | Some("") => Err(PkceError::MissingVerifier),
        Some(verifier) if verify(challenge, verifier) => Ok(()),
        Some(_) => Err(PkceError::VerifierMismatch),
    }
}

/// RFC 7636 §4.1 / §4.2: 43-128 characters of `[A-Za-z0-9-._~]`.
fn is_pkce_string(s: &str) -> bool {
    (MIN_LEN..=MAX_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn rfc_challenge() -> CodeChallenge {
        match validate_challenge(Some(RFC_CHALLENGE), Some("S256")) {
            Ok(c) => c,
            Err(e) => panic!("the RFC 7636 Appendix B challenge is valid: {e}"),
        }
    }

    #[test]
    fn rfc7636_appendix_b_vector() {
        let challenge = rfc_challenge();
        assert!(
            verify(&challenge, RFC_VERIFIER),
            "RFC 7636 Appendix B: the verifier hashes to the challenge"
        );
        assert_eq!(
            check_verifier(&challenge, Some(RFC_VERIFIER)),
            Ok(()),
            "token-endpoint check agrees"
        );
        assert_eq!(
            challenge.as_str(),
            RFC_CHALLENGE,
            "the challenge is kept verbatim"
        );
        assert_eq!(challenge.method(), "S256", "only S256");
    }

    #[test]
    fn wrong_verifier_is_refused() {
        let challenge = rfc_challenge();
        let wrong = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj";
        assert!(
            !verify(&challenge, wrong),
            "one character off must not verify"
        );
        assert!(
            !verify(&challenge, RFC_CHALLENGE),
            "the challenge itself is not its verifier"
        );
        let e = check_verifier(&challenge, Some(wrong));
        assert_eq!(e, Err(PkceError::VerifierMismatch), "wrong verifier");
        assert_eq!(
            OAuthError::from(PkceError::VerifierMismatch).error(),
            ErrorCode::InvalidGrant,
            "RFC 7636 §4.6"
        );
    }

    #[test]
    fn missing_verifier_is_invalid_request() {
        let challenge = rfc_challenge();
        assert_eq!(
            check_verifier(&challenge, None),
            Err(PkceError::MissingVerifier),
            "absent"
        );
        assert_eq!(
            check_verifier(&challenge, Some("")),
            Err(PkceError::MissingVerifier),
            "empty form field"
        );
        assert_eq!(
            OAuthError::from(PkceError::MissingVerifier).error(),
            ErrorCode::InvalidRequest,
            "a missing verifier is invalid_request, the documented choice"
        );
    }

    #[test]
    fn verifier_syntax_is_enforced() {
        let challenge = rfc_challenge();
        assert!(!verify(&challenge, "short"), "under 43 characters");
        assert!(!verify(&challenge, &"a".repeat(129)), "over 128 characters");
        assert!(
            !verify(&challenge, "dBjftJeZ4CVP+mB92K27uhbUJU1p1r/wW1gFWFOEjXk"),
            "+ and / are not unreserved"
        );
        let long_ok = "a".repeat(128);
        let long_challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(long_ok.as_bytes()));
        let Ok(c) = validate_challenge(Some(&long_challenge), Some("S256")) else {
            panic!("any SHA-256 output is a valid S256 challenge");
        };
        assert!(
            verify(&c, &long_ok),
            "a 128-character verifier is allowed (RFC 7636 §4.1)"
        );
        let dotted = "a.b~c-d_e".repeat(5);
        let dotted_challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(dotted.as_bytes()));
        let Ok(c) = validate_challenge(Some(&dotted_challenge), Some("S256")) else {
            panic!("any SHA-256 output is a valid S256 challenge");
        };
        assert!(
            verify(&c, &dotted),
            "all four unreserved punctuation characters are allowed in a verifier"
        );
    }

    #[test]
    fn missing_challenge_is_refused() {
        assert_eq!(
            validate_challenge(None, Some("S256")),
            Err(PkceError::MissingChallenge),
            "no code_challenge"
        );
        assert_eq!(
            validate_challenge(None, None),
            Err(PkceError::MissingChallenge),
            "no code_challenge"
        );
    }

    #[test]
    fn plain_is_refused_explicitly_and_by_default() {
        assert_eq!(
            validate_challenge(Some(RFC_CHALLENGE), Some("plain")),
            Err(PkceError::PlainNotAllowed),
            "an explicit plain method"
        );
        assert_eq!(
            validate_challenge(Some(RFC_CHALLENGE), None),
            Err(PkceError::PlainNotAllowed),
            "no method means plain (OAuth 2.1 §4.1.1)"
        );
        assert_eq!(
            validate_challenge(Some(RFC_CHALLENGE), Some("s256")),
            Err(PkceError::UnsupportedMethod),
            "method names are case-sensitive"
        );
        assert_eq!(
            validate_challenge(Some(RFC_CHALLENGE), Some("S512")),
            Err(PkceError::UnsupportedMethod),
            "unknown method"
        );
        for e in [
            PkceError::PlainNotAllowed,
            PkceError::UnsupportedMethod,
            PkceError::MissingChallenge,
        ] {
            assert_eq!(
                OAuthError::from(e).error(),
                ErrorCode::InvalidRequest,
                "OAuth 2.1 §4.1.2.1: invalid_request"
            );
        }
    }

    #[test]
    fn malformed_challenges_are_refused() {
        let cases = [
            (
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c",
                "42 characters",
            ),
            ("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM=", "padding"),
            (
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM",
                "+ is standard base64",
            ),
            (
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw/cM",
                "/ is standard base64",
            ),
            (
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cMA",
                "44 characters cannot be an S256 hash",
            ),
            (
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw.cM",
                ". is unreserved but not base64url",
            ),
            (
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN",
                "non-canonical trailing bits",
            ),
            ("", "empty"),
        ];
        for (challenge, why) in cases {
            assert_eq!(
                validate_challenge(Some(challenge), Some("S256")),
                Err(PkceError::MalformedChallenge),
                "{why}"
            );
        }
        assert_eq!(
            OAuthError::from(PkceError::MalformedChallenge).error(),
            ErrorCode::InvalidRequest,
            "an invalid parameter value is invalid_request"
        );
    }

    #[test]
    fn from_stored_round_trips() {
        assert_eq!(
            CodeChallenge::from_stored(RFC_CHALLENGE),
            Ok(rfc_challenge()),
            "stored form reloads"
        );
        assert!(
            CodeChallenge::from_stored("x").is_err(),
            "a corrupt stored value is not trusted"
        );
    }
}
