//! The HTTP under rmcp's streamable HTTP transport: Gatehouse's own [`StreamableHttpClient`].
//!
//! rmcp decides what to send and when (the lifecycle, ids, sessions, protocol-version headers) and
//! reads the JSON-RPC messages; this client only carries them, with what Gatehouse must keep: the
//! caller's redirect-free `reqwest` client ([`super::super::upstream_client`]), the connection's
//! credential injected by [`Upstream::request`] (a sealed header of any name, or the upstream OAuth
//! bearer), a cap of [`MAX_RESPONSE`] bytes on every answer, JSON or SSE, and Gatehouse's own
//! error sentences. It opens no standalone GET stream: the tool list needs no server-initiated
//! messages, and the transport is set never to resume a broken stream.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use futures_util::stream::{BoxStream, StreamExt};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
};
use sse_stream::{Sse, SseStream};

use super::super::forward::{MCP_SESSION_ID, UPSTREAM_REJECTED};
use super::super::upstream::Upstream;
use super::MAX_RESPONSE;

pub(super) const UNREACHABLE: &str = "Gatehouse could not reach the upstream MCP server";
pub(super) const TOO_LARGE: &str = "the upstream's response is too large";
pub(super) const BROKE_OFF: &str = "the upstream's response broke off";
pub(super) const INVALID_JSON: &str = "the upstream sent invalid JSON";

/// What went wrong on the wire, in the words the consent page shows.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct Failure(String);

/// The first failure any request of one conversation met. rmcp wraps a transport error in its own
/// types on its way to the caller (and a broken SSE answer only closes the stream); the catalog
/// reads the sentence from here instead.
pub(super) type FirstFailure = Arc<OnceLock<String>>;

type Error = StreamableHttpError<Failure>;

#[derive(Clone)]
pub(super) struct CatalogHttp {
    http: reqwest::Client,
    upstream: Arc<Upstream>,
    /// `Authorization: Bearer …` for an OAuth connection (marked sensitive).
    bearer: Option<HeaderValue>,
    failure: FirstFailure,
}

impl CatalogHttp {
    pub(super) fn new(
        http: reqwest::Client,
        upstream: Upstream,
        bearer: Option<HeaderValue>,
        failure: FirstFailure,
    ) -> Self {
        Self {
            http,
            upstream: Arc::new(upstream),
            bearer,
            failure,
        }
    }

    fn fail(&self, message: impl Into<String>) -> Error {
        fail(&self.failure, message)
    }

    /// rmcp's headers for this request (`mcp-protocol-version`), the session, the bearer; the
    /// connection's own credential is added last by [`Upstream::request`].
    fn headers(
        &self,
        protocol: HashMap<HeaderName, HeaderValue>,
        session: Option<&str>,
    ) -> Result<HeaderMap, Error> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json, text/event-stream"),
        );
        headers.extend(protocol);
        if let Some(session) = session {
            let value = HeaderValue::from_str(session).map_err(|_| {
                self.fail("the upstream's session id is not a valid HTTP header value")
            })?;
            headers.insert(MCP_SESSION_ID, value);
        }
        if let Some(bearer) = &self.bearer {
            headers.insert(header::AUTHORIZATION, bearer.clone());
        }
        Ok(headers)
    }

    /// The whole body, at most [`MAX_RESPONSE`] bytes.
    async fn body(&self, response: reqwest::Response) -> Result<Vec<u8>, Error> {
        if response
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE as u64)
        {
            return Err(self.fail(TOO_LARGE));
        }
        let mut stream = response.bytes_stream();
        let mut body = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| self.fail(BROKE_OFF))?;
            if body.len() + chunk.len() > MAX_RESPONSE {
                return Err(self.fail(TOO_LARGE));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

fn fail(failure: &FirstFailure, message: impl Into<String>) -> Error {
    StreamableHttpError::Client(record(failure, message))
}

fn record(failure: &FirstFailure, message: impl Into<String>) -> Failure {
    let message = message.into();
    // Only the first failure is kept: later ones follow from it.
    let _ = failure.set(message.clone());
    Failure(message)
}

fn status_failure(status: StatusCode) -> String {
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        UPSTREAM_REJECTED.to_owned()
    } else {
        // A redirect lands here too: the client does not follow it, and neither does the catalog.
        format!("the upstream MCP server answered HTTP {}", status.as_u16())
    }
}

fn is_sse(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("text/event-stream"))
}

/// An SSE answer as rmcp reads it, cut off with [`TOO_LARGE`] past [`MAX_RESPONSE`] bytes in all.
fn capped_events(
    response: reqwest::Response,
    failure: FirstFailure,
) -> BoxStream<'static, Result<Sse, SseError>> {
    let bytes = response.bytes_stream().scan(0usize, move |read, chunk| {
        let item = match chunk {
            Ok(chunk) if *read + chunk.len() <= MAX_RESPONSE => {
                *read += chunk.len();
                Some(Ok(chunk))
            }
            Ok(_) => Some(Err(record(&failure, TOO_LARGE))),
            Err(_) => Some(Err(record(&failure, BROKE_OFF))),
        };
        std::future::ready(item)
    });
    // The stream ends after its first error.
    let bytes = bytes.scan(false, |failed, item| {
        let item = (!*failed).then(|| {
            *failed = item.is_err();
            item
        });
        std::future::ready(item)
    });
    SseStream::from_bytes_stream(bytes).boxed()
}

impl StreamableHttpClient for CatalogHttp {
    type Error = Failure;

    async fn post_message(
        &self,
        _uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, Error> {
        let mut headers = self.headers(custom_headers, session_id.as_deref())?;
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let response = self
            .upstream
            .request(&self.http, Method::POST, headers)
            .json(&message)
            .send()
            .await
            .map_err(|_| self.fail(UNREACHABLE))?;
        let status = response.status();
        if !status.is_success() {
            return Err(self.fail(status_failure(status)));
        }
        // A notification needs no answer: any 2xx will do (the spec says 202).
        if status == StatusCode::ACCEPTED
            || status == StatusCode::NO_CONTENT
            || !matches!(message, ClientJsonRpcMessage::Request(_))
        {
            return Ok(StreamableHttpPostResponse::Accepted);
        }
        let session = response
            .headers()
            .get(MCP_SESSION_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if is_sse(&response) {
            let events = capped_events(response, self.failure.clone());
            return Ok(StreamableHttpPostResponse::Sse(events, session));
        }
        let body = self.body(response).await?;
        let answer: ServerJsonRpcMessage =
            serde_json::from_slice(&body).map_err(|_| self.fail(INVALID_JSON))?;
        Ok(StreamableHttpPostResponse::Json(answer, session))
    }

    async fn delete_session(
        &self,
        _uri: Arc<str>,
        session_id: Arc<str>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), Error> {
        let headers = self.headers(custom_headers, Some(&session_id))?;
        // Best effort, and never the conversation's failure: the upstream may answer 405 (it
        // keeps sessions until they expire).
        self.upstream
            .request(&self.http, Method::DELETE, headers)
            .send()
            .await
            .map(drop)
            .map_err(|_| StreamableHttpError::Client(Failure(UNREACHABLE.to_owned())))
    }

    async fn get_stream(
        &self,
        _uri: Arc<str>,
        _session_id: Option<Arc<str>>,
        _last_event_id: Option<String>,
        _auth_header: Option<String>,
        _custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, Error> {
        Err(StreamableHttpError::ServerDoesNotSupportSse)
    }
}
