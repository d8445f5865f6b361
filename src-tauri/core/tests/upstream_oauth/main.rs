//! Role 2 against real in-process servers on 127.0.0.1:0, not mocked traits: an upstream MCP server
//! that answers 401 with a `resource_metadata` challenge and serves its PRM, and an authorization
//! server with metadata, /register, /authorize (auto-approving), /token (PKCE check, refresh
//! rotation), /revoke and /userinfo. Gatehouse runs as the real gateway on a real socket.
//!
//! Covered: discovery (the challenged PRM URL, else the path-inserted then the root well-known,
//! RFC 9728 §3.1 and §5.1; a PRM naming another resource is set aside, RFC 9728 §3.3; the AS
//! `issuer` must match, RFC 8414 §3.3; no S256 advertised, no sign-in), registration (DCR as a
//! native app; a new authorization server means a new registration), the authorization request
//! (PKCE S256, `state`, the RFC 8707 `resource`, the challenged scope or else the PRM's; only an
//! https or loopback authorization endpoint is opened), the callback (`state` checked and used
//! once, `iss` checked per RFC 9207), the code exchange, the upstream token on every upstream
//! request and never the Gatehouse one, SSRF refusals and no redirect followed, and sign-out
//! revoking at the AS (RFC 7009); plus invalid_grant → reauth_required → sign in again, the
//! 50-concurrent single-flight refresh, and no token value in the database, the WAL or a DTO.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_core::oauth::upstream::flow::RevokeResult;
use gatehouse_core::oauth::upstream::{CallbackQuery, UpstreamError, UpstreamOAuth};
use gatehouse_core::store::connections::{self, ConnectionStatus};
use gatehouse_core::store::{ClientId, upstream_credentials};
use gatehouse_testkit::signin::*;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------- tests

mod accounts;
mod consent;
mod discovery;
mod signin;
mod signout;
mod tokens;
