/**
 * What every part of the fake backend shares: the list of API methods and their call counts, how
 * a call answers (a copy of its value, or the error set with `failWith`), the change and consent
 * listeners, the IPC errors it throws, and the bookkeeping on the state that several domains do
 * (activity log, finding a connection, counting and revoking grants).
 */
import type { ActivityView } from "../bindings/ActivityView";
import type { ChangeKind } from "../bindings/ChangeKind";
import type { ConsentRequested } from "../bindings/ConsentRequested";
import type { GatehouseApi, IpcError } from "../types";
import type { FakeState } from "./state";

export type Method = keyof GatehouseApi;

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

export const notFound = (what: string, key: string): IpcError => ({
  type: "NotFound",
  data: { message: `no ${what} "${key}"` },
});

export const invalid = (field: string, message: string): IpcError => ({
  type: "InvalidInput",
  data: { field, message },
});

/** The shared machinery of one fake, over its `state`; `createFakeApi` makes one per fake. */
export function createCore(state: FakeState) {
  const calls = Object.fromEntries(METHODS.map((m) => [m, 0])) as Record<Method, number>;
  const listeners = new Set<(what: ChangeKind) => void>();
  const consentListeners = new Set<(request: ConsentRequested) => void>();
  let nextActivity = Math.max(0, ...state.activity.map((a) => a.id)) + 1;

  const count = (method: Method) => {
    calls[method] += 1;
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
  const changed = <T>(value: T, ...kinds: ChangeKind[]): T => {
    queueMicrotask(() => emit(...kinds, "activity"));
    return value;
  };

  return {
    state,
    calls,
    listeners,
    consentListeners,
    count,
    answer,
    emit,
    log,
    findConnection,
    activeOn,
    recount,
    revoke,
    changed,
  };
}

/** What a domain's part of the fake API is built from. */
export type Core = ReturnType<typeof createCore>;
