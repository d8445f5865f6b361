//! The upstream token steps, through the `oauth2` crate: the authorization code exchange with
//! PKCE (RFC 6749 §4.1.3, RFC 7636 §4.5), refresh (RFC 6749 §6), client credentials (RFC 6749
//! §4.4), each with the RFC 8707 `resource`, and token revocation (RFC 7009 §2.1). Client
//! authentication is `client_secret_basic` or `client_secret_post` for confidential clients and
//! `client_id` in the body for public ones (RFC 6749 §2.3.1).
//!
//! The crate builds the requests and reads the answers; the HTTP goes through Gatehouse's own
//! [`Outbound`] (the connection's destination rules, no redirects, a size cap), handed to the crate
//! as its async HTTP client. Two things are looser than the crate alone, because real
//! authorization servers do them: any 2xx answer counts as success (the crate wants exactly 200;
//! RFC 7009 servers answer 204 too), and a token answer whose `Content-Type` is not JSON but whose
//! body is JSON is read as JSON. Gatehouse's own [`TokenAnswer`] type also takes a missing
//! `token_type` as Bearer and an `expires_in` sent as a string, and keeps the OpenID `id_token`.
//!
//! The crate refuses a revocation endpoint that is not https (RFC 7009 §2 asks for TLS). An
//! authorization server on this computer's loopback (local development, the MCP conformance
//! suite's) has none, and what it is sent never leaves the computer (RFC 8252 §8.3), so such an
//! endpoint is handed to the crate as https and the request goes out on http to the same loopback
//! address; the outbound rules still decide whether that loopback address may be reached at all.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use http::header::{CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, StatusCode};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
};
use oauth2::{
    AccessToken, AuthType, AuthorizationCode, ClientId, ClientSecret, EndpointNotSet, EndpointSet,
    ErrorResponse, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, RevocationUrl,
    Scope, StandardRevocableToken, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::registration::{ClientAuth, OAuthClient};
use super::{TokenFailure, TokenResponse, UpstreamError, oauth_error_text};
use crate::net::outbound::{Body, Outbound, OutboundError, is_loopback_host};

/// Which grant a token request makes.
pub(crate) enum Grant<'a> {
    /// RFC 6749 §4.1.3 with the PKCE verifier (RFC 7636 §4.5).
    AuthorizationCode {
        code: &'a str,
        redirect_uri: &'a str,
        verifier: &'a str,
        resource: &'a str,
    },
    /// RFC 6749 §6.
    RefreshToken {
        refresh_token: &'a str,
        resource: &'a str,
    },
    /// RFC 6749 §4.4.
    ClientCredentials {
        scope: Option<&'a str>,
        resource: &'a str,
    },
}

/// The kind of token in an answer (RFC 6749 §7.1); Gatehouse uses Bearer tokens only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct TokenKind(String);

impl oauth2::TokenType for TokenKind {}

impl Default for TokenKind {
    /// A missing `token_type` (seen on real servers) is read as Bearer.
    fn default() -> Self {
        Self("Bearer".to_owned())
    }
}

/// A token endpoint's successful answer (RFC 6749 §5.1, plus the OpenID `id_token`).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct TokenAnswer {
    access_token: AccessToken,
    #[serde(default)]
    token_type: TokenKind,
    /// A number, or a string holding one (both seen); anything else is ignored.
    #[serde(default)]
    expires_in: Option<Value>,
    #[serde(default)]
    refresh_token: Option<RefreshToken>,
    #[serde(
        default,
        rename = "scope",
        deserialize_with = "oauth2::helpers::deserialize_space_delimited_vec",
        serialize_with = "oauth2::helpers::serialize_space_delimited_vec",
        skip_serializing_if = "Option::is_none"
    )]
    scopes: Option<Vec<Scope>>,
    #[serde(default)]
    id_token: Option<String>,
}

impl TokenAnswer {
    fn expires_in_secs(&self) -> Option<i64> {
        match self.expires_in.as_ref()? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

impl oauth2::TokenResponse for TokenAnswer {
    type TokenType = TokenKind;

    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }
    fn token_type(&self) -> &TokenKind {
        &self.token_type
    }
    fn expires_in(&self) -> Option<Duration> {
        self.expires_in_secs()
            .and_then(|s| u64::try_from(s).ok())
            .map(Duration::from_secs)
    }
    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }
    fn scopes(&self) -> Option<&Vec<Scope>> {
        self.scopes.as_ref()
    }
}

type Client<HasRevocationUrl, HasTokenUrl> = oauth2::Client<
    BasicErrorResponse,
    TokenAnswer,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    HasRevocationUrl,
    HasTokenUrl,
>;

fn client_of(client: &OAuthClient) -> Client<EndpointNotSet, EndpointNotSet> {
    let base = oauth2::Client::new(ClientId::new(client.client_id.clone()));
    let base = match &client.client_secret {
        Some(secret) => {
            base.set_client_secret(ClientSecret::new(secret.expose_secret().to_owned()))
        }
        None => base,
    };
    // With no secret the crate sends `client_id` in the body whatever the type says.
    base.set_auth_type(match client.auth {
        ClientAuth::ClientSecretBasic => AuthType::BasicAuth,
        ClientAuth::ClientSecretPost | ClientAuth::None => AuthType::RequestBody,
    })
}

fn bad_endpoint(what: &'static str) -> TokenFailure {
    TokenFailure::Other(UpstreamError::Config(format!("the {what} is not a URL")))
}

/// The crate's HTTP client: one request through `policy`, remembering the answer's status (the
/// crate's error for a non-JSON refusal does not carry it).
struct Http<'p> {
    policy: &'p Outbound,
    status: Mutex<Option<StatusCode>>,
    /// Send an `https://` request on `http://` (a loopback revocation endpoint; module doc).
    loopback_http: bool,
}

impl<'c> oauth2::AsyncHttpClient<'c> for Http<'_> {
    type Error = OutboundError;
    type Future = std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<oauth2::HttpResponse, OutboundError>>
                + Send
                + 'c,
        >,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

impl Http<'_> {
    async fn send(
        &self,
        request: oauth2::HttpRequest,
    ) -> Result<oauth2::HttpResponse, OutboundError> {
        let (parts, body) = request.into_parts();
        let headers: HeaderMap = parts.headers;
        let mut url = parts.uri.to_string();
        if self.loopback_http
            && let Some(rest) = url.strip_prefix("https://")
        {
            url = format!("http://{rest}");
        }
        let fetched = self
            .policy
            .send(parts.method, &url, headers, Body::Bytes(&body))
            .await?;
        *self.status.lock().unwrap_or_else(PoisonError::into_inner) = Some(fetched.status);
        let json = serde_json::from_slice::<Value>(&fetched.body).is_ok();
        let mut response = http::Response::new(fetched.body);
        *response.status_mut() = if fetched.status.is_success() {
            StatusCode::OK
        } else {
            fetched.status
        };
        *response.headers_mut() = fetched.headers;
        if json {
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        Ok(response)
    }

    fn status(&self) -> StatusCode {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .unwrap_or(StatusCode::BAD_GATEWAY)
    }
}

/// Why a request through the crate failed, as Gatehouse tells it.
fn failure<T: ErrorResponse + Serialize + 'static>(
    error: RequestTokenError<OutboundError, T>,
    status: StatusCode,
    what: &'static str,
) -> TokenFailure {
    match error {
        RequestTokenError::ServerResponse(refusal) => {
            let body = serde_json::to_value(&refusal).unwrap_or(Value::Null);
            TokenFailure::Refused {
                error: body
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                text: oauth_error_text(&body, status),
            }
        }
        RequestTokenError::Request(source) => {
            TokenFailure::Other(UpstreamError::Outbound { what, source })
        }
        RequestTokenError::Parse(..) if !status.is_success() => TokenFailure::Refused {
            error: String::new(),
            text: oauth_error_text(&Value::Null, status),
        },
        RequestTokenError::Parse(..) | RequestTokenError::Other(_) => TokenFailure::Refused {
            error: "invalid_response".into(),
            text: "the token response is not a valid OAuth token response".into(),
        },
    }
}

/// Makes a token request at `endpoint` and checks the answer: an access token, and a Bearer one.
pub(crate) async fn token_request(
    policy: &Outbound,
    endpoint: &str,
    client: &OAuthClient,
    grant: Grant<'_>,
) -> Result<TokenResponse, TokenFailure> {
    let token_url =
        TokenUrl::new(endpoint.to_owned()).map_err(|_| bad_endpoint("token endpoint"))?;
    let oauth = client_of(client).set_token_uri(token_url);
    let http = Http {
        policy,
        status: Mutex::default(),
        loopback_http: false,
    };
    let what = "calling the token endpoint";
    let answer = match grant {
        Grant::AuthorizationCode {
            code,
            redirect_uri,
            verifier,
            resource,
        } => {
            let redirect = RedirectUrl::new(redirect_uri.to_owned())
                .map_err(|_| bad_endpoint("redirect URI"))?;
            oauth
                .exchange_code(AuthorizationCode::new(code.to_owned()))
                .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
                .set_redirect_uri(std::borrow::Cow::Owned(redirect))
                .add_extra_param("resource", resource)
                .request_async(&http)
                .await
        }
        Grant::RefreshToken {
            refresh_token,
            resource,
        } => {
            oauth
                .exchange_refresh_token(&RefreshToken::new(refresh_token.to_owned()))
                .add_extra_param("resource", resource)
                .request_async(&http)
                .await
        }
        Grant::ClientCredentials { scope, resource } => {
            oauth
                .exchange_client_credentials()
                .add_scopes(
                    scope
                        .unwrap_or_default()
                        .split_ascii_whitespace()
                        .map(|s| Scope::new(s.to_owned())),
                )
                .add_extra_param("resource", resource)
                .request_async(&http)
                .await
        }
    }
    .map_err(|e| failure(e, http.status(), what))?;
    if answer.access_token.secret().is_empty() {
        return Err(TokenFailure::Refused {
            error: "invalid_response".into(),
            text: "the token response has no access_token".into(),
        });
    }
    if !answer.token_type.0.eq_ignore_ascii_case("bearer") {
        return Err(TokenFailure::Refused {
            error: "invalid_response".into(),
            text: "the token response is not a Bearer token".into(),
        });
    }
    Ok(TokenResponse {
        expires_in: answer.expires_in_secs(),
        access_token: SecretString::from(answer.access_token.secret().clone()),
        refresh_token: answer
            .refresh_token
            .as_ref()
            .map(|r| r.secret())
            .filter(|r| !r.is_empty())
            .map(|r| SecretString::from(r.clone())),
        scope: answer.scopes.as_ref().map(|scopes| {
            scopes
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        }),
        token_type: "Bearer".into(),
        id_token: answer.id_token,
    })
}

/// Which token a revocation names (RFC 7009 §2.1 `token_type_hint`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum RevokedKind {
    AccessToken,
    RefreshToken,
}

/// Revokes `token` at `endpoint` (RFC 7009 §2.1); whether the server said it did.
pub(crate) async fn revoke(
    policy: &Outbound,
    endpoint: &str,
    client: &OAuthClient,
    token: &str,
    kind: RevokedKind,
) -> bool {
    let loopback_http = is_loopback_http(endpoint);
    let endpoint = match endpoint.strip_prefix("http://") {
        Some(rest) if loopback_http => format!("https://{rest}"),
        _ => endpoint.to_owned(),
    };
    let Ok(url) = RevocationUrl::new(endpoint) else {
        return false;
    };
    let token = match kind {
        RevokedKind::AccessToken => {
            StandardRevocableToken::AccessToken(AccessToken::new(token.to_owned()))
        }
        RevokedKind::RefreshToken => {
            StandardRevocableToken::RefreshToken(RefreshToken::new(token.to_owned()))
        }
    };
    let oauth: Client<EndpointSet, EndpointNotSet> = client_of(client).set_revocation_url(url);
    let http = Http {
        policy,
        status: Mutex::default(),
        loopback_http,
    };
    match oauth.revoke_token(token) {
        Ok(request) => request.request_async(&http).await.is_ok(),
        Err(_) => false,
    }
}

/// `http://` on a loopback host (`localhost`, `127.0.0.0/8`, `[::1]`).
fn is_loopback_http(endpoint: &str) -> bool {
    url::Url::parse(endpoint).is_ok_and(|url| url.scheme() == "http" && is_loopback_host(&url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_answers_are_read_as_real_servers_send_them() {
        let answer: TokenAnswer = serde_json::from_str(
            r#"{"access_token":"at","expires_in":"3600","scope":"a b","id_token":"x.y.z"}"#,
        )
        .expect("a missing token_type and a string expires_in are accepted");
        assert_eq!(answer.token_type, TokenKind::default());
        assert_eq!(answer.expires_in_secs(), Some(3600));
        assert_eq!(
            answer.scopes.as_ref().map(Vec::len),
            Some(2),
            "the scope is space-delimited (RFC 6749 §3.3)"
        );
        let odd: TokenAnswer = serde_json::from_str(
            r#"{"access_token":"at","token_type":"bearer","expires_in":true}"#,
        )
        .expect("an unreadable expires_in is ignored, not fatal");
        assert_eq!(odd.expires_in_secs(), None);
        assert!(serde_json::from_str::<TokenAnswer>(r#"{"token_type":"Bearer"}"#).is_err());
    }

    #[test]
    fn only_loopback_http_endpoints_are_sent_without_tls() {
        for yes in [
            "http://127.0.0.1:9000/revoke",
            "http://localhost/revoke",
            "http://[::1]:8080/r",
        ] {
            assert!(is_loopback_http(yes), "{yes}");
        }
        for no in [
            "https://127.0.0.1/revoke",
            "http://as.example/revoke",
            "http://10.0.0.1/revoke",
            "not a url",
        ] {
            assert!(!is_loopback_http(no), "{no}");
        }
    }
}
