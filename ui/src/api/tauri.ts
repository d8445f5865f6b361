import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import type { ActivityView } from "./bindings/ActivityView";
import type { AuthDetection } from "./bindings/AuthDetection";
import type { Changed } from "./bindings/Changed";
import type { ClientConfigPreview } from "./bindings/ClientConfigPreview";
import type { ClientConfigWritten } from "./bindings/ClientConfigWritten";
import type { ClientForgotten } from "./bindings/ClientForgotten";
import type { DetectedClient } from "./bindings/DetectedClient";
import type { ServerLog } from "./bindings/ServerLog";
import type { ImportCandidate } from "./bindings/ImportCandidate";
import type { ImportPreview } from "./bindings/ImportPreview";
import type { ImportResult } from "./bindings/ImportResult";
import type { ClientView } from "./bindings/ClientView";
import type { ConnectionChange } from "./bindings/ConnectionChange";
import type { ConnectionRemoved } from "./bindings/ConnectionRemoved";
import type { ConnectionView } from "./bindings/ConnectionView";
import type { EditPreview } from "./bindings/EditPreview";
import type { GatewayStatus } from "./bindings/GatewayStatus";
import type { GrantsRevoked } from "./bindings/GrantsRevoked";
import type { GrantView } from "./bindings/GrantView";
import type { OAuthTemplateView } from "./bindings/OAuthTemplateView";
import type { Settings } from "./bindings/Settings";
import type { ConsentRequested } from "./bindings/ConsentRequested";
import type { PendingRequestView } from "./bindings/PendingRequestView";
import type { RequestDecided } from "./bindings/RequestDecided";
import type { SignedOut } from "./bindings/SignedOut";
import type { SigninStarted } from "./bindings/SigninStarted";
import { toIpcError } from "./errors";
import { CHANGED_EVENT, CONSENT_REQUESTED_EVENT, type GatehouseApi } from "./types";

/** Calls a command and rejects with an `IpcError`, whatever the bridge rejected with. */
async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (error) {
    throw toIpcError(error);
  }
}

// Tauri maps camelCase argument names to the commands' snake_case parameters.
export const tauriApi: GatehouseApi = {
  getGatewayStatus: () => call<GatewayStatus>("gateway_status"),
  listConnections: () => call<ConnectionView[]>("list_connections"),
  addConnection: (input) => call<ConnectionView>("add_connection", { input }),
  detectAuth: (url, legacy) => call<AuthDetection>("detect_auth", { url, legacy }),
  listOAuthTemplates: () => call<OAuthTemplateView[]>("list_oauth_templates"),
  previewConnectionEdit: (key, changes) =>
    call<EditPreview>("preview_connection_edit", { key, changes }),
  editConnection: (key, changes) => call<ConnectionChange>("edit_connection", { key, changes }),
  grantsAtRisk: (key) => call<number>("grants_at_risk", { key }),
  setConnectionEnabled: (key, enabled) =>
    call<ConnectionChange>("set_connection_enabled", { key, enabled }),
  removeConnection: (key) => call<ConnectionRemoved>("remove_connection", { key }),
  listGrants: (includeInactive) => call<GrantView[]>("list_grants", { includeInactive }),
  revokeGrants: (ids) => call<GrantsRevoked>("revoke_grants", { ids }),
  listClients: () => call<ClientView[]>("list_clients"),
  forgetClient: (clientId) => call<ClientForgotten>("forget_client", { clientId }),
  listActivity: (limit) => call<ActivityView[]>("list_activity", { limit }),
  getSettings: () => call<Settings>("get_settings"),
  updateSettings: (settings) => call<Settings>("update_settings", { settings }),
  startSignin: (slugOrId, callback) => call<SigninStarted>("start_signin", { slugOrId, callback }),
  signOut: (slug) => call<SignedOut>("sign_out", { slug }),
  listPendingRequests: () => call<PendingRequestView[]>("list_pending_requests"),
  decidePendingRequest: (id, approve, tools) =>
    call<RequestDecided>("decide_pending_request", { id, approve, tools }),
  listClientApps: () => call<DetectedClient[]>("list_client_apps"),
  previewClientConfig: (client, key, workspace) =>
    call<ClientConfigPreview>("preview_client_config", { client, key, workspace }),
  writeClientConfig: (client, key, workspace, diff) =>
    call<ClientConfigWritten>("write_client_config", { client, key, workspace, diff }),
  undoClientConfig: (client) => call<ClientConfigWritten>("undo_client_config", { client }),
  serverLog: (key) => call<ServerLog>("server_log", { key }),
  addLocalCommand: (input) => call<ConnectionView>("add_stdio_connection", { input }),
  listImportCandidates: (client) => call<ImportCandidate[]>("list_import_candidates", { client }),
  previewImport: (client, server) => call<ImportPreview>("preview_import", { client, server }),
  importFromClient: (client, server, diff) =>
    call<ImportResult>("import_from_client", { client, server, diff }),
  onChanged: (cb) => listen<Changed>(CHANGED_EVENT, (event) => cb(event.payload.what)),
  onConsentRequested: (cb) =>
    listen<ConsentRequested>(CONSENT_REQUESTED_EVENT, (event) => cb(event.payload)),
};
