//! `application/x-www-form-urlencoded` request bodies of `/token` and `/revoke` (RFC 6749 §3.2,
//! Appendix B; RFC 7009 §2.1).
//!
//! Everything wrong with the body itself is `invalid_request`, never a 500 or a panic: another content
//! type, a body over the size limit or unreadable, and a parameter sent twice (RFC 6749 §3.1/§3.2:
//! "parameters MUST NOT be included more than once"), except `resource`, which RFC 8707 §2 allows to
//! repeat (and [`super::resource::parse_resource_params`] then refuses as `invalid_target`). A parameter
//! sent with an empty value counts as absent (RFC 6749 §3.1).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use http::HeaderMap;
use http::header::CONTENT_TYPE;
use url::form_urlencoded;
use zeroize::Zeroizing;

use super::error::{ErrorCode, OAuthError};

/// Parameters that may appear more than once.
const REPEATABLE: &[&str] = &["resource"];

/// A parsed form. Values may be secrets (codes, verifiers, tokens) and are zeroized on drop.
pub struct Form {
    pairs: Vec<(String, Zeroizing<String>)>,
}

impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.pairs.iter().map(|(name, _)| name))
            .finish()
    }
}

impl Form {
    /// Parses a request body; see the module docs for what is refused.
    pub fn parse(
        headers: &HeaderMap,
        body: Result<Bytes, BytesRejection>,
    ) -> Result<Form, OAuthError> {
        let is_form = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                mime.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(OAuthError::described(
                ErrorCode::InvalidRequest,
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        let body = body.map_err(|rejection| {
            tracing::info!(error = %rejection, "form body refused");
            OAuthError::described(
                ErrorCode::InvalidRequest,
                "the body is too large or could not be read",
            )
        })?;
        let mut pairs: Vec<(String, Zeroizing<String>)> = Vec::new();
        for (name, value) in form_urlencoded::parse(&body) {
            if value.is_empty() {
                continue;
            }
            if !REPEATABLE.contains(&name.as_ref()) && pairs.iter().any(|(n, _)| *n == name) {
                return Err(OAuthError::described(
                    ErrorCode::InvalidRequest,
                    "a parameter was sent more than once",
                ));
            }
            pairs.push((name.into_owned(), Zeroizing::new(value.into_owned())));
        }
        Ok(Form { pairs })
    }

    /// The value of a parameter sent once, if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of a required parameter, or `invalid_request` naming it.
    pub fn required(&self, name: &'static str) -> Result<&str, OAuthError> {
        self.get(name).ok_or_else(|| {
            OAuthError::new(ErrorCode::InvalidRequest)
                .with_description(format!("the {name} parameter is required"))
        })
    }

    /// Every value of a repeatable parameter, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}
