import type { ActivityView } from "./bindings/ActivityView";
import type { AuthDetection } from "./bindings/AuthDetection";
import type { ChangeKind } from "./bindings/ChangeKind";
import type { ClientView } from "./bindings/ClientView";
import type { ConnectionChangesRequest } from "./bindings/ConnectionChangesRequest";
import type { ConnectionView } from "./bindings/ConnectionView";
import type { GatewayStatus } from "./bindings/GatewayStatus";
import type { ConsentRequested } from "./bindings/ConsentRequested";
import type { PendingRequestView } from "./bindings/PendingRequestView";
import type { GrantView } from "./bindings/GrantView";
import type { OAuthRequest } from "./bindings/OAuthRequest";
import type { OAuthTemplateView } from "./bindings/OAuthTemplateView";
import type { OAuthView } from "./bindings/OAuthView";
import type { Settings } from "./bindings/Settings";
import type { GatehouseApi, IpcError } from "./types";

export const SAMPLE_GATEWAY_STATUS: GatewayStatus = {
  address: "127.0.0.1",
  port: 8707,
  data_dir: "/preview/gatehouse",
  key_source: { kind: "Fixed", detail: "fixed preview key (not secret)" },
  version: "0.0.0-preview",
};

/** A fixed "now" for the samples, so dates in tests do not drift: 2026-03-02T10:00:00Z. */
export const SAMPLE_NOW = Date.UTC(2026, 2, 2, 10, 0, 0);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const localUrl = (slug: string) => `http://127.0.0.1:${SAMPLE_GATEWAY_STATUS.port}/mcp/${slug}`;

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

/** The fake's auto-detection: these upstream hosts answer 401 and publish OAuth metadata... */
const OAUTH_HOSTS = /(^|\.)(githubcopilot\.com|linear\.app|notion\.com|atlassian\.com|sentry\.dev)$|^oauth\./;
/** ... and these answer 401 without any (an API-key server). */
const KEY_HOSTS = /^(api-key|apikey)\./;

export const SAMPLE_SETTINGS: Settings = {
  port: SAMPLE_GATEWAY_STATUS.port,
  retention_days: 90,
  start_at_login: false,
  theme: "system",
  allow_other_os_users: false,
  listening_port: SAMPLE_GATEWAY_STATUS.port,
  restart_required: false,
};

export type FakeState = {
  gatewayStatus: GatewayStatus;
  connections: ConnectionView[];
  grants: GrantView[];
  /** Consent requests waiting for a decision. */
  pending: PendingRequestView[];
  clients: ClientView[];
  activity: ActivityView[];
  settings: Settings;
  /** When set, every call rejects with this error instead of answering. */
  error: IpcError | null;
};

type Method = keyof GatehouseApi;

const METHODS: readonly Method[] = [
  "getGatewayStatus",
  "listConnections",
  "addConnection",
  "detectAuth",
  "listOAuthTemplates",
  "previewConnectionEdit",
  "editConnection",
  "grantsAtRisk",
  "setConnectionEnabled",
  "removeConnection",
  "listGrants",
  "revokeGrants",
  "listClients",
  "forgetClient",
  "listActivity",
  "getSettings",
  "updateSettings",
  "startSignin",
  "signOut",
  "listPendingRequests",
  "decidePendingRequest",
  "listClientApps",
  "previewClientConfig",
  "writeClientConfig",
  "undoClientConfig",
  "serverLog",
  "addLocalCommand",
  "listImportCandidates",
  "previewImport",
  "importFromClient",
  "onChanged",
  "onConsentRequested",
];

/** The clients the fake knows, with where their configs would be and the entry each gets. */
/** The folders the fake VS Code opened recently. */
const FAKE_VSCODE_FOLDERS = ["/home/you/src/api"];

const FAKE_CLIENT_APPS: { id: string; name: string; config: string; key: string; entry: (c: ConnectionView) => unknown }[] = [
  { id: "vscode", name: "VS Code", config: "~/.config/Code/User/mcp.json", key: "servers", entry: (c) => ({ type: "http", url: c.local_url }) },
  { id: "cursor", name: "Cursor", config: "~/.cursor/mcp.json", key: "mcpServers", entry: (c) => ({ url: c.local_url }) },
  {
    id: "claude-desktop",
    name: "Claude Desktop",
    config: "~/.config/Claude/claude_desktop_config.json",
    key: "mcpServers",
    entry: (c) => ({ command: "/opt/Gatehouse/gatehouse", args: ["bridge", c.slug] }),
  },
];

/** A naive line diff (removed lines, then added ones) for the fake's previews. */
function lineDiff(before: string, after: string): string[] {
  const a = before ? before.split("\n") : [];
  const b = after.split("\n");
  return [...a.filter((l) => !b.includes(l)).map((l) => `-${l}`), ...b.filter((l) => !a.includes(l)).map((l) => `+${l}`)];
}

/** How long the fake's browser sign-in takes before the connection turns connected (ms). */
export const FAKE_SIGNIN_DELAY_MS = 50;

/**
 * An in-memory backend for component tests and for opening the page without Tauri.
 *
 * Sign-in: `startSignin` on an OAuth connection answers at once (`outcome: "browser"`, as if the
 * browser had opened), then after `FAKE_SIGNIN_DELAY_MS` marks the connection connected with the
 * account "you@example.com" and emits a `connections` change, the way the real backend's
 * callback would. A connection that is not OAuth is refused like the backend refuses it.
 * `signOut` sets it back to "needs_auth" with no account.
 */
export type FakeApi = GatehouseApi & {
  readonly state: FakeState;
  setGatewayStatus(status: GatewayStatus): void;
  failWith(error: IpcError | null): void;
  /** Tells every `onChanged` listener that `what` changed (as a backend event would). */
  emitChange(what: ChangeKind): void;
  /** Tells every `onConsentRequested` listener that a client asks for consent. */
  emitConsentRequested(request: ConsentRequested): void;
  /** How many times each method was called. */
  readonly calls: Record<Method, number>;
};

/** Sample data: a few connections and grants (one without a client name, one with a tool
 * allow-list, one expiring soon, one expired, one revoked). Spread `EMPTY_STATE` into the
 * initial state to start from nothing. */
export function sampleState(): FakeState {
  return structuredClone({
    gatewayStatus: SAMPLE_GATEWAY_STATUS,
    connections: SAMPLE_CONNECTIONS,
    grants: SAMPLE_GRANTS,
    pending: SAMPLE_PENDING,
    clients: SAMPLE_CLIENTS,
    activity: SAMPLE_ACTIVITY,
    settings: SAMPLE_SETTINGS,
    error: null,
  });
}

/** A state with no connections, grants, clients or activity, for empty-state tests. */
export const EMPTY_STATE: Partial<FakeState> = {
  connections: [],
  grants: [],
  pending: [],
  clients: [],
  activity: [],
};

const notFound = (what: string, key: string): IpcError => ({
  type: "NotFound",
  data: { message: `no ${what} "${key}"` },
});

export function createFakeApi(initial: Partial<FakeState> = {}): FakeApi {
  const state: FakeState = { ...sampleState(), ...structuredClone(initial) };
  const calls = Object.fromEntries(METHODS.map((m) => [m, 0])) as Record<Method, number>;
  const listeners = new Set<(what: ChangeKind) => void>();
  const consentListeners = new Set<(request: ConsentRequested) => void>();
  let nextActivity = Math.max(0, ...state.activity.map((a) => a.id)) + 1;

  const count = (method: Method) => {
    calls[method] += 1;
  };
  // Client configs, as text by client id, and what each was before Gatehouse's last write.
  const clientFiles = new Map<string, string>([
    ["vscode", JSON.stringify({ servers: { github: { type: "http", url: "https://api.githubcopilot.com/mcp/" } } }, null, 2)],
    [
      "cursor",
      JSON.stringify(
        { mcpServers: { "Brave Search": { command: "npx", args: ["-y", "brave-search-mcp"], env: { BRAVE_API_KEY: "fake-brave-key-123" } } } },
        null,
        2,
      ),
    ],
  ]);
  /** Per client, the file of Gatehouse's last change and what it held before. */
  const clientUndo = new Map<string, { file: string; config: string; before: string | null }>();
  /** Where a change goes: the client's own config, or a VS Code folder's `.vscode/mcp.json`. */
  const configOf = (client: string, workspace?: string | null) => {
    const app = FAKE_CLIENT_APPS.find((a) => a.id === client);
    if (!app) throw invalid("client", `unknown client "${client}"`);
    if (workspace == null) return { app, file: client, config: app.config };
    if (client !== "vscode") throw invalid("workspace", "only VS Code has workspace configs");
    if (!workspace.startsWith("/")) throw invalid("workspace", `${workspace} is not a folder on this computer`);
    return { app, file: `vscode:${workspace}`, config: `${workspace}/.vscode/mcp.json` };
  };
  const serversIn = (app: (typeof FAKE_CLIENT_APPS)[number], text: string | null) => {
    const servers = text ? Object.keys(JSON.parse(text)[app.key] ?? {}) : [];
    const through = servers.filter((name) =>
      JSON.stringify(JSON.parse(text ?? "{}")[app.key][name]).includes("127.0.0.1"),
    );
    return { servers, through };
  };
  const clientPlan = (client: string, key: string, workspace?: string | null) => {
    const { app, file, config } = configOf(client, workspace);
    const c = findConnection(key);
    const before = clientFiles.get(file) ?? null;
    const doc = before ? JSON.parse(before) : {};
    const entry = app.entry(c);
    const existing = doc[app.key]?.[c.slug];
    // As the backend: a different server under the same name is kept, the new entry gets another.
    const name = existing && JSON.stringify(existing) !== JSON.stringify(entry) ? `${c.slug}-gatehouse` : c.slug;
    doc[app.key] = { ...(doc[app.key] ?? {}), [name]: entry };
    const after = JSON.stringify(doc, null, 2);
    const diff = [`--- ${config}`, `+++ ${config}`, ...lineDiff(before ?? "", after)].join("\n") + "\n";
    return {
      after,
      file,
      preview: { client, client_name: app.name, config, entry_name: name, diff, creates_file: before === null },
    };
  };
  const importPlan = (client: string, server: string) => {
    const app = FAKE_CLIENT_APPS.find((a) => a.id === client);
    if (!app) throw invalid("client", `unknown client "${client}"`);
    const before = clientFiles.get(client) ?? "{}";
    const doc = JSON.parse(before);
    const entry = doc[app.key]?.[server] as
      | { command?: string; args?: string[]; url?: string; env?: Record<string, string>; headers?: Record<string, string> }
      | undefined;
    if (!entry) throw invalid("server", `"${server}" is not in ${app.config}`);
    const slug = server.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "server";
    const secrets = Object.keys(entry.command ? (entry.env ?? {}) : (entry.headers ?? {}));
    const upstream = entry.command ? `stdio:${[entry.command, ...(entry.args ?? [])].join(" ")}` : (entry.url ?? "");
    doc[app.key][server] = app.entry({ slug, local_url: localUrl(slug) } as ConnectionView);
    const after = JSON.stringify(doc, null, 2);
    // As the backend: the keys in the diff are shown as [secret].
    const values = Object.values(entry.command ? (entry.env ?? {}) : (entry.headers ?? {}));
    const mask = (line: string) => values.reduce((l, v) => (v.length >= 4 ? l.split(v).join("[secret]") : l), line);
    const diff = [`--- ${app.config}`, `+++ ${app.config}`, ...lineDiff(before, after).map(mask)].join("\n") + "\n";
    return { after, upstream, preview: { client, server, slug, secrets, config: app.config, diff } };
  };
  const answer = <T>(method: Method, value: () => T): Promise<T> => {
    count(method);
    if (state.error) return Promise.reject(state.error);
    try {
      return Promise.resolve(structuredClone(value()));
    } catch (error) {
      return Promise.reject(error);
    }
  };
  const emit = (...kinds: ChangeKind[]) => {
    for (const what of kinds) for (const cb of [...listeners]) cb(what);
  };
  const log = (entry: Omit<ActivityView, "id" | "at">) => {
    state.activity.unshift({ id: nextActivity++, at: Date.now(), ...entry });
  };
  const findConnection = (key: string) => {
    const c = state.connections.find((x) => x.id === key || x.slug === key);
    if (!c) throw notFound("connection", key);
    return c;
  };
  const activeOn = (connectionId: string) =>
    state.grants.filter((g) => g.status === "active" && g.connection_id === connectionId);
  const recount = () => {
    for (const c of state.connections) c.authorized_clients = activeOn(c.id).length;
    for (const cl of state.clients)
      cl.active_grants = state.grants.filter(
        (g) => g.status === "active" && g.client_id === cl.client_id,
      ).length;
  };
  const revoke = (ids: string[], reason: string) => {
    const revoked: string[] = [];
    const already: string[] = [];
    for (const id of ids) {
      const g = state.grants.find((x) => x.id === id);
      if (!g) throw notFound("grant", id);
      if (g.status === "revoked") {
        already.push(id);
        continue;
      }
      g.status = "revoked";
      g.revoked_at = Date.now();
      g.revoked_reason = reason;
      g.token_health = "expired";
      revoked.push(id);
      log({
        kind: "grant.revoked",
        grant_id: g.id,
        client_id: g.client_id,
        connection_id: g.connection_id,
        reason,
        summary: `${g.client_name ? `\u201c${g.client_name}\u201d` : "A client"} lost access to ${g.connection_name} (${reason.replace(/_/g, " ")}).`,
      });
    }
    recount();
    return { revoked, already_revoked: already };
  };
  /** An OAuth request as the backend shows it: never the secret, only whether one is stored. */
  const oauthView = (o: OAuthRequest, keptSecret: boolean): OAuthView => ({
    source: o.template ? "template" : "discovered",
    template: o.template ?? null,
    tenant: o.tenant?.trim() || null,
    client_id: o.client_id?.trim() || null,
    has_client_secret: Boolean(o.client_secret) || keptSecret,
    grant: o.client_credentials ? "client_credentials" : "authorization_code",
    issuer: null,
    authorization_endpoint: null,
    token_endpoint: null,
    scopes: o.scopes?.trim() || null,
    legacy_discovery: o.legacy_discovery ?? false,
  });
  /** As the backend does: the stored secret stays for the same client id when none is typed. */
  const editedOAuth = (c: ConnectionView, o: OAuthRequest): OAuthView =>
    oauthView(o, !o.client_secret && c.oauth?.has_client_secret === true && c.oauth.client_id === (o.client_id?.trim() || null));
  const material = (c: ConnectionView, changes: ConnectionChangesRequest) =>
    (changes.upstream_url != null && changes.upstream_url !== c.upstream_url) ||
    changes.header != null ||
    (changes.oauth != null && JSON.stringify(editedOAuth(c, changes.oauth)) !== JSON.stringify(c.oauth)) ||
    (changes.oauth != null && Boolean(changes.oauth.client_secret)) ||
    (changes.remove_header === true && c.auth_kind !== "none");
  const invalid = (field: string, message: string): IpcError => ({
    type: "InvalidInput",
    data: { field, message },
  });
  const changed = <T>(value: T, ...kinds: ChangeKind[]): T => {
    queueMicrotask(() => emit(...kinds, "activity"));
    return value;
  };

  return {
    state,
    calls,
    setGatewayStatus(status) {
      state.gatewayStatus = structuredClone(status);
    },
    failWith(error) {
      state.error = error;
    },
    emitChange(what) {
      emit(what);
    },
    emitConsentRequested(request) {
      for (const cb of [...consentListeners]) cb(request);
    },
    getGatewayStatus: () => answer("getGatewayStatus", () => state.gatewayStatus),
    listConnections: () => answer("listConnections", () => state.connections),
    addConnection: (input) =>
      answer("addConnection", () => {
        const slug = input.slug.trim();
        if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(slug))
          throw invalid("slug", `"${slug}" must be lowercase letters, digits and '-'`);
        if (state.connections.some((c) => c.slug === slug))
          throw { type: "Conflict", data: { message: `the slug "${slug}" is in use` } } as IpcError;
        if (!input.name.trim()) throw invalid("name", "the name must not be empty");
        if (input.header && input.oauth)
          throw invalid("auth", "choose one kind of upstream authentication: a header or OAuth");
        if (!/^https:\/\/|^http:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(input.upstream_url))
          throw invalid("upstream_url", "use https, or http only to a loopback address");
        const now = Date.now();
        const created: ConnectionView = {
          id: `conn_${slug}`,
          slug,
          name: input.name.trim(),
          upstream_url: input.upstream_url.trim(),
          local_url: localUrl(slug),
          transport: "streamable_http",
          auth_kind: input.header ? "header" : input.oauth ? "oauth" : "none",
          // The value is deliberately dropped: it never comes back from the backend.
          header_name: input.header?.name ?? null,
          enabled: true,
          status: input.oauth ? "needs_auth" : "connected",
          status_detail: null,
          account_label: input.account_name?.trim() || null,
          // As the backend shows it: never the secret, only whether one was given.
          oauth: input.oauth ? oauthView(input.oauth, false) : null,
          config_version: 1,
          authorized_clients: 0,
          grants_account: null,
          created_at: now,
          updated_at: now,
        };
        state.connections.push(created);
        log({
          kind: "connection.created",
          grant_id: null,
          client_id: null,
          connection_id: created.id,
          reason: null,
          summary: `Connection ${created.name} was added.`,
        });
        return changed(created, "connections");
      }),
    detectAuth: (url, legacy) =>
      answer("detectAuth", (): AuthDetection => {
        if (!/^https?:\/\//.test(url)) throw invalid("url", "not an http(s) URL");
        const host = new URL(url).hostname;
        if (OAUTH_HOSTS.test(host)) {
          return {
            suggested: "oauth",
            finding: "The server asks for OAuth sign-in: its 401 answer names its protected resource metadata.",
          };
        }
        if (KEY_HOSTS.test(host) && legacy) {
          return {
            suggested: "oauth",
            finding:
              "The server asks for OAuth sign-in: it publishes no protected resource metadata, so Gatehouse uses the 2025-03-26 fallback you turned on (the authorization server at the URL's origin).",
          };
        }
        if (KEY_HOSTS.test(host)) {
          return {
            suggested: "header",
            finding:
              "The server refused a request without credentials (HTTP 401, asking for Bearer) but publishes no OAuth metadata: it most likely takes an API key or token in a header. If it is an older (2025-03-26) MCP server that signs in with OAuth without metadata, use the legacy discovery fallback (--legacy-oauth).",
          };
        }
        return { suggested: "none", finding: "The server answered without credentials: it needs no sign-in." };
      }),
    listOAuthTemplates: () => answer("listOAuthTemplates", () => SAMPLE_OAUTH_TEMPLATES),
    previewConnectionEdit: (key, changes) =>
      answer("previewConnectionEdit", () => {
        const c = findConnection(key);
        const isMaterial = material(c, changes);
        return { material: isMaterial, grants_to_revoke: isMaterial ? activeOn(c.id).length : 0 };
      }),
    editConnection: (key, changes) =>
      answer("editConnection", () => {
        const c = findConnection(key);
        const isMaterial = material(c, changes);
        const revoked = isMaterial ? revoke(activeOn(c.id).map((g) => g.id), "connection_changed").revoked : [];
        if (changes.name != null) c.name = changes.name.trim();
        if (changes.account_name != null) c.account_label = changes.account_name.trim() || null;
        if (changes.upstream_url != null) c.upstream_url = changes.upstream_url.trim();
        if (changes.header != null && changes.oauth != null)
          throw invalid("auth", "choose one kind of upstream authentication: a header or OAuth");
        if (changes.header != null) {
          c.auth_kind = "header";
          c.header_name = changes.header.name;
          c.oauth = null;
        } else if (changes.oauth != null) {
          c.oauth = editedOAuth(c, changes.oauth);
          c.auth_kind = "oauth";
          c.header_name = null;
        } else if (changes.remove_header) {
          c.auth_kind = "none";
          c.header_name = null;
          c.oauth = null;
        }
        if (isMaterial) {
          // As the store does: new settings start afresh; only OAuth waits for a sign-in.
          c.config_version += 1;
          c.status = c.auth_kind === "oauth" ? "needs_auth" : "connected";
          c.status_detail = null;
        }
        c.updated_at = Date.now();
        recount();
        return changed(
          { connection: c, material: isMaterial, revoked_grants: revoked.length },
          "connections",
          "grants",
          "clients",
        );
      }),
    grantsAtRisk: (key) => answer("grantsAtRisk", () => activeOn(findConnection(key).id).length),
    setConnectionEnabled: (key, enabled) =>
      answer("setConnectionEnabled", () => {
        const c = findConnection(key);
        const revoked =
          !enabled && c.enabled ? revoke(activeOn(c.id).map((g) => g.id), "connection_disabled").revoked : [];
        c.enabled = enabled;
        c.updated_at = Date.now();
        recount();
        return changed(
          { connection: c, material: false, revoked_grants: revoked.length },
          "connections",
          "grants",
          "clients",
        );
      }),
    removeConnection: (key) =>
      answer("removeConnection", () => {
        const c = findConnection(key);
        const revoked = revoke(activeOn(c.id).map((g) => g.id), "connection_deleted").revoked;
        state.connections = state.connections.filter((x) => x.id !== c.id);
        state.grants = state.grants.filter((g) => g.connection_id !== c.id);
        recount();
        return changed(
          { id: c.id, slug: c.slug, revoked_grants: revoked.length },
          "connections",
          "grants",
          "clients",
        );
      }),
    listGrants: (includeInactive) =>
      answer("listGrants", () =>
        state.grants
          .filter((g) => includeInactive || g.status === "active")
          .sort((a, b) => b.created_at - a.created_at),
      ),
    revokeGrants: (ids) =>
      answer("revokeGrants", () => {
        if (ids.length === 0) throw invalid("id", "name at least one grant id");
        // One transaction: an unknown id revokes nothing.
        for (const id of ids) if (!state.grants.some((g) => g.id === id)) throw notFound("grant", id);
        return changed(revoke(ids, "user_revoked"), "grants", "connections", "clients");
      }),
    listClients: () => answer("listClients", () => state.clients),
    forgetClient: (clientId) =>
      answer("forgetClient", () => {
        if (!state.clients.some((c) => c.client_id === clientId)) throw notFound("client", clientId);
        const ids = state.grants.filter((g) => g.client_id === clientId && g.status === "active");
        const { revoked } = revoke(ids.map((g) => g.id), "client_forgotten");
        state.clients = state.clients.filter((c) => c.client_id !== clientId);
        return changed(
          { client_id: clientId, revoked_grants: revoked.length },
          "clients",
          "grants",
          "connections",
        );
      }),
    listActivity: (limit) => answer("listActivity", () => state.activity.slice(0, Math.max(1, limit))),
    getSettings: () => answer("getSettings", () => state.settings),
    updateSettings: (s) =>
      answer("updateSettings", () => {
        if (s.port < 1 || s.port > 65535) throw invalid("port", "choose a port from 1 to 65535");
        if (s.retention_days < 1 || s.retention_days > 3650)
          throw invalid("retention_days", "keep records from 1 to 3650 days");
        const listening = state.settings.listening_port ?? null;
        state.settings = {
          port: s.port,
          retention_days: s.retention_days,
          start_at_login: s.start_at_login,
          allow_other_os_users: s.allow_other_os_users,
          theme: s.theme,
          listening_port: listening,
          restart_required: listening !== null && listening !== s.port,
        };
        queueMicrotask(() => emit("settings"));
        return state.settings;
      }),
    startSignin: (key, callback) =>
      answer("startSignin", () => {
        const c = findConnection(key);
        if (c.auth_kind !== "oauth") throw invalid("auth", "this connection does not use OAuth");
        const id = c.id;
        setTimeout(() => {
          const current = state.connections.find((x) => x.id === id);
          if (!current) return;
          current.status = "connected";
          current.status_detail = null;
          current.account_label = current.account_label ?? "you@example.com";
          current.grants_account = current.account_label;
          current.updated_at = Date.now();
          emit("connections", "activity");
        }, FAKE_SIGNIN_DELAY_MS);
        const now = Date.now();
        return {
          connection_id: c.id,
          slug: c.slug,
          outcome: "browser" as const,
          callback,
          redirect_uri:
            callback === "deep_link"
              ? "dev.gatehouse:/oauth/callback"
              : `http://127.0.0.1:${state.gatewayStatus.port}/oauth/callback`,
          signin_id: `fake-signin-${c.slug}`,
          expires_at: now + 10 * MINUTE,
        };
      }),
    signOut: (key) =>
      answer("signOut", () => {
        const c = findConnection(key);
        if (c.auth_kind !== "oauth") throw invalid("auth", "this connection does not use OAuth");
        c.status = "needs_auth";
        c.status_detail = "Signed out";
        c.grants_account = c.account_label ?? c.grants_account;
        c.account_label = null;
        c.updated_at = Date.now();
        return changed({ slug: c.slug, revocation: "revoked" }, "connections");
      }),
    listPendingRequests: () =>
      answer("listPendingRequests", () => [...state.pending].sort((a, b) => a.created_at - b.created_at)),
    decidePendingRequest: (id, approve, tools) =>
      answer("decidePendingRequest", () => {
        const request = state.pending.find((r) => r.id === id);
        if (!request) throw notFound("pending request", id);
        state.pending = state.pending.filter((r) => r.id !== id);
        if (approve) {
          state.grants.push({
            id: `grant_${id}`,
            status: "active",
            client_id: request.client_id,
            client_name: request.client_name,
            connection_id: state.connections.find((c) => c.slug === request.connection_slug)?.id ?? "",
            connection_slug: request.connection_slug,
            connection_name: request.connection_name,
            redirect_uri: request.redirect_uri,
            scopes: request.scopes,
            tools,
            created_at: request.created_at,
            activated_at: Date.now(),
            last_used_at: null,
            revoked_at: null,
            revoked_reason: null,
            token_health: "none",
            caller: request.caller,
          });
        }
        return changed({ approved: approve, delivery: { via: "loopback" as const, status: 200 } }, "grants");
      }),
    listClientApps: () =>
      answer("listClientApps", () =>
        FAKE_CLIENT_APPS.map((app) => {
          const text = clientFiles.get(app.id) ?? null;
          const { servers, through } = serversIn(app, text);
          return {
            id: app.id,
            name: app.name,
            config: app.config,
            installed: true,
            configured: text !== null,
            servers,
            through_gatehouse: through,
            needs_bridge: app.id === "claude-desktop",
            problem: null,
            workspaces:
              app.id === "vscode"
                ? FAKE_VSCODE_FOLDERS.map((folder) => {
                    const { file, config } = configOf("vscode", folder);
                    const inFolder = clientFiles.get(file) ?? null;
                    const found = serversIn(app, inFolder);
                    return {
                      folder,
                      config,
                      configured: inFolder !== null,
                      servers: found.servers,
                      through_gatehouse: found.through,
                      problem: null,
                    };
                  })
                : [],
          };
        }),
      ),
    previewClientConfig: (client, key, workspace) =>
      answer("previewClientConfig", () => clientPlan(client, key, workspace).preview),
    writeClientConfig: (client, key, workspace, diff) =>
      answer("writeClientConfig", () => {
        const plan = clientPlan(client, key, workspace);
        if (plan.preview.diff !== diff) throw invalid("config", "the file changed since the preview");
        const before = clientFiles.get(plan.file) ?? null;
        clientUndo.set(client, { file: plan.file, config: plan.preview.config, before });
        clientFiles.set(plan.file, plan.after);
        return {
          client,
          config: plan.preview.config,
          backup: before === null ? null : `${plan.preview.config}.gatehouse-backup`,
        };
      }),
    undoClientConfig: (client) =>
      answer("undoClientConfig", () => {
        const last = clientUndo.get(client);
        if (!last) throw invalid("client", "Gatehouse has not changed this client's config");
        clientUndo.delete(client);
        if (last.before === null) clientFiles.delete(last.file);
        else clientFiles.set(last.file, last.before);
        return { client, config: last.config, backup: null };
      }),
    addLocalCommand: (input) =>
      answer("addLocalCommand", () => {
        const slug = input.slug.trim();
        if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(slug))
          throw invalid("slug", `"${slug}" must be lowercase letters, digits and '-'`);
        if (state.connections.some((c) => c.slug === slug))
          throw { type: "Conflict", data: { message: `the slug "${slug}" is in use` } } as IpcError;
        if (!input.name.trim()) throw invalid("name", "the name must not be empty");
        if (!input.command.trim()) throw invalid("command", "the command must not be empty");
        for (const e of input.env)
          if (e.name && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(e.name))
            throw invalid("env", `"${e.name}" is not an environment variable name`);
        const now = Date.now();
        const created: ConnectionView = {
          id: `conn_${slug}`,
          slug,
          name: input.name.trim(),
          // The values are deliberately dropped: they never come back from the backend.
          upstream_url: `stdio:${input.command.trim()}`,
          local_url: localUrl(slug),
          transport: "stdio",
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
        };
        state.connections.push(created);
        emit("connections");
        return created;
      }),
    listImportCandidates: (client) =>
      answer("listImportCandidates", () => {
        const app = FAKE_CLIENT_APPS.find((a) => a.id === client);
        if (!app) throw invalid("client", `unknown client "${client}"`);
        const servers = JSON.parse(clientFiles.get(client) ?? "{}")[app.key] ?? {};
        return Object.entries(servers).map(([name, entry]) => {
          const e = entry as { command?: string; env?: Record<string, string>; headers?: Record<string, string> };
          return {
            name,
            kind: e.command ? "stdio" : "http",
            secrets: Object.keys(e.command ? (e.env ?? {}) : (e.headers ?? {})),
            refused: null,
          };
        });
      }),
    previewImport: (client, server) => answer("previewImport", () => importPlan(client, server).preview),
    importFromClient: (client, server, diff) =>
      answer("importFromClient", () => {
        const plan = importPlan(client, server);
        if (plan.preview.diff !== diff) throw invalid("config", "the file changed since the preview");
        const now = Date.now();
        const created: ConnectionView = {
          id: `conn_${plan.preview.slug}`,
          slug: plan.preview.slug,
          name: server,
          upstream_url: plan.upstream,
          local_url: localUrl(plan.preview.slug),
          transport: plan.upstream.startsWith("stdio:") ? "stdio" : "streamable_http",
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
        };
        state.connections.push(created);
        clientUndo.set(client, { file: client, config: plan.preview.config, before: clientFiles.get(client) ?? null });
        clientFiles.set(client, plan.after);
        emit("connections");
        return { connection: created, config: plan.preview.config, backup: `${plan.preview.config}.gatehouse-backup` };
      }),
    serverLog: (key) =>
      answer("serverLog", () => {
        const c = findConnection(key);
        if (c.transport !== "stdio") throw invalid("connection", "only a local command's connection has a server log");
        return {
          path: `~/.local/share/dev.gatehouse.app/logs/stdio/${c.id}.log`,
          lines: ["[gatehouse] started npx (pid 4242)", "Secure MCP Filesystem Server running on stdio"],
          truncated: false,
        };
      }),
    onChanged: (cb) => {
      count("onChanged");
      listeners.add(cb);
      return Promise.resolve(() => {
        listeners.delete(cb);
      });
    },
    onConsentRequested: (cb) => {
      count("onConsentRequested");
      consentListeners.add(cb);
      return Promise.resolve(() => {
        consentListeners.delete(cb);
      });
    },
  };
}
