//! Newtype ids, so a grant id can never be passed where a connection id is expected.
//!
//! Row ids are uuid v4 strings generated in Rust *before* the insert: the crypto envelope binds each
//! ciphertext to its row id as associated data, so the id must exist before the ciphertext does.
//! [`ClientId`] is different: it is the OAuth `client_id`, which may be an https URL (CIMD) or an id
//! we minted at registration, so it is any non-empty string.

use rusqlite::types::{FromSql, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh random (v4) id.
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                Self(uuid::Uuid::new_v4().to_string())
            }

            /// Parses an id received from outside (IPC, a form, the CLI); only canonical uuids pass.
            pub fn parse(text: &str) -> Option<Self> {
                let parsed = uuid::Uuid::try_parse(text).ok()?;
                Some(Self(parsed.hyphenated().to_string()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::Borrowed(ValueRef::Text(self.0.as_bytes())))
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                String::column_result(value).map(Self)
            }
        }
    };
}

uuid_id!(
    /// A [`connections`](super::connections) row: one upstream MCP server.
    ConnectionId
);
uuid_id!(
    /// A [`grants`](super::grants) row: one client's authorization on one connection.
    GrantId
);
uuid_id!(
    /// An [`authorization_requests`](super::authorization_requests) row: a consent in progress.
    AuthorizationRequestId
);
uuid_id!(
    /// The family a chain of rotated refresh tokens belongs to.
    RefreshFamilyId
);

/// The OAuth `client_id` of a local MCP client (a minted id, or an https URL for CIMD clients).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct ClientId(String);

impl ClientId {
    /// Wraps a client id; `None` for an empty string, which is never a valid `client_id`.
    pub fn new(id: impl Into<String>) -> Option<Self> {
        let id = id.into();
        (!id.is_empty()).then_some(Self(id))
    }

    /// A fresh random client id for a dynamic registration (RFC 7591).
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ClientId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl ToSql for ClientId {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(ValueRef::Text(self.0.as_bytes())))
    }
}

impl FromSql for ClientId {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        String::column_result(value).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_only_uuids_and_canonicalises_them() {
        let id = GrantId::new();
        assert_eq!(
            GrantId::parse(id.as_str()),
            Some(id.clone()),
            "a generated id must parse back"
        );
        let upper = id.as_str().to_uppercase();
        assert_eq!(
            GrantId::parse(&upper),
            Some(id),
            "upper-case input must map to the stored form"
        );
        assert_eq!(
            GrantId::parse("not-a-uuid"),
            None,
            "junk must not become an id"
        );
        assert_eq!(ClientId::new(""), None, "an empty client_id is never valid");
    }
}
