import type { ClientForgotten } from "../../api/bindings/ClientForgotten";
import type { ClientView } from "../../api/bindings/ClientView";
import type { ConnectionChange } from "../../api/bindings/ConnectionChange";
import type { ConnectionRemoved } from "../../api/bindings/ConnectionRemoved";
import type { ConnectionView } from "../../api/bindings/ConnectionView";
import type { EditPreview } from "../../api/bindings/EditPreview";
import type { GatewayStatus } from "../../api/bindings/GatewayStatus";
import type { GrantsRevoked } from "../../api/bindings/GrantsRevoked";
import type { GrantView } from "../../api/bindings/GrantView";
import type { TokenHealth } from "../../api/bindings/TokenHealth";
import type { IpcError as BaseIpcError } from "../../api";

export type {
  ClientForgotten,
  ClientView,
  ConnectionChange,
  ConnectionRemoved,
  ConnectionView,
  EditPreview,
  GatewayStatus,
  GrantsRevoked,
  GrantView,
  TokenHealth,
};

export type IpcError =
  | BaseIpcError
  | { type: "InvalidInput"; data: { field: string; message: string } }
  | { type: "NotFound"; data: { message: string } }
  | { type: "Conflict"; data: { message: string } };

// Shapes as in the Rust request DTOs being written on app-shell (admin/requests.rs, settings.rs, activity.rs).
export type HeaderInput = { name: string; value: string };
export type NewConnectionRequest = { slug: string; name: string; upstream_url: string; header: HeaderInput | null };
export type ConnectionChangesRequest = {
  name?: string | null;
  upstream_url?: string | null;
  header?: HeaderInput | null;
  remove_header?: boolean;
};
export type Settings = {
  port: number;
  retention_days: number;
  start_at_login: boolean;
  theme: "system" | "light" | "dark";
  listening_port?: number | null;
  restart_required?: boolean;
};
export type ActivityView = {
  id: number;
  at: number;
  kind: string;
  grant_id: string | null;
  client_id: string | null;
  connection_id: string | null;
  reason: string | null;
  summary: string;
};
export type ChangeKind = "connections" | "grants" | "clients" | "activity" | "settings" | "status";

export interface GatehouseApi {
  getGatewayStatus(): Promise<GatewayStatus>;
  listConnections(): Promise<ConnectionView[]>;
  addConnection(input: NewConnectionRequest): Promise<ConnectionView>;
  previewConnectionEdit(key: string, changes: ConnectionChangesRequest): Promise<EditPreview>;
  editConnection(key: string, changes: ConnectionChangesRequest): Promise<ConnectionChange>;
  grantsAtRisk(key: string): Promise<number>;
  setConnectionEnabled(key: string, enabled: boolean): Promise<ConnectionChange>;
  removeConnection(key: string): Promise<ConnectionRemoved>;
  listGrants(includeInactive: boolean): Promise<GrantView[]>;
  revokeGrants(ids: string[]): Promise<GrantsRevoked>;
  listClients(): Promise<ClientView[]>;
  forgetClient(clientId: string): Promise<ClientForgotten>;
  listActivity(limit: number): Promise<ActivityView[]>;
  getSettings(): Promise<Settings>;
  updateSettings(settings: Settings): Promise<Settings>;
  onChanged(callback: (what: ChangeKind) => void): Promise<() => void>;
}
