import { SAMPLE_GATEWAY_STATUS } from "../../api";
import type {
  ActivityView,
  ChangeKind,
  ClientView,
  ConnectionView,
  GatehouseApi,
  GrantView,
  IpcError,
  Settings,
  ConnectionChangesRequest,
  HeaderInput,
} from "./types";

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
    config_version: 1,
    authorized_clients: 0,
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

function activity(id: number, at: number, kind: string, summary: string): ActivityView {
  return { id, at, kind, grant_id: null, client_id: null, connection_id: null, reason: null, summary };
}

export type FakeState = {
  connections: ConnectionView[];
  grants: GrantView[];
  clients: ClientView[];
  activity: ActivityView[];
  settings: Settings;
  error: IpcError | null;
};

export function sampleState(): FakeState {
  return {
    connections: [
      connection({ id: "conn-github", slug: "github", name: "GitHub", account_label: "octocat", auth_kind: "header", header_name: "Authorization" }),
      connection({ id: "conn-linear", slug: "linear", name: "Linear", status: "needs_auth" }),
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
    settings: { port: 8707, retention_days: 90, start_at_login: false, theme: "system" },
    error: null,
  };
}

export type ViewsFake = GatehouseApi & {
  readonly state: FakeState;
  failWith(error: IpcError | null): void;
  /** Tells subscribers something changed, as a backend event would. */
  emit(what: ChangeKind): void;
};

const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;

function invalid(field: string, message: string): IpcError {
  return { type: "InvalidInput", data: { field, message } };
}

function checkUrl(url: string): IpcError | null {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== "https:" && parsed.protocol !== "http:") return invalid("url", "must be an http or https URL");
    return null;
  } catch {
    return invalid("url", `${JSON.stringify(url)} is not a URL`);
  }
}

export function createViewsFake(initial: Partial<FakeState> = {}): ViewsFake {
  const state: FakeState = { ...sampleState(), ...structuredClone(initial) };
  const listeners = new Set<(what: ChangeKind) => void>();
  const emit = (what: ChangeKind) => listeners.forEach((listener) => listener(what));
  const answer = <T>(value: () => T): Promise<T> => {
    if (state.error) return Promise.reject(state.error);
    try {
      return Promise.resolve(structuredClone(value()));
    } catch (error) {
      return Promise.reject(error);
    }
  };
  const find = (key: string) => {
    const found = state.connections.find((c) => c.id === key || c.slug === key);
    if (!found) throw { type: "NotFound", data: { message: `no connection ${key}` } } satisfies IpcError;
    return found;
  };
  const activeOn = (id: string) => state.grants.filter((g) => g.connection_id === id && g.status === "active");
  const revoke = (grants: GrantView[], reason: string) => {
    for (const g of grants) {
      g.status = "revoked";
      g.revoked_at = Date.now();
      g.revoked_reason = reason;
    }
    refreshCounts();
    return grants.length;
  };
  const refreshCounts = () => {
    for (const c of state.connections) c.authorized_clients = activeOn(c.id).length;
  };
  const authFields = (header: HeaderInput | null) =>
    header ? { auth_kind: "header" as const, header_name: header.name } : { auth_kind: "none" as const, header_name: null };
  /** Mirrors the Rust mapping: a header replaces the auth, remove_header drops it, neither keeps it. */
  const authChange = (changes: ConnectionChangesRequest) =>
    changes.header ? authFields(changes.header) : changes.remove_header ? authFields(null) : null;
  const isMaterial = (c: ConnectionView, changes: ConnectionChangesRequest) =>
    (changes.upstream_url != null && changes.upstream_url !== c.upstream_url) || authChange(changes) !== null;
  refreshCounts();

  return {
    state,
    emit,
    failWith(error) {
      state.error = error;
    },
    getGatewayStatus: () => answer(() => SAMPLE_GATEWAY_STATUS),
    listConnections: () => answer(() => state.connections),
    addConnection: (input) =>
      answer(() => {
        if (!SLUG.test(input.slug)) throw invalid("slug", "must be lowercase letters, digits and '-'");
        if (state.connections.some((c) => c.slug === input.slug)) throw invalid("slug", `${input.slug} is taken`);
        if (!input.name.trim()) throw invalid("name", "must not be empty");
        const bad = checkUrl(input.upstream_url);
        if (bad) throw bad;
        const created = connection({
          id: `conn-${input.slug}`,
          slug: input.slug,
          name: input.name,
          upstream_url: input.upstream_url,
          ...authFields(input.header),
        });
        state.connections.push(created);
        queueMicrotask(() => emit("connections"));
        return created;
      }),
    previewConnectionEdit: (key, changes) =>
      answer(() => {
        const c = find(key);
        const material = isMaterial(c, changes);
        return { material, grants_to_revoke: material ? activeOn(c.id).length : 0 };
      }),
    editConnection: (key, changes) =>
      answer(() => {
        const c = find(key);
        if (changes.upstream_url != null) {
          const bad = checkUrl(changes.upstream_url);
          if (bad) throw bad;
        }
        const material = isMaterial(c, changes);
        const auth = authChange(changes);
        if (changes.name != null) c.name = changes.name;
        if (changes.upstream_url != null) c.upstream_url = changes.upstream_url;
        if (auth) Object.assign(c, auth);
        const revoked = material ? revoke(activeOn(c.id), "connection changed") : 0;
        queueMicrotask(() => emit("connections"));
        return { connection: c, material, revoked_grants: revoked };
      }),
    grantsAtRisk: (key) => answer(() => activeOn(find(key).id).length),
    setConnectionEnabled: (key, enabled) =>
      answer(() => {
        const c = find(key);
        c.enabled = enabled;
        const revoked = enabled ? 0 : revoke(activeOn(c.id), "connection disabled");
        queueMicrotask(() => emit("connections"));
        return { connection: c, material: false, revoked_grants: revoked };
      }),
    removeConnection: (key) =>
      answer(() => {
        const c = find(key);
        const revoked = revoke(activeOn(c.id), "connection deleted");
        state.connections = state.connections.filter((other) => other !== c);
        queueMicrotask(() => emit("connections"));
        return { id: c.id, slug: c.slug, revoked_grants: revoked };
      }),
    listGrants: (includeInactive) =>
      answer(() => state.grants.filter((g) => includeInactive || g.status === "active")),
    revokeGrants: (ids) =>
      answer(() => {
        const revoked: string[] = [];
        const already: string[] = [];
        for (const id of ids) {
          const g = state.grants.find((candidate) => candidate.id === id);
          if (!g) continue;
          if (g.status === "revoked") already.push(id);
          else {
            revoke([g], "revoked by the user");
            revoked.push(id);
          }
        }
        queueMicrotask(() => emit("grants"));
        return { revoked, already_revoked: already };
      }),
    listClients: () => answer(() => state.clients),
    forgetClient: (clientId) =>
      answer(() => {
        const count = revoke(
          state.grants.filter((g) => g.client_id === clientId && g.status === "active"),
          "client forgotten",
        );
        state.clients = state.clients.filter((c) => c.client_id !== clientId);
        queueMicrotask(() => emit("clients"));
        return { client_id: clientId, revoked_grants: count };
      }),
    listActivity: (limit) => answer(() => [...state.activity].sort((a, b) => b.at - a.at).slice(0, limit)),
    getSettings: () => answer(() => state.settings),
    updateSettings: (settings) =>
      answer(() => {
        state.settings = structuredClone(settings);
        queueMicrotask(() => emit("settings"));
        return state.settings;
      }),
    onChanged: (callback) => {
      listeners.add(callback);
      return Promise.resolve(() => listeners.delete(callback));
    },
  };
}
