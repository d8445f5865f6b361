//! The Activity view: the audit log, newest first, each event told in one sentence with the names of
//! the client and connection it concerns (looked up now; an id stands in once a row is gone).
//! Like the audit log itself it never carries a secret: ids, kinds, reasons and names only.

use std::collections::HashMap;

use serde::Serialize;
use ts_rs::TS;

use super::AdminError;
use crate::clock::UnixMillis;
use crate::store::audit::{self, AuditEvent, AuditKind};
use crate::store::{ClientId, ConnectionId, clients, connections};
use crate::vault::Vault;

/// Most events one call returns.
pub const MAX_ACTIVITY: u32 = 1000;

/// One audit event for the Activity view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ActivityView {
    #[ts(type = "number")]
    pub id: i64,
    #[ts(type = "number")]
    pub at: UnixMillis,
    #[ts(
        type = "\"connection.created\" | \"connection.updated\" | \"connection.deleted\" | \"client.registered\" | \"client.updated\" | \"client.forgotten\" | \"grant.created\" | \"grant.activated\" | \"grant.revoked\" | \"retention.purged\" | \"upstream.signed_in\" | \"upstream.reauth_required\" | \"upstream.signed_out\" | \"caller.refused\" | \"diagnostic.write\""
    )]
    pub kind: String,
    pub grant_id: Option<String>,
    pub client_id: Option<String>,
    pub connection_id: Option<String>,
    pub reason: Option<String>,
    /// What happened, in one sentence for a person.
    pub summary: String,
}

/// The newest `limit` events (at most [`MAX_ACTIVITY`]), newest first.
pub fn list_activity(vault: &Vault, limit: u32) -> Result<Vec<ActivityView>, AdminError> {
    let limit = limit.clamp(1, MAX_ACTIVITY);
    vault
        .store()
        .read_blocking(move |conn| {
            let events = audit::list_recent(conn, limit)?;
            let mut client_names: HashMap<ClientId, String> = HashMap::new();
            let mut connection_names: HashMap<ConnectionId, String> = HashMap::new();
            let mut views = Vec::with_capacity(events.len());
            for event in events {
                let client = match &event.client_id {
                    Some(id) => {
                        if !client_names.contains_key(id) {
                            let name = clients::get(conn, id)?
                                .and_then(|c| c.registration.client_name)
                                .map_or_else(
                                    || format!("client {id}"),
                                    |n| format!("\u{201c}{n}\u{201d}"),
                                );
                            client_names.insert(id.clone(), name);
                        }
                        client_names.get(id).cloned()
                    }
                    None => None,
                };
                let connection = match &event.connection_id {
                    Some(id) => {
                        if !connection_names.contains_key(id) {
                            let name = connections::get(conn, id)?
                                .map_or_else(|| format!("connection {id}"), |c| c.name);
                            connection_names.insert(id.clone(), name);
                        }
                        connection_names.get(id).cloned()
                    }
                    None => None,
                };
                views.push(view(&event, client.as_deref(), connection.as_deref()));
            }
            Ok(views)
        })
        .map_err(AdminError::from)
}

fn view(event: &AuditEvent, client: Option<&str>, connection: Option<&str>) -> ActivityView {
    ActivityView {
        id: event.id,
        at: event.at,
        kind: event.kind.as_str().to_owned(),
        grant_id: event.grant_id.as_ref().map(ToString::to_string),
        client_id: event.client_id.as_ref().map(ToString::to_string),
        connection_id: event.connection_id.as_ref().map(ToString::to_string),
        reason: event.reason.clone(),
        summary: summary(event, client, connection),
    }
}

fn summary(event: &AuditEvent, client: Option<&str>, connection: Option<&str>) -> String {
    let client = client.unwrap_or("A client");
    let connection = connection.unwrap_or("a connection");
    let because = event
        .reason
        .as_deref()
        .map(|r| format!(" ({})", r.replace('_', " ")))
        .unwrap_or_default();
    match event.kind {
        AuditKind::ConnectionCreated => format!("Connection {connection} was added."),
        AuditKind::ConnectionUpdated => format!("Connection {connection} was changed{because}."),
        AuditKind::ConnectionDeleted => format!("Connection {connection} was removed."),
        AuditKind::ClientRegistered => format!("{client} registered."),
        AuditKind::CallerRefused => {
            let who = event
                .detail
                .as_ref()
                .and_then(|d| d.get("caller"))
                .and_then(|c| c.as_str())
                .unwrap_or("another OS account");
            format!("A request from {who} was refused.")
        }
        AuditKind::ClientUpdated => format!("{client} updated its registration."),
        AuditKind::ClientForgotten => format!("{client} was forgotten."),
        AuditKind::GrantCreated => format!("{client} asked to use {connection}."),
        AuditKind::GrantActivated => format!("{client} was authorized to use {connection}."),
        AuditKind::GrantRevoked => {
            format!("{client} lost access to {connection}{because}.")
        }
        AuditKind::RetentionPurged => {
            let removed = event.detail.as_ref().and_then(|d| d.as_object()).map(|d| {
                d.iter()
                    .filter(|(k, _)| k.as_str() != "cutoff")
                    .filter_map(|(_, v)| v.as_u64())
                    .sum::<u64>()
            });
            match removed {
                Some(n) => format!("Cleanup removed {n} expired or revoked records."),
                None => "Cleanup removed expired or revoked records.".to_owned(),
            }
        }
        AuditKind::UpstreamSignedIn => format!("Gatehouse signed in to {connection}."),
        AuditKind::UpstreamSignedOut => format!("Gatehouse signed out of {connection}{because}."),
        AuditKind::UpstreamReauthRequired => {
            format!("{connection} needs you to sign in again{because}.")
        }
        AuditKind::DiagnosticWrite => "A diagnostic write was recorded.".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_typescript_kind_names_every_audit_kind() {
        let declared = <ActivityView as TS>::decl(&ts_rs::Config::new());
        for kind in AuditKind::ALL {
            assert!(
                declared.contains(&format!("\"{}\"", kind.as_str())),
                "ActivityView.kind's TypeScript type must list {} (the window receives it)",
                kind.as_str()
            );
        }
    }
}
