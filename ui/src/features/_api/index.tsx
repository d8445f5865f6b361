import { QueryClient, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, useContext, useEffect, type ReactNode } from "react";
import { describeIpcError as describeBase } from "../../api";
import { createViewsFake } from "./fake";
import type { ChangeKind, ConnectionChangesRequest, GatehouseApi, IpcError, NewConnectionRequest, Settings } from "./types";

export * from "./types";
export { createViewsFake, sampleState, type FakeState, type ViewsFake } from "./fake";

const ApiContext = createContext<GatehouseApi | null>(null);

export const keys = {
  connections: ["connections"] as const,
  grants: ["grants"] as const,
  clients: ["clients"] as const,
  activity: ["activity"] as const,
  settings: ["settings"] as const,
};

const AFFECTS: Record<ChangeKind, readonly (readonly string[])[]> = {
  connections: [keys.connections, keys.grants, keys.activity],
  grants: [keys.grants, keys.connections, keys.clients, keys.activity],
  clients: [keys.clients, keys.grants, keys.activity],
  activity: [keys.activity],
  settings: [keys.settings],
  status: [],
};

function invalidate(queryClient: QueryClient, what: ChangeKind) {
  for (const key of AFFECTS[what]) void queryClient.invalidateQueries({ queryKey: key });
}

/** Provides the views' API and turns backend change events into query invalidations (no polling). */
export function ViewsApiProvider({ api, children }: { api?: GatehouseApi; children: ReactNode }) {
  const inherited = useContext(ApiContext);
  const value = api ?? inherited ?? previewApi();
  const queryClient = useQueryClient();
  useEffect(() => {
    let stop: (() => void) | undefined;
    let cancelled = false;
    void value.onChanged((what) => invalidate(queryClient, what)).then((unlisten) => {
      if (cancelled) unlisten();
      else stop = unlisten;
    });
    return () => {
      cancelled = true;
      stop?.();
    };
  }, [value, queryClient]);
  return <ApiContext.Provider value={value}>{children}</ApiContext.Provider>;
}

let preview: GatehouseApi | null = null;
function previewApi(): GatehouseApi {
  preview ??= createViewsFake();
  return preview;
}

export function useApi(): GatehouseApi {
  const api = useContext(ApiContext);
  if (!api) throw new Error("useApi must be used inside <ViewsApiProvider>");
  return api;
}

type Q<T> = ReturnType<typeof useQuery<T, IpcError>>;

export function useConnections(): Q<Awaited<ReturnType<GatehouseApi["listConnections"]>>> {
  const api = useApi();
  return useQuery({ queryKey: keys.connections, queryFn: () => api.listConnections() });
}
export function useGrants(includeInactive = false): Q<Awaited<ReturnType<GatehouseApi["listGrants"]>>> {
  const api = useApi();
  return useQuery({ queryKey: [...keys.grants, includeInactive], queryFn: () => api.listGrants(includeInactive) });
}
export function useClients(): Q<Awaited<ReturnType<GatehouseApi["listClients"]>>> {
  const api = useApi();
  return useQuery({ queryKey: keys.clients, queryFn: () => api.listClients() });
}
export function useActivity(limit: number): Q<Awaited<ReturnType<GatehouseApi["listActivity"]>>> {
  const api = useApi();
  return useQuery({ queryKey: [...keys.activity, limit], queryFn: () => api.listActivity(limit) });
}
export function useSettings(): Q<Settings> {
  const api = useApi();
  return useQuery({ queryKey: keys.settings, queryFn: () => api.getSettings() });
}

function useChange<A, R>(fn: (api: GatehouseApi, args: A) => Promise<R>, what: ChangeKind) {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation<R, IpcError, A>({
    mutationFn: (args) => fn(api, args),
    onSuccess: () => invalidate(queryClient, what),
  });
}

export const useRevokeGrants = () => useChange((api, ids: string[]) => api.revokeGrants(ids), "grants");
export const useAddConnection = () =>
  useChange((api, input: NewConnectionRequest) => api.addConnection(input), "connections");
export const useEditConnection = () =>
  useChange(
    (api, { key, changes }: { key: string; changes: ConnectionChangesRequest }) => api.editConnection(key, changes),
    "connections",
  );
export const useSetConnectionEnabled = () =>
  useChange(
    (api, { key, enabled }: { key: string; enabled: boolean }) => api.setConnectionEnabled(key, enabled),
    "connections",
  );
export const useRemoveConnection = () => useChange((api, key: string) => api.removeConnection(key), "connections");
export function useUpdateSettings() {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation<Settings, IpcError, Settings>({
    mutationFn: (settings) => api.updateSettings(settings),
    onSuccess: (saved) => queryClient.setQueryData(keys.settings, saved),
  });
}

export function describeIpcError(error: IpcError): string {
  switch (error.type) {
    case "InvalidInput":
      return `Invalid ${error.data.field}: ${error.data.message}`;
    case "NotFound":
    case "Conflict":
      return error.data.message;
    default:
      return describeBase(error);
  }
}
