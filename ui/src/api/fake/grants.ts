/**
 * The fake backend's grants and the clients that hold them: listing and revoking grants, listing
 * and forgetting clients, and the consent requests that wait for a decision (an approval adds a
 * grant).
 */
import type { GatehouseApi } from "../types";
import { invalid, notFound, type Core } from "./core";

type GrantsApi = Pick<
  GatehouseApi,
  "listGrants" | "revokeGrants" | "listClients" | "forgetClient" | "listPendingRequests" | "decidePendingRequest"
>;

/** The grants', clients' and consent requests' part of the fake API. */
export function grantsApi({ state, answer, revoke, changed }: Core): GrantsApi {
  return {
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
  };
}
