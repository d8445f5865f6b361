//! When the upstream wants a new sign-in (OAuth 2.1 §4.3; MCP 2026-07-28 authorization §Step-Up
//! Authorization Flow): a refused refresh or a repeated 401 marks the connection `reauth_required`
//! and drops its tokens; a 403 `insufficient_scope` records the challenged scopes for the next
//! sign-in (step-up, with a cap on attempts that add nothing new).

use super::{SIGN_IN_AGAIN, UpstreamError, UpstreamOAuth};
use crate::store::ConnectionId;
use crate::store::audit::{self, AuditKind, AuditSubject};
use crate::store::connections::{self, ConnectionStatus};
use crate::store::upstream_credentials;
use crate::store::upstream_step_up;

use super::flow::status_event;

impl UpstreamOAuth {
    /// Marks the connection `reauth_required` ("Sign in again") and drops its tokens.
    pub(crate) async fn require_reauth(
        &self,
        id: &ConnectionId,
        why: &str,
    ) -> Result<(), UpstreamError> {
        let id2 = id.clone();
        let now = self.vault.store().now();
        let why = why.to_owned();
        self.vault
            .store()
            .write_with_events(move |tx| {
                if let Some(mut c) = upstream_credentials::get(tx, &id2)? {
                    c.access_token_sealed = None;
                    c.refresh_token_sealed = None;
                    c.expires_at = None;
                    upstream_credentials::put(tx, &c, now)?;
                }
                connections::set_status(
                    tx,
                    &id2,
                    ConnectionStatus::ReauthRequired,
                    Some(SIGN_IN_AGAIN),
                    now,
                )?;
                audit::append(
                    tx,
                    now,
                    AuditKind::UpstreamReauthRequired,
                    &AuditSubject {
                        connection_id: Some(&id2),
                        reason: Some(&why),
                        ..AuditSubject::default()
                    },
                )?;
                Ok((
                    (),
                    vec![status_event(&id2, ConnectionStatus::ReauthRequired)],
                ))
            })
            .await?;
        self.tokens().forget(id);
        Ok(())
    }
}

/// `base` then every scope of `extra` not already in it; `None` when both are empty.
pub(super) fn union_scopes(base: Option<&str>, extra: Option<&str>) -> Option<String> {
    let mut all: Vec<&str> = Vec::new();
    for s in base
        .into_iter()
        .chain(extra)
        .flat_map(str::split_whitespace)
    {
        if !all.contains(&s) {
            all.push(s);
        }
    }
    (!all.is_empty()).then(|| all.join(" "))
}

impl UpstreamOAuth {
    /// Records a 403 `insufficient_scope` challenge (MCP 2026-07-28 authorization §Step-Up
    /// Authorization Flow): the scopes are requested at the next sign-in, and the message for the
    /// local client says so. After [`STEP_UP_ATTEMPTS`] challenges that add nothing new, the denial
    /// is treated as permanent.
    pub async fn step_up(
        &self,
        row_id: &ConnectionId,
        config_version: i64,
        challenged: &str,
        name: &str,
    ) -> String {
        let id = row_id.clone();
        let challenged_owned = challenged.to_owned();
        let now = self.vault.store().now();
        let recorded = self
            .vault
            .store()
            .write_with_events(move |tx| {
                let granted = upstream_credentials::get(tx, &id)?.and_then(|c| c.scopes);
                let state = upstream_step_up::record(
                    tx,
                    &id,
                    config_version,
                    &challenged_owned,
                    granted.as_deref(),
                    now,
                )?;
                connections::set_status(
                    tx,
                    &id,
                    ConnectionStatus::Connected,
                    Some("More permissions needed: Sign in again"),
                    now,
                )?;
                Ok((state, vec![status_event(&id, ConnectionStatus::Connected)]))
            })
            .await;
        match recorded {
            Ok(state) if state.attempts >= STEP_UP_ATTEMPTS => format!(
                "{name} keeps refusing this request even after signing in with more permissions ({}); \
                 ask its administrator for access",
                state.scopes
            ),
            Ok(_) => format!(
                "{name} needs more permissions for this request: open Gatehouse and sign in to {name} again"
            ),
            Err(err) => {
                tracing::warn!(error = %err, "cannot record the step-up scopes");
                format!("{name} refused this request for lack of permissions")
            }
        }
    }
}

/// How many step-up challenges for already-requested scopes before the denial counts as permanent.
pub const STEP_UP_ATTEMPTS: i64 = 3;
