//! The schema, as a constant list of migrations applied with `rusqlite_migration`.
//!
//! **A migration that has shipped is never edited.** Databases in the field recorded its number in
//! `PRAGMA user_version` and will never run it again; a change is always a new migration appended at
//! the end. The `validate()` test below runs the whole list on an empty database.
//!
//! Migrations run with `foreign_keys` off (SQLite cannot change it inside a transaction, and a table
//! rebuild with it on would cascade deletes), each followed by `PRAGMA foreign_key_check`, all in one
//! transaction: either the database reaches the latest version or it stays where it was.
//!
//! Conventions in the schema:
//! * Tables are `STRICT`, so a wrong type is an error, not a silent conversion.
//! * Ids are TEXT uuid v4 from Rust; times are INTEGER unix milliseconds from the injected clock.
//! * `*_sealed` BLOBs hold AES-GCM envelopes made by `crate::crypto`; `*_hash` BLOBs hold the 32-byte
//!   SHA-256 of a token. No plaintext secret has a column.
//! * Everything tied to a grant cascades on delete of the grant; the grant cascades on delete of its
//!   client or connection. Deleting is only done by retention and by the delete/forget paths, which
//!   revoke first (see `revocation`), so nothing disappears without an audit event.
//! * `audit_events` has no foreign keys on purpose: the history outlives what it talks about.

use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};

use super::StoreError;

const V1_SCHEMA: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
) STRICT;

CREATE TABLE connections (
    id                            TEXT PRIMARY KEY NOT NULL,
    slug                          TEXT NOT NULL UNIQUE,
    name                          TEXT NOT NULL,
    upstream_url                  TEXT NOT NULL,
    transport                     TEXT NOT NULL CHECK (transport IN ('streamable_http', 'sse', 'stdio')),
    auth_kind                     TEXT NOT NULL CHECK (auth_kind IN ('none', 'header', 'oauth')),
    header_name                   TEXT,
    header_value_sealed           BLOB,
    oauth_source                  TEXT CHECK (oauth_source IN ('discovered', 'template', 'manual')),
    oauth_issuer                  TEXT,
    oauth_authorization_endpoint  TEXT,
    oauth_token_endpoint          TEXT,
    oauth_registration_endpoint   TEXT,
    oauth_revocation_endpoint     TEXT,
    oauth_userinfo_endpoint       TEXT,
    oauth_client_id               TEXT,
    oauth_client_secret_sealed    BLOB,
    oauth_scopes                  TEXT,
    oauth_resource                TEXT,
    oauth_template                TEXT,
    enabled                       INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    config_version                INTEGER NOT NULL DEFAULT 1 CHECK (config_version >= 1),
    status                        TEXT NOT NULL DEFAULT 'needs_auth'
                                  CHECK (status IN ('needs_auth', 'connected', 'reauth_required', 'error')),
    status_detail                 TEXT,
    account_label                 TEXT,
    created_at                    INTEGER NOT NULL,
    updated_at                    INTEGER NOT NULL
) STRICT;

CREATE TABLE upstream_credentials (
    connection_id           TEXT PRIMARY KEY NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    access_token_sealed     BLOB,
    refresh_token_sealed    BLOB,
    expires_at              INTEGER,
    scopes                  TEXT,
    issuer                  TEXT,
    token_type              TEXT,
    dcr_client_json_sealed  BLOB,
    updated_at              INTEGER NOT NULL
) STRICT;

CREATE TABLE clients (
    client_id                   TEXT PRIMARY KEY NOT NULL,
    client_name                 TEXT,
    client_uri                  TEXT,
    software_id                 TEXT,
    software_version            TEXT,
    scope                       TEXT,
    grant_types                 TEXT NOT NULL,
    response_types              TEXT NOT NULL,
    token_endpoint_auth_method  TEXT NOT NULL,
    application_type            TEXT,
    registration_source         TEXT NOT NULL CHECK (registration_source IN ('dcr', 'cimd', 'preregistered')),
    metadata_json               TEXT NOT NULL DEFAULT '{}',
    created_at                  INTEGER NOT NULL,
    updated_at                  INTEGER NOT NULL
) STRICT;

-- Redirect URIs are kept one per row, in registration order, so `/authorize` matches with an index
-- lookup and a re-registration can be compared set-wise.
CREATE TABLE client_redirect_uris (
    client_id     TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    redirect_uri  TEXT NOT NULL,
    PRIMARY KEY (client_id, position),
    UNIQUE (client_id, redirect_uri)
) STRICT, WITHOUT ROWID;

CREATE TABLE grants (
    id              TEXT PRIMARY KEY NOT NULL,
    client_id       TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    connection_id   TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    redirect_uri    TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    tools_json      TEXT,
    config_version  INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'active', 'revoked')),
    revoked_reason  TEXT,
    revoked_at      INTEGER,
    created_at      INTEGER NOT NULL,
    activated_at    INTEGER,
    last_used_at    INTEGER,
    CHECK ((status = 'revoked') = (revoked_at IS NOT NULL AND revoked_reason IS NOT NULL)),
    CHECK ((status = 'active') <= (activated_at IS NOT NULL))
) STRICT;
-- At most one active grant per binding; revoked and pending ones do not count.
CREATE UNIQUE INDEX grants_one_active_binding
    ON grants (client_id, connection_id, redirect_uri) WHERE status = 'active';
CREATE INDEX grants_by_connection ON grants (connection_id, status);
CREATE INDEX grants_by_client ON grants (client_id, status);
CREATE INDEX grants_revoked_at ON grants (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX grants_pending_created_at ON grants (created_at) WHERE status = 'pending';

CREATE TABLE authorization_requests (
    id              TEXT PRIMARY KEY NOT NULL,
    grant_id        TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    client_id       TEXT NOT NULL,
    connection_id   TEXT NOT NULL,
    redirect_uri    TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    state           TEXT,
    code_challenge  TEXT NOT NULL,
    resource        TEXT NOT NULL,
    csrf_hash       BLOB NOT NULL CHECK (length(csrf_hash) = 32),
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'approved', 'denied', 'expired', 'revoked'))
) STRICT;
CREATE INDEX authorization_requests_by_grant ON authorization_requests (grant_id, status);
CREATE INDEX authorization_requests_expires_at ON authorization_requests (expires_at);

CREATE TABLE authorization_codes (
    code_hash       BLOB PRIMARY KEY NOT NULL CHECK (length(code_hash) = 32),
    grant_id        TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    client_id       TEXT NOT NULL,
    redirect_uri    TEXT NOT NULL,
    code_challenge  TEXT NOT NULL,
    resource        TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER,
    revoked_at      INTEGER
) STRICT, WITHOUT ROWID;
CREATE INDEX authorization_codes_by_grant ON authorization_codes (grant_id);
CREATE INDEX authorization_codes_expires_at ON authorization_codes (expires_at);
CREATE INDEX authorization_codes_revoked_at ON authorization_codes (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE access_tokens (
    token_hash  BLOB PRIMARY KEY NOT NULL CHECK (length(token_hash) = 32),
    grant_id    TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    client_id   TEXT NOT NULL,
    resource    TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER
) STRICT, WITHOUT ROWID;
CREATE INDEX access_tokens_by_grant ON access_tokens (grant_id);
CREATE INDEX access_tokens_expires_at ON access_tokens (expires_at);
CREATE INDEX access_tokens_revoked_at ON access_tokens (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE refresh_tokens (
    token_hash   BLOB PRIMARY KEY NOT NULL CHECK (length(token_hash) = 32),
    grant_id     TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    family_id    TEXT NOT NULL,
    parent_hash  BLOB CHECK (parent_hash IS NULL OR length(parent_hash) = 32),
    client_id    TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER,
    revoked_at   INTEGER
) STRICT, WITHOUT ROWID;
CREATE INDEX refresh_tokens_by_grant ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);
CREATE INDEX refresh_tokens_revoked_at ON refresh_tokens (revoked_at) WHERE revoked_at IS NOT NULL;

-- What happened, to what, and why. Never a secret: no token, code, credential or ciphertext is
-- written here, only ids, kinds, reasons and counts.
CREATE TABLE audit_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    at             INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    grant_id       TEXT,
    client_id      TEXT,
    connection_id  TEXT,
    reason         TEXT,
    detail_json    TEXT
) STRICT;
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_by_grant ON audit_events (grant_id) WHERE grant_id IS NOT NULL;
"#;

/// v2 (role 2, upstream sign-in): pending upstream sign-ins, kept in the store so that one process
/// (the CLI) can start a sign-in that another (the running gateway's callback) completes; and the
/// grant type a connection uses upstream.
///
/// `upstream_signins` holds only the SHA-256 of `state`; the PKCE verifier is sealed (AAD
/// `upstream_signins/verifier_sealed/<hex state_hash>`). A row is burned (`used_at`) before the code
/// exchange, so a second delivery of the same callback finds nothing to do; `outcome` tells a
/// waiting CLI how it ended.
const V2_UPSTREAM_SIGNINS: &str = r#"
CREATE TABLE upstream_signins (
    state_hash       BLOB PRIMARY KEY NOT NULL,
    connection_id    TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    config_version   INTEGER NOT NULL,
    verifier_sealed  BLOB NOT NULL,
    issuer           TEXT NOT NULL,
    iss_supported    INTEGER NOT NULL CHECK (iss_supported IN (0, 1)),
    client_id        TEXT NOT NULL,
    token_endpoint   TEXT NOT NULL,
    redirect_uri     TEXT NOT NULL,
    resource         TEXT NOT NULL,
    scopes           TEXT,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    used_at          INTEGER,
    outcome          TEXT CHECK (outcome IN ('connected', 'failed')),
    outcome_detail   TEXT
) STRICT;
CREATE INDEX upstream_signins_by_connection ON upstream_signins (connection_id);

ALTER TABLE connections ADD COLUMN oauth_grant TEXT
    CHECK (oauth_grant IN ('authorization_code', 'client_credentials'));
"#;

/// v3 (role 2, step-up): scopes an upstream asked for in a 403 `insufficient_scope` challenge, to be
/// requested (as a union with the usual ones) at the next sign-in; `attempts` caps the re-prompting.
/// Bound to the connection's `config_version`, so a material change makes them moot.
const V3_UPSTREAM_STEP_UP: &str = r#"
CREATE TABLE upstream_step_up (
    connection_id   TEXT PRIMARY KEY NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    config_version  INTEGER NOT NULL,
    scopes          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    updated_at      INTEGER NOT NULL
) STRICT;
"#;

const V4_ACCOUNT_NAME: &str = r#"
-- The account the user names for a connection whose upstream says nothing about who signed in
-- (no id_token, no userinfo). `account_label` stays what the upstream said.
ALTER TABLE connections ADD COLUMN account_name TEXT;
"#;

const V5_LEGACY_DISCOVERY: &str = r#"
-- The per-connection opt-in to the 2025-03-26 discovery fallback for upstreams that publish no
-- protected resource metadata (MCP 2025-03-26 authorization §2.3.3): AS metadata at the MCP URL's
-- origin, else the default /authorize, /token and /register endpoints there.
ALTER TABLE connections ADD COLUMN oauth_legacy_discovery INTEGER NOT NULL DEFAULT 0
    CHECK (oauth_legacy_discovery IN (0, 1));
"#;

const V6_CALLER_BINDING: &str = r#"
-- Consent only a person at this desktop can give. The SHA-256 of the secret the consent page's
-- browser holds in an HttpOnly, SameSite=Strict cookie (required on the review and the decision).
ALTER TABLE authorization_requests ADD COLUMN browser_hash BLOB
    CHECK (browser_hash IS NULL OR length(browser_hash) = 32);
-- The process the OS saw behind a client: the one that registered it (DCR), the one that asked
-- (copied onto the request), and the one that redeemed the grant's code.
ALTER TABLE clients ADD COLUMN registered_by_pid INTEGER;
ALTER TABLE clients ADD COLUMN registered_by_exe TEXT;
ALTER TABLE authorization_requests ADD COLUMN caller_pid INTEGER;
ALTER TABLE authorization_requests ADD COLUMN caller_exe TEXT;
ALTER TABLE grants ADD COLUMN caller_pid INTEGER;
ALTER TABLE grants ADD COLUMN caller_exe TEXT;
-- One pending request per client and connection: a new /authorize replaces the old one.
CREATE INDEX authorization_requests_pending ON authorization_requests (client_id, connection_id)
    WHERE status = 'pending';
"#;

const V7_LAST_ACCOUNT: &str = r#"
-- The upstream account a connection last acted as, kept through a sign-out: a later sign-in as
-- someone else revokes the grants that were approved while it acted as that account.
ALTER TABLE connections ADD COLUMN last_account_label TEXT;
"#;

const V8_STDIO_COMMAND: &str = r#"
-- A connection whose upstream is a local command speaking MCP over stdio: the program, its
-- arguments, working directory and environment variable names as JSON; the variables' values sealed
-- (AES-GCM, bound to the row) like the other upstream secrets.
ALTER TABLE connections ADD COLUMN stdio_command TEXT;
ALTER TABLE connections ADD COLUMN stdio_env_sealed BLOB;
"#;

const V9_BRIDGE_CREDENTIALS: &str = r#"
-- The stdio bridge's own authorization with this gateway, one row per bridge identity (the
-- connection slug it serves): its client id, its tokens sealed (AES-GCM, bound to the row), and
-- the lease of the one copy allowed to sign in or refresh at a time.
CREATE TABLE bridge_credentials (
    identity        TEXT PRIMARY KEY NOT NULL,
    client_id       TEXT,
    tokens_sealed   BLOB,
    lease_holder    TEXT,
    lease_until     INTEGER,
    updated_at      INTEGER NOT NULL
) STRICT;
"#;

/// Every migration, oldest first. Append only.
const MIGRATION_LIST: &[M<'static>] = &[
    M::up(V1_SCHEMA)
        .comment("v1: connections, credentials, clients, grants and their artefacts, audit, meta")
        .foreign_key_check(),
    M::up(V2_UPSTREAM_SIGNINS)
        .comment("v2: pending upstream sign-ins; connections.oauth_grant")
        .foreign_key_check(),
    M::up(V3_UPSTREAM_STEP_UP)
        .comment("v3: upstream step-up scopes")
        .foreign_key_check(),
    M::up(V4_ACCOUNT_NAME)
        .comment("v4: connections.account_name, the user-named account")
        .foreign_key_check(),
    M::up(V5_LEGACY_DISCOVERY)
        .comment("v5: connections.oauth_legacy_discovery, the 2025-03-26 discovery fallback opt-in")
        .foreign_key_check(),
    M::up(V6_CALLER_BINDING)
        .comment("v6: consent bound to the browser (cookie hash) and the caller's process")
        .foreign_key_check(),
    M::up(V7_LAST_ACCOUNT)
        .comment("v7: connections.last_account_label, kept through sign-out")
        .foreign_key_check(),
    M::up(V8_STDIO_COMMAND).comment("v8: connections to local stdio commands"),
    M::up(V9_BRIDGE_CREDENTIALS).comment("v9: the stdio bridge's sealed tokens and sign-in lease"),
];

/// The migration set.
pub const MIGRATIONS: Migrations<'static> = Migrations::from_slice(MIGRATION_LIST);

/// Brings `conn` to the latest schema version in one transaction. Leaves `foreign_keys` on.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.pragma_update(None, "foreign_keys", false)?;
    let migrated = MIGRATIONS.to_latest(conn);
    conn.pragma_update(None, "foreign_keys", true)?;
    migrated?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_validate() {
        MIGRATIONS
            .validate()
            .expect("the migration list must apply cleanly to an empty database");
    }

    #[test]
    fn migrating_twice_is_a_no_op() {
        let mut conn = Connection::open_in_memory().expect("in-memory sqlite must open");
        migrate(&mut conn).expect("first migration must succeed");
        migrate(&mut conn).expect("re-running on an up-to-date database must succeed");
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("user_version is always readable");
        assert_eq!(
            version,
            i64::try_from(MIGRATION_LIST.len()).expect("a handful of migrations fits in i64"),
            "user_version must record the number of applied migrations"
        );
    }
}
