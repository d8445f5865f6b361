// Generated from gatehouse-core's admin::ipc_surface by `cargo xtask bindings`; do not edit.
import type { ActivityView } from "./ActivityView";
import type { AuthDetection } from "./AuthDetection";
import type { Changed } from "./Changed";
import type { ClientConfigPreview } from "./ClientConfigPreview";
import type { ClientConfigWritten } from "./ClientConfigWritten";
import type { ClientForgotten } from "./ClientForgotten";
import type { ClientView } from "./ClientView";
import type { ConnectionChange } from "./ConnectionChange";
import type { ConnectionChangesRequest } from "./ConnectionChangesRequest";
import type { ConnectionRemoved } from "./ConnectionRemoved";
import type { ConnectionView } from "./ConnectionView";
import type { ConsentRequested } from "./ConsentRequested";
import type { DetectedClient } from "./DetectedClient";
import type { EditPreview } from "./EditPreview";
import type { GatewayStatus } from "./GatewayStatus";
import type { GrantView } from "./GrantView";
import type { GrantsRevoked } from "./GrantsRevoked";
import type { ImportCandidate } from "./ImportCandidate";
import type { ImportPreview } from "./ImportPreview";
import type { ImportResult } from "./ImportResult";
import type { NewConnectionRequest } from "./NewConnectionRequest";
import type { NewStdioConnectionRequest } from "./NewStdioConnectionRequest";
import type { OAuthTemplateView } from "./OAuthTemplateView";
import type { PendingRequestView } from "./PendingRequestView";
import type { RequestDecided } from "./RequestDecided";
import type { ServerLog } from "./ServerLog";
import type { Settings } from "./Settings";
import type { SignedOut } from "./SignedOut";
import type { SigninCallback } from "./SigninCallback";
import type { SigninStarted } from "./SigninStarted";

/** Every Tauri command: the arguments the window sends (camelCase, as Tauri maps them) and the answer. */
export type IpcCommands = {
  gateway_status: { args: Record<string, never>; returns: GatewayStatus };
  list_connections: { args: Record<string, never>; returns: Array<ConnectionView> };
  add_connection: { args: { input: NewConnectionRequest }; returns: ConnectionView };
  detect_auth: { args: { url: string; legacy: boolean }; returns: AuthDetection };
  list_oauth_templates: { args: Record<string, never>; returns: Array<OAuthTemplateView> };
  preview_connection_edit: { args: { key: string; changes: ConnectionChangesRequest }; returns: EditPreview };
  edit_connection: { args: { key: string; changes: ConnectionChangesRequest }; returns: ConnectionChange };
  grants_at_risk: { args: { key: string }; returns: number };
  set_connection_enabled: { args: { key: string; enabled: boolean }; returns: ConnectionChange };
  remove_connection: { args: { key: string }; returns: ConnectionRemoved };
  list_grants: { args: { includeInactive: boolean }; returns: Array<GrantView> };
  revoke_grants: { args: { ids: Array<string> }; returns: GrantsRevoked };
  list_clients: { args: Record<string, never>; returns: Array<ClientView> };
  forget_client: { args: { clientId: string }; returns: ClientForgotten };
  list_activity: { args: { limit: number }; returns: Array<ActivityView> };
  get_settings: { args: Record<string, never>; returns: Settings };
  update_settings: { args: { settings: Settings }; returns: Settings };
  start_signin: { args: { slugOrId: string; callback: SigninCallback }; returns: SigninStarted };
  sign_out: { args: { slug: string }; returns: SignedOut };
  list_pending_requests: { args: Record<string, never>; returns: Array<PendingRequestView> };
  decide_pending_request: { args: { id: string; approve: boolean; tools: Array<string> | null }; returns: RequestDecided };
  list_client_apps: { args: Record<string, never>; returns: Array<DetectedClient> };
  preview_client_config: { args: { client: string; key: string; workspace: string | null }; returns: ClientConfigPreview };
  write_client_config: { args: { client: string; key: string; workspace: string | null; diff: string }; returns: ClientConfigWritten };
  undo_client_config: { args: { client: string }; returns: ClientConfigWritten };
  server_log: { args: { key: string }; returns: ServerLog };
  add_stdio_connection: { args: { input: NewStdioConnectionRequest }; returns: ConnectionView };
  list_import_candidates: { args: { client: string }; returns: Array<ImportCandidate> };
  preview_import: { args: { client: string; server: string }; returns: ImportPreview };
  import_from_client: { args: { client: string; server: string; diff: string }; returns: ImportResult };
};

/** Every event the app emits, with its payload. */
export type IpcEvents = {
  "gatehouse://changed": Changed;
  "gatehouse://consent-requested": ConsentRequested;
};

export const CHANGED_EVENT = "gatehouse://changed";
export const CONSENT_REQUESTED_EVENT = "gatehouse://consent-requested";
