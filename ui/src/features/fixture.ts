/**
 * The small fixture the view tests are written against: two connections (one signed in with a
 * header, one needing sign-in) and two active grants (a named client using every tool; an unnamed
 * one with a tool allow-list, never used). Spread over the API fake's own state, so everything not
 * named here (gateway status, ...) comes from `createFakeApi`'s samples.
 */
import type { ActivityView, ClientView, ConnectionView, FakeState, GrantView } from "../api";

const DAY = 24 * 3600_000;
const T0 = Date.UTC(2026, 2, 1, 9, 0, 0);

function connection(partial: Partial<ConnectionView> & Pick<ConnectionView, "id" | "slug" | "name">): ConnectionView {
  return {
    upstream_url: `https://${partial.slug}.example.com/mcp`,
    local_url: `http://127.0.0.1:8707/mcp/${partial.slug}`,
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
    created_at: T0,
    updated_at: T0,
    ...partial,
  };
}

function grant(partial: Partial<GrantView> & Pick<GrantView, "id" | "client_id">): GrantView {
  return {
    status: "active",
    client_name: "Claude Code",
    connection_id: "conn-github",
    connection_slug: "github",
    connection_name: "GitHub",
    redirect_uri: "http://127.0.0.1:33418/callback",
    scopes: ["mcp:access"],
    tools: null,
    created_at: T0 + DAY,
    activated_at: T0 + DAY,
    last_used_at: null,
    revoked_at: null,
    revoked_reason: null,
    token_health: "valid",
    caller: null,
    ...partial,
  };
}

function client(partial: Partial<ClientView> & Pick<ClientView, "client_id">): ClientView {
  return {
    client_name: null,
    client_uri: null,
    software_id: null,
    redirect_uris: [],
    registration_source: "dcr",
    created_at: T0,
    updated_at: T0,
    active_grants: 1,
    ...partial,
  };
}

function activity(id: number, at: number, kind: ActivityView["kind"], summary: string): ActivityView {
  return { id, at, kind, grant_id: null, client_id: null, connection_id: null, reason: null, summary };
}

export function viewsState(): Pick<FakeState, "connections" | "grants" | "clients" | "activity" | "settings"> {
  return {
    connections: [
      connection({ id: "conn-github", slug: "github", name: "GitHub", account_label: "octocat", auth_kind: "header", header_name: "Authorization", authorized_clients: 1 }),
      connection({ id: "conn-linear", slug: "linear", name: "Linear", status: "needs_auth", authorized_clients: 1 }),
    ],
    grants: [
      grant({
        id: "grant-1",
        client_id: "4f7c2a9e-claude-code",
        last_used_at: Date.now() - 3 * 60_000,
      }),
      grant({
        id: "grant-2",
        client_id: "9b1d-unnamed",
        client_name: null,
        connection_id: "conn-linear",
        connection_slug: "linear",
        connection_name: "Linear",
        redirect_uri: "http://localhost:6274/oauth/callback",
        tools: ["list_issues", "create_issue"],
        token_health: "none",
      }),
    ],
    clients: [
      client({ client_id: "4f7c2a9e-claude-code", client_name: "Claude Code", redirect_uris: ["http://127.0.0.1:33418/callback"] }),
      client({ client_id: "9b1d-unnamed", redirect_uris: ["http://localhost:6274/oauth/callback"] }),
    ],
    activity: [
      activity(1, T0, "connection.created", "Connection GitHub was added."),
      activity(2, T0 + DAY, "grant.activated", "\u201CClaude Code\u201D was authorized to use GitHub."),
    ],
    settings: {
      port: 8707,
      retention_days: 90,
      start_at_login: false, allow_other_os_users: false,
      theme: "system",
      listening_port: 8707,
      restart_required: false,
    },
  };
}
