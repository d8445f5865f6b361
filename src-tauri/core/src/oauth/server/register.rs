//! `POST /register`: RFC 7591 Dynamic Client Registration for public clients.
//!
//! - The body is capped at [`MAX_REGISTRATION_BODY`] before any parsing; a larger one is **413** with an
//!   `invalid_client_metadata` body. A body that is not JSON is 400
//!   `invalid_client_metadata`; the content type is not checked, the bytes must simply be JSON (the
//!   gateway's Origin guard already keeps foreign web pages out).
//! - Validation is [`validate_registration`]: public clients only (`token_endpoint_auth_method` forced
//!   to `none`, no secret issued), unsupported scopes dropped, odd redirect URIs dropped as long as one
//!   usable URI remains.
//! - **Every POST creates a new client.** RFC 7591 has no update through `/register` (updates are RFC
//!   7592, which Gatehouse does not offer), so a client that registers again simply gets a new
//!   `client_id`; its old registration and grants stay until the user removes them or retention expires
//!   them. The shrink-revokes rule of the store applies to CIMD and pre-registered updates, where the
//!   `client_id` stays the same.
//! - **Rate limit**: at most [`REGISTRATIONS_PER_MINUTE`] registrations (successful or not) per
//!   *source* — the executable the OS shows behind the socket (`net::caller`), else its pid — as a
//!   token bucket on the store's clock; beyond it, 429 with `Retry-After`. One flooding program uses up
//!   its own bucket, not the one of the real clients.
//! - The registering process (pid, executable) is stored with the client: the consent page shows it
//!   beside the self-reported name.
//! - 201 with `client_id`, `client_id_issued_at` and the effective metadata (RFC 7591 §3.2.1).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::RETRY_AFTER;
use serde_json::Value;

use super::client_metadata::{MAX_REGISTRATION_BODY, ValidatedClient, validate_registration};
use super::error::{ErrorCode, OAuthError, no_store_headers};
use super::policy::SUPPORTED_SCOPES;
use super::redirect_uri::RedirectUri;
use super::routes::AuthorizationServer;
use crate::clock::{MINUTE, SECOND, UnixMillis};
use crate::net::caller::{Peer, PeerProcess};
use crate::store::ClientId;
use crate::store::authorization_requests::CallerProcess;
use crate::store::clients::{ClientRegistration, RegistrationSource};

/// Registrations allowed per minute per gateway process (also the burst size).
pub const REGISTRATIONS_PER_MINUTE: i64 = 30;

/// How many registration sources keep their own bucket; beyond it, idle (full) buckets are dropped
/// and, if none is idle, the newest source shares the "other" bucket.
pub const MAX_REGISTRATION_SOURCES: usize = 256;

/// The rate-limit key of a registration: the executable the OS saw (so one flooding program cannot
/// use up the registrations of real clients), else the process, else one shared key.
pub fn registration_source_key(process: Option<&PeerProcess>) -> String {
    match process {
        Some(PeerProcess { exe: Some(exe), .. }) => format!("exe:{exe}"),
        Some(PeerProcess { pid, exe: None }) => format!("pid:{pid}"),
        None => String::from("unidentified"),
    }
}

/// One [`RegistrationLimiter`] per registration source (see [`registration_source_key`]).
#[derive(Debug, Default)]
pub struct RegistrationLimits {
    by_source: std::collections::HashMap<String, RegistrationLimiter>,
}

impl RegistrationLimits {
    /// Takes one registration for `source` at `now`, or says after how many seconds one will be
    /// available to it.
    pub fn try_take(&mut self, source: &str, now: UnixMillis) -> Result<(), u64> {
        if !self.by_source.contains_key(source) && self.by_source.len() >= MAX_REGISTRATION_SOURCES
        {
            self.by_source.retain(|_, limiter| !limiter.is_full_at(now));
        }
        let key = if self.by_source.contains_key(source)
            || self.by_source.len() < MAX_REGISTRATION_SOURCES
        {
            source
        } else {
            "other"
        };
        self.by_source
            .entry(key.to_owned())
            .or_default()
            .try_take(now)
    }
}

/// A token bucket of [`REGISTRATIONS_PER_MINUTE`], refilled continuously.
#[derive(Debug)]
pub struct RegistrationLimiter {
    /// Available registrations, in thousandths (so refill needs no floating point).
    milli_tokens: i64,
    last: Option<UnixMillis>,
}

impl Default for RegistrationLimiter {
    fn default() -> Self {
        Self {
            milli_tokens: REGISTRATIONS_PER_MINUTE * 1000,
            last: None,
        }
    }
}

impl RegistrationLimiter {
    const CAPACITY: i64 = REGISTRATIONS_PER_MINUTE * 1000;

    /// Whether the bucket will have refilled completely by `now` (nothing to remember).
    fn is_full_at(&self, now: UnixMillis) -> bool {
        let elapsed = self.last.map_or(MINUTE, |last| (now - last).max(0));
        self.milli_tokens + elapsed.saturating_mul(REGISTRATIONS_PER_MINUTE * 1000) / MINUTE
            >= Self::CAPACITY
    }

    /// Takes one registration at `now`, or says after how many whole seconds one will be available.
    pub fn try_take(&mut self, now: UnixMillis) -> Result<(), u64> {
        let elapsed = self.last.map_or(0, |last| (now - last).max(0));
        self.last = Some(now);
        // Per millisecond, REGISTRATIONS_PER_MINUTE * 1000 / MINUTE milli-tokens come back.
        let refill = elapsed.saturating_mul(REGISTRATIONS_PER_MINUTE * 1000) / MINUTE;
        self.milli_tokens = (self.milli_tokens.saturating_add(refill)).min(Self::CAPACITY);
        if self.milli_tokens >= 1000 {
            self.milli_tokens -= 1000;
            return Ok(());
        }
        let missing = 1000 - self.milli_tokens;
        let wait_ms = missing * MINUTE / (REGISTRATIONS_PER_MINUTE * 1000);
        let wait_secs = (wait_ms + SECOND - 1) / SECOND;
        Err(u64::try_from(wait_secs.max(1)).unwrap_or(1))
    }
}

/// `POST /register`.
pub async fn register(
    State(server): State<AuthorizationServer>,
    peer: Peer,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let registrant = peer.process().await;
    let source = registration_source_key(registrant.as_ref());
    let limited = {
        let mut limits = server
            .registrations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        limits.try_take(&source, server.store.now())
    };
    if let Err(retry_after) = limited {
        tracing::warn!(%source, "client registration refused: rate limit");
        return too_many_registrations(retry_after);
    }

    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let mut response = OAuthError::described(
                ErrorCode::InvalidClientMetadata,
                "the registration body is larger than 16 KiB",
            )
            .into_response();
            *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            return response;
        }
        Err(rejection) => {
            tracing::info!(error = %rejection, "client registration: unreadable body");
            return OAuthError::described(
                ErrorCode::InvalidClientMetadata,
                "the registration body could not be read",
            )
            .into_response();
        }
    };
    debug_assert!(body.len() <= MAX_REGISTRATION_BODY, "the body limit layer");
    let Ok(json) = serde_json::from_slice::<Value>(&body) else {
        return OAuthError::described(
            ErrorCode::InvalidClientMetadata,
            "the registration body must be a JSON object",
        )
        .into_response();
    };
    let client = match validate_registration(&json, SUPPORTED_SCOPES) {
        Ok(client) => client,
        Err(e) => {
            tracing::info!(error = %e, "client registration refused");
            return e.into_response();
        }
    };

    let metadata = client.metadata_json();
    let registration = registration_for(
        ClientId::generate(),
        &client,
        RegistrationSource::Dcr,
        metadata,
    );
    let issued_at = server.store.now();
    let stored = {
        let registration = registration.clone();
        server
            .store
            .write(move |tx| {
                crate::store::clients::upsert(tx, &registration, issued_at)?;
                if let Some(process) = &registrant {
                    crate::store::clients::set_registrant(
                        tx,
                        &registration.client_id,
                        &CallerProcess {
                            pid: process.pid,
                            exe: process.exe.clone(),
                        },
                    )?;
                }
                Ok(())
            })
            .await
    };
    if let Err(e) = stored {
        tracing::error!(error = %e, "client registration: store write failed");
        return OAuthError::new(ErrorCode::ServerError).into_response();
    }
    tracing::info!(
        client_id = %registration.client_id,
        client_name = ?client.client_name,
        rejected_redirect_uris = client.rejected_redirect_uris.len(),
        dropped_scopes = ?client.dropped_scopes,
        requested_auth_method = ?client.requested_token_endpoint_auth_method,
        "client registered (dcr)"
    );

    let mut body = client.metadata_json();
    if let Value::Object(map) = &mut body {
        map.insert(
            "client_id".into(),
            Value::String(registration.client_id.to_string()),
        );
        map.insert(
            "client_id_issued_at".into(),
            Value::from(issued_at.div_euclid(SECOND)),
        );
    }
    (StatusCode::CREATED, no_store_headers(), Json(body)).into_response()
}

/// The store's form of a validated registration, whether it came from DCR or a CIMD document.
pub fn registration_for(
    client_id: ClientId,
    client: &ValidatedClient,
    registration_source: RegistrationSource,
    metadata: serde_json::Value,
) -> ClientRegistration {
    ClientRegistration {
        client_id,
        client_name: client.client_name.clone(),
        client_uri: client.client_uri.clone(),
        software_id: client.software_id.clone(),
        software_version: client.software_version.clone(),
        redirect_uris: client
            .redirect_uris
            .iter()
            .map(RedirectUri::as_str)
            .map(str::to_owned)
            .collect(),
        scope: (!client.scopes.is_empty()).then(|| client.scopes.join(" ")),
        grant_types: client
            .grant_types
            .iter()
            .map(|g| g.as_str().to_owned())
            .collect(),
        response_types: client
            .response_types
            .iter()
            .map(|r| r.as_str().to_owned())
            .collect(),
        token_endpoint_auth_method: client.token_endpoint_auth_method().to_owned(),
        application_type: client.application_type.map(|t| t.as_str().to_owned()),
        registration_source,
        metadata,
    }
}

fn too_many_registrations(retry_after_secs: u64) -> Response {
    #[derive(serde::Serialize)]
    struct Body {
        error: &'static str,
        error_description: &'static str,
    }
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        no_store_headers(),
        Json(Body {
            error: "too_many_requests",
            error_description: "too many client registrations; try again later",
        }),
    )
        .into_response();
    response
        .headers_mut()
        .insert(RETRY_AFTER, http::HeaderValue::from(retry_after_secs));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_a_burst_then_refills() {
        let mut limiter = RegistrationLimiter::default();
        let t0 = 1_000_000;
        for i in 0..REGISTRATIONS_PER_MINUTE {
            assert_eq!(
                limiter.try_take(t0),
                Ok(()),
                "registration {i} is within the burst"
            );
        }
        assert_eq!(limiter.try_take(t0), Err(2), "one comes back every 2 s");
        assert_eq!(
            limiter.try_take(t0 + 2 * SECOND),
            Ok(()),
            "refilled after 2 s"
        );
        assert!(limiter.try_take(t0 + 2 * SECOND).is_err(), "and only one");
        assert_eq!(
            limiter.try_take(t0 + 10 * MINUTE),
            Ok(()),
            "a quiet period refills the bucket"
        );
    }
}
