/**
 * The fake backend's sample data: the fixed "now" they are dated from, and the gateway status,
 * connections, clients, grants, pending consent requests, activity, OAuth templates and settings
 * that a fresh fake starts with (see `sampleState` in ./state).
 */
import type { ActivityView } from "../bindings/ActivityView";
import type { ClientView } from "../bindings/ClientView";
import type { ConnectionView } from "../bindings/ConnectionView";
import type { GatewayStatus } from "../bindings/GatewayStatus";
import type { PendingRequestView } from "../bindings/PendingRequestView";
import type { GrantView } from "../bindings/GrantView";
import type { OAuthTemplateView } from "../bindings/OAuthTemplateView";
import type { Settings } from "../bindings/Settings";

export const SAMPLE_GATEWAY_STATUS: GatewayStatus = {
  address: "127.0.0.1",
  port: 8707,
  data_dir: "/preview/gatehouse",
  key_source: { kind: "Fixed", detail: "fixed preview key (not secret)" },
  version: "0.0.0-preview",
};

/** A fixed "now" for the samples, so dates in tests do not drift: 2026-03-02T10:00:00Z. */
export const SAMPLE_NOW = Date.UTC(2026, 2, 2, 10, 0, 0);
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

export const localUrl = (slug: string) => `http://127.0.0.1:${SAMPLE_GATEWAY_STATUS.port}/mcp/${slug}`;

/** A connection as the backend creates it: enabled, connected, version 1, no grants yet. */
export function newConnection(
  fields: Pick<ConnectionView, "slug" | "name" | "upstream_url"> & Partial<ConnectionView>,
): ConnectionView {
  const now = Date.now();
  return {
    id: `conn_${fields.slug}`,
    local_url: localUrl(fields.slug),
    transport: "streamable_http",
    auth_kind: "none",
    header_name: null,
    enabled: true,
    status: "connected",
    status_detail: null,
    account_label: null,
    oauth: null,
    config_version: 1,
    authorized_clients: 0,
    grants_account: null,
    created_at: now,
    updated_at: now,
    ...fields,
  };
}

export const SAMPLE_CONNECTIONS: ConnectionView[] = [
  {
    id: "conn_github",
    slug: "github",
    name: "GitHub",
    upstream_url: "https://api.githubcopilot.com/mcp/",
    local_url: localUrl("github"),
    transport: "streamable_http",
    auth_kind: "oauth",
    header_name: null,
    enabled: true,
    status: "connected",
    status_detail: null,
    account_label: "octocat",
    oauth: {
      source: "discovered",
      template: null,
      tenant: null,
      client_id: null,
      has_client_secret: false,
      grant: "authorization_code",
      issuer: null,
      authorization_endpoint: null,
      token_endpoint: null,
      scopes: null,
      legacy_discovery: false,
    },
    config_version: 1,
    authorized_clients: 2,
    grants_account: null,
    created_at: SAMPLE_NOW - 30 * DAY,
    updated_at: SAMPLE_NOW - 30 * DAY,
  },
  {
    id: "conn_linear",
    slug: "linear",
    name: "Linear",
    upstream_url: "https://mcp.linear.app/mcp",
    local_url: localUrl("linear"),
    transport: "streamable_http",
    auth_kind: "oauth",
    header_name: null,
    enabled: true,
    status: "reauth_required",
    status_detail: "The upstream refused the refresh token (invalid_grant).",
    account_label: "ada@example.com",
    oauth: {
      source: "discovered",
      template: null,
      tenant: null,
      client_id: null,
      has_client_secret: false,
      grant: "authorization_code",
      issuer: null,
      authorization_endpoint: null,
      token_endpoint: null,
      scopes: null,
      legacy_discovery: false,
    },
    config_version: 2,
    authorized_clients: 1,
    grants_account: null,
    created_at: SAMPLE_NOW - 12 * DAY,
    updated_at: SAMPLE_NOW - 2 * DAY,
  },
  {
    id: "conn_search",
    slug: "search",
    name: "Search API",
    upstream_url: "https://search.example.com/mcp",
    local_url: localUrl("search"),
    transport: "streamable_http",
    auth_kind: "header",
    header_name: "X-API-Key",
    enabled: true,
    status: "connected",
    status_detail: null,
    account_label: null,
    oauth: null,
    config_version: 1,
    authorized_clients: 1,
    grants_account: null,
    created_at: SAMPLE_NOW - 5 * DAY,
    updated_at: SAMPLE_NOW - 5 * DAY,
  },
  {
    id: "conn_notes",
    slug: "notes",
    name: "Local notes",
    upstream_url: "http://127.0.0.1:3001/mcp",
    local_url: localUrl("notes"),
    transport: "streamable_http",
    auth_kind: "none",
    header_name: null,
    enabled: false,
    status: "needs_auth",
    status_detail: null,
    account_label: null,
    oauth: null,
    config_version: 1,
    authorized_clients: 0,
    grants_account: null,
    created_at: SAMPLE_NOW - DAY,
    updated_at: SAMPLE_NOW - DAY,
  },
];

export const SAMPLE_CLIENTS: ClientView[] = [
  {
    client_id: "gh_cl_claude0000000000000000000001",
    client_name: "Claude Code",
    client_uri: "https://claude.ai",
    software_id: "claude-code",
    redirect_uris: ["http://127.0.0.1:33418/callback"],
    registration_source: "dcr",
    created_at: SAMPLE_NOW - 20 * DAY,
    updated_at: SAMPLE_NOW - 20 * DAY,
    active_grants: 2,
  },
  {
    client_id: "gh_cl_anon00000000000000000000002",
    client_name: null,
    client_uri: null,
    software_id: null,
    redirect_uris: ["http://localhost:6274/oauth/callback"],
    registration_source: "dcr",
    created_at: SAMPLE_NOW - 3 * DAY,
    updated_at: SAMPLE_NOW - 3 * DAY,
    active_grants: 1,
  },
  {
    client_id: "https://vscode.dev/oauth/client-metadata.json",
    client_name: "Visual Studio Code",
    client_uri: "https://code.visualstudio.com",
    software_id: "vscode",
    redirect_uris: ["http://127.0.0.1:33419/", "https://vscode.dev/redirect"],
    registration_source: "cimd",
    created_at: SAMPLE_NOW - 10 * DAY,
    updated_at: SAMPLE_NOW - 10 * DAY,
    active_grants: 1,
  },
];

const grant = (g: Partial<GrantView> & Pick<GrantView, "id" | "client_id">): GrantView => ({
  status: "active",
  client_name: null,
  connection_id: "conn_github",
  connection_slug: "github",
  connection_name: "GitHub",
  redirect_uri: "http://127.0.0.1:33418/callback",
  scopes: ["mcp:access"],
  tools: null,
  created_at: SAMPLE_NOW - 7 * DAY,
  activated_at: SAMPLE_NOW - 7 * DAY,
  last_used_at: SAMPLE_NOW - 2 * HOUR,
  revoked_at: null,
  revoked_reason: null,
  token_health: "valid",
  caller: null,
  ...g,
});

export const SAMPLE_GRANTS: GrantView[] = [
  grant({
    id: "grant_claude_github",
    client_id: "gh_cl_claude0000000000000000000001",
    client_name: "Claude Code",
    caller: { exe: "/usr/local/bin/claude", pid: 4242 },
  }),
  grant({
    id: "grant_claude_search",
    client_id: "gh_cl_claude0000000000000000000001",
    client_name: "Claude Code",
    connection_id: "conn_search",
    connection_slug: "search",
    connection_name: "Search API",
    scopes: ["mcp:access", "mcp:tools"],
    tools: ["search", "fetch_page"],
    last_used_at: null,
  }),
  grant({
    id: "grant_anon_github",
    client_id: "gh_cl_anon00000000000000000000002",
    client_name: null,
    redirect_uri: "http://localhost:6274/oauth/callback",
    created_at: SAMPLE_NOW - 3 * DAY,
    activated_at: SAMPLE_NOW - 3 * DAY,
    last_used_at: SAMPLE_NOW - 4 * MINUTE,
    token_health: "expiring_soon",
  }),
  grant({
    id: "grant_vscode_linear",
    client_id: "https://vscode.dev/oauth/client-metadata.json",
    client_name: "Visual Studio Code",
    connection_id: "conn_linear",
    connection_slug: "linear",
    connection_name: "Linear",
    redirect_uri: "http://127.0.0.1:33419/",
    scopes: ["mcp:access"],
    created_at: SAMPLE_NOW - 10 * DAY,
    activated_at: SAMPLE_NOW - 10 * DAY,
    last_used_at: SAMPLE_NOW - 2 * DAY,
    token_health: "expired",
  }),
  grant({
    id: "grant_old_revoked",
    client_id: "gh_cl_claude0000000000000000000001",
    client_name: "Claude Code",
    status: "revoked",
    created_at: SAMPLE_NOW - 25 * DAY,
    activated_at: SAMPLE_NOW - 25 * DAY,
    last_used_at: SAMPLE_NOW - 21 * DAY,
    revoked_at: SAMPLE_NOW - 20 * DAY,
    revoked_reason: "user_revoked",
    token_health: "expired",
  }),
];

export const SAMPLE_PENDING: PendingRequestView[] = [
  {
    id: "6f0c1b1e-0000-4000-8000-00000000aa01",
    client_id: "gh_cl_cursor000000000000000000003",
    client_name: "Cursor",
    caller: { exe: "/opt/cursor/cursor", pid: 5151 },
    connection_slug: "github",
    connection_name: "GitHub",
    redirect_uri: "http://localhost:8787/callback",
    scopes: ["mcp:access"],
    created_at: SAMPLE_NOW - 2 * MINUTE,
    expires_at: SAMPLE_NOW + 8 * MINUTE,
  },
];

export const SAMPLE_ACTIVITY: ActivityView[] = [
  {
    id: 4,
    at: SAMPLE_NOW - 2 * DAY,
    kind: "connection.updated",
    grant_id: null,
    client_id: null,
    connection_id: "conn_linear",
    reason: null,
    summary: "Connection Linear was changed.",
  },
  {
    id: 3,
    at: SAMPLE_NOW - 3 * DAY,
    kind: "grant.activated",
    grant_id: "grant_anon_github",
    client_id: "gh_cl_anon00000000000000000000002",
    connection_id: "conn_github",
    reason: null,
    summary: "A client was authorized to use GitHub.",
  },
  {
    id: 2,
    at: SAMPLE_NOW - 20 * DAY,
    kind: "grant.revoked",
    grant_id: "grant_old_revoked",
    client_id: "gh_cl_claude0000000000000000000001",
    connection_id: "conn_github",
    reason: "user_revoked",
    summary: "\u201cClaude Code\u201d lost access to GitHub (user revoked).",
  },
  {
    id: 1,
    at: SAMPLE_NOW - 30 * DAY,
    kind: "connection.created",
    grant_id: null,
    client_id: null,
    connection_id: "conn_github",
    reason: null,
    summary: "Connection GitHub was added.",
  },
];

/** The templates of src-tauri/core/src/oauth/upstream/templates.json, as the backend lists them. */
export const SAMPLE_OAUTH_TEMPLATES: OAuthTemplateView[] = [
  { key: "auth0", name: "Auth0", takes_tenant: true, needs_tenant: true },
  { key: "custom", name: "Custom", takes_tenant: false, needs_tenant: false },
  { key: "github", name: "GitHub", takes_tenant: false, needs_tenant: false },
  { key: "google", name: "Google", takes_tenant: false, needs_tenant: false },
  { key: "microsoft", name: "Microsoft", takes_tenant: true, needs_tenant: false },
  { key: "okta", name: "Okta", takes_tenant: true, needs_tenant: true },
];

export const SAMPLE_SETTINGS: Settings = {
  port: SAMPLE_GATEWAY_STATUS.port,
  retention_days: 90,
  start_at_login: false,
  theme: "system",
  allow_other_os_users: false,
  listening_port: SAMPLE_GATEWAY_STATUS.port,
  restart_required: false,
};
