import {
  useMutation,
  useQuery,
  useQueryClient,
  type QueryClient,
  type QueryKey,
} from "@tanstack/react-query";
import { useEffect } from "react";
import type { ChangeKind } from "./bindings/ChangeKind";
import type { ConnectionChangesRequest } from "./bindings/ConnectionChangesRequest";
import type { NewStdioConnectionRequest } from "./bindings/NewStdioConnectionRequest";
import type { NewConnectionRequest } from "./bindings/NewConnectionRequest";
import type { Settings } from "./bindings/Settings";
import type { SigninCallback } from "./bindings/SigninCallback";
import { useBackend } from "./context";

/** How many audit events the Activity view asks for. */
export const ACTIVITY_LIMIT = 200;

/** Query keys, so backend events can invalidate exactly what they change. */
export const queryKeys = {
  gatewayStatus: ["gatewayStatus"] as const,
  connections: ["connections"] as const,
  grants: (includeInactive: boolean) => ["grants", { includeInactive }] as const,
  allGrants: ["grants"] as const,
  clients: ["clients"] as const,
  activity: (limit: number) => ["activity", { limit }] as const,
  allActivity: ["activity"] as const,
  settings: ["settings"] as const,
  pending: ["pending"] as const,
};

/** What each change event invalidates (prefix keys: every variant of the query). */
export const INVALIDATES: Record<ChangeKind, readonly QueryKey[]> = {
  // A consent request is a pending grant: it appears and goes with the grants.
  grants: [queryKeys.allGrants, queryKeys.pending],
  connections: [queryKeys.connections],
  clients: [queryKeys.clients],
  activity: [queryKeys.allActivity],
  settings: [queryKeys.settings],
};

/**
 * The gateway's status, pulled when the window mounts. Anything emitted before `listen()`
 * resolves is lost, so the first state always comes from a pull.
 */
export function useGatewayStatus() {
  const { api } = useBackend();
  return useQuery({
    queryKey: queryKeys.gatewayStatus,
    queryFn: () => api.getGatewayStatus(),
  });
}

export function useConnections() {
  const { api } = useBackend();
  return useQuery({ queryKey: queryKeys.connections, queryFn: () => api.listConnections() });
}

export function useGrants(includeInactive = false) {
  const { api } = useBackend();
  return useQuery({
    queryKey: queryKeys.grants(includeInactive),
    queryFn: () => api.listGrants(includeInactive),
  });
}

export function useClients() {
  const { api } = useBackend();
  return useQuery({ queryKey: queryKeys.clients, queryFn: () => api.listClients() });
}

export function useActivity(limit = ACTIVITY_LIMIT) {
  const { api } = useBackend();
  return useQuery({
    queryKey: queryKeys.activity(limit),
    queryFn: () => api.listActivity(limit),
  });
}

export function useSettings() {
  const { api } = useBackend();
  return useQuery({ queryKey: queryKeys.settings, queryFn: () => api.getSettings() });
}

/** The OAuth provider templates (they never change while the app runs). */
export function useOAuthTemplates() {
  const { api } = useBackend();
  return useQuery({
    queryKey: ["oauthTemplates"],
    queryFn: () => api.listOAuthTemplates(),
    staleTime: Infinity,
  });
}

/** Probes an upstream URL for OAuth (a mutation: it is asked for, not kept in the cache). */
export function useDetectAuth() {
  const { api } = useBackend();
  return useMutation({
    mutationFn: ({ url, legacy }: { url: string; legacy: boolean }) => api.detectAuth(url, legacy),
  });
}

/** Grants active on a connection that disabling or removing it would revoke. */
export function useGrantsAtRisk(key: string | null) {
  const { api } = useBackend();
  return useQuery({
    queryKey: ["grantsAtRisk", key],
    queryFn: () => api.grantsAtRisk(key ?? ""),
    enabled: key !== null,
  });
}

/** After a mutation, refresh what it changed at once (the change event would too, a moment later). */
function invalidate(client: QueryClient, kinds: readonly ChangeKind[]) {
  for (const kind of kinds)
    for (const queryKey of INVALIDATES[kind]) void client.invalidateQueries({ queryKey });
}

const GRANT_KINDS: readonly ChangeKind[] = ["grants", "connections", "clients", "activity"];

export function useRevokeGrants() {
  const { api } = useBackend();
  const client = useQueryClient();
  return useMutation({
    mutationFn: (ids: string[]) => api.revokeGrants(ids),
    onSettled: () => invalidate(client, GRANT_KINDS),
  });
}

export function useForgetClient() {
  const { api } = useBackend();
  const client = useQueryClient();
  return useMutation({
    mutationFn: (clientId: string) => api.forgetClient(clientId),
    onSettled: () => invalidate(client, GRANT_KINDS),
  });
}

export function useAddConnection() {
  const { api } = useBackend();
  const client = useQueryClient();
  return useMutation({
    mutationFn: (input: NewConnectionRequest) => api.addConnection(input),
    onSettled: () => invalidate(client, ["connections", "activity"]),
  });
}

export function useAddLocalCommand() {
  const { api } = useBackend();
  const client = useQueryClient();
  return useMutation({
    mutationFn: (input: NewStdioConnectionRequest) => api.addLocalCommand(input),
    onSettled: () => invalidate(client, ["connections", "activity"]),
  });
}

export function usePreviewConnectionEdit() {
  const { api } = useBackend();
  return useMutation({
    mutationFn: ({ key, changes }: { key: string; changes: ConnectionChangesRequest }) =>
      api.previewConnectionEdit(key, changes),
  });
}

export function useEditConnection() {
  const { api } = useBackend();
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ key, changes }: { key: string; changes: ConnectionChangesRequest }) =>
      api.editConnection(key, changes),
    onSettled: () => invalidate(client, GRANT_KINDS),
  });
}

export function useSetConnectionEnabled() {
  const { api } = useBackend();
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ key, enabled }: { key: string; enabled: boolean }) =>
      api.setConnectionEnabled(key, enabled),
    onSettled: () => invalidate(client, GRANT_KINDS),
  });
}

export function useRemoveConnection() {
  const { api } = useBackend();
  const client = useQueryClient();
  return useMutation({
    mutationFn: (key: string) => api.removeConnection(key),
    onSettled: () => invalidate(client, GRANT_KINDS),
  });
}

/**
 * Starts an upstream sign-in in the system browser. Settling refreshes the connections; the
 * sign-in itself completes later, in the browser, and arrives as a `connections` change event.
 */
export function useStartSignin() {
  const { api } = useBackend();
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ key, callback = "loopback" }: { key: string; callback?: SigninCallback }) =>
      api.startSignin(key, callback),
    onSettled: () => invalidate(client, ["connections", "activity"]),
  });
}

export function useSignOut() {
  const { api } = useBackend();
  const client = useQueryClient();
  return useMutation({
    mutationFn: (key: string) => api.signOut(key),
    onSettled: () => invalidate(client, ["connections", "activity"]),
  });
}

export function useUpdateSettings() {
  const { api } = useBackend();
  const client = useQueryClient();
  return useMutation({
    mutationFn: (settings: Settings) => api.updateSettings(settings),
    onSuccess: (saved) => client.setQueryData(queryKeys.settings, saved),
  });
}

/**
 * Keeps the query cache current without polling: invalidates the queries a backend change event
 * names. Once listening has started it refetches everything once, because events emitted before
 * `listen()` resolved are lost. Mount it once, near the root.
 */
export function useBackendEvents() {
  const { api } = useBackend();
  const client = useQueryClient();
  useEffect(() => {
    let stop: (() => void) | null = null;
    let cancelled = false;
    void api
      .onChanged((what) => {
        for (const queryKey of INVALIDATES[what]) void client.invalidateQueries({ queryKey });
      })
      .then((unlisten) => {
        if (cancelled) {
          unlisten();
          return;
        }
        stop = unlisten;
        void client.invalidateQueries();
      })
      .catch(() => {
        // No events (e.g. the bridge is missing): the queries still pull on mount.
      });
    return () => {
      cancelled = true;
      stop?.();
    };
  }, [api, client]);
}

/** Consent requests waiting for the person (the Requests view). */
export function usePendingRequests() {
  const { api } = useBackend();
  return useQuery({ queryKey: queryKeys.pending, queryFn: () => api.listPendingRequests() });
}

/** Approves or denies a pending request; the lists follow from the backend's change events. */
export function useDecidePendingRequest() {
  const { api } = useBackend();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ id, approve, tools }: { id: string; approve: boolean; tools: string[] | null }) =>
      api.decidePendingRequest(id, approve, tools),
    onSettled: () => {
      void queryClient.invalidateQueries({ queryKey: queryKeys.pending });
      void queryClient.invalidateQueries({ queryKey: queryKeys.allGrants });
    },
  });
}
