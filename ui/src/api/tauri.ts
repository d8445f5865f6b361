import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import type { IpcCommands, IpcEvents } from "./bindings/ipc";
import { toIpcError } from "./errors";
import { CHANGED_EVENT, CONSENT_REQUESTED_EVENT, type GatehouseApi } from "./types";

/**
 * Calls a command and rejects with an `IpcError`, whatever the bridge rejected with. The command's
 * name, arguments and answer are checked against `bindings/ipc.ts`, generated from the backend's
 * declared IPC surface (`admin::ipc_surface`).
 */
async function call<K extends keyof IpcCommands>(
  command: K,
  args: IpcCommands[K]["args"],
): Promise<IpcCommands[K]["returns"]> {
  try {
    return await invoke<IpcCommands[K]["returns"]>(command, args);
  } catch (error) {
    throw toIpcError(error);
  }
}

/** Listens to an event of the declared IPC surface, with its payload's type. */
function on<E extends keyof IpcEvents>(event: E, handler: (payload: IpcEvents[E]) => void) {
  return listen<IpcEvents[E]>(event, (e) => handler(e.payload));
}

// Tauri maps camelCase argument names to the commands' snake_case parameters.
export const tauriApi: GatehouseApi = {
  getGatewayStatus: () => call("gateway_status", {}),
  listConnections: () => call("list_connections", {}),
  addConnection: (input) => call("add_connection", { input }),
  detectAuth: (url, legacy) => call("detect_auth", { url, legacy }),
  listOAuthTemplates: () => call("list_oauth_templates", {}),
  previewConnectionEdit: (key, changes) =>
    call("preview_connection_edit", { key, changes }),
  editConnection: (key, changes) => call("edit_connection", { key, changes }),
  grantsAtRisk: (key) => call("grants_at_risk", { key }),
  setConnectionEnabled: (key, enabled) =>
    call("set_connection_enabled", { key, enabled }),
  removeConnection: (key) => call("remove_connection", { key }),
  listGrants: (includeInactive) => call("list_grants", { includeInactive }),
  revokeGrants: (ids) => call("revoke_grants", { ids }),
  listClients: () => call("list_clients", {}),
  forgetClient: (clientId) => call("forget_client", { clientId }),
  listActivity: (limit) => call("list_activity", { limit }),
  getSettings: () => call("get_settings", {}),
  updateSettings: (settings) => call("update_settings", { settings }),
  startSignin: (slugOrId, callback) => call("start_signin", { slugOrId, callback }),
  signOut: (slug) => call("sign_out", { slug }),
  listPendingRequests: () => call("list_pending_requests", {}),
  decidePendingRequest: (id, approve, tools) =>
    call("decide_pending_request", { id, approve, tools }),
  listClientApps: () => call("list_client_apps", {}),
  previewClientConfig: (client, key, workspace) =>
    call("preview_client_config", { client, key, workspace }),
  writeClientConfig: (client, key, workspace, diff) =>
    call("write_client_config", { client, key, workspace, diff }),
  undoClientConfig: (client) => call("undo_client_config", { client }),
  serverLog: (key) => call("server_log", { key }),
  addLocalCommand: (input) => call("add_stdio_connection", { input }),
  listImportCandidates: (client) => call("list_import_candidates", { client }),
  previewImport: (client, server) => call("preview_import", { client, server }),
  importFromClient: (client, server, diff) =>
    call("import_from_client", { client, server, diff }),
  onChanged: (cb) => on(CHANGED_EVENT, (payload) => cb(payload.what)),
  onConsentRequested: (cb) => on(CONSENT_REQUESTED_EVENT, cb),
};
