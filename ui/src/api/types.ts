import type { ActivityView } from "./bindings/ActivityView";
import type { AuthDetection } from "./bindings/AuthDetection";
import type { ChangeKind } from "./bindings/ChangeKind";
import type { ClientConfigPreview } from "./bindings/ClientConfigPreview";
import type { ClientConfigWritten } from "./bindings/ClientConfigWritten";
import type { ClientForgotten } from "./bindings/ClientForgotten";
import type { DetectedClient } from "./bindings/DetectedClient";
import type { ServerLog } from "./bindings/ServerLog";
import type { NewStdioConnectionRequest } from "./bindings/NewStdioConnectionRequest";
import type { ImportCandidate } from "./bindings/ImportCandidate";
import type { ImportPreview } from "./bindings/ImportPreview";
import type { ImportResult } from "./bindings/ImportResult";
import type { ClientView } from "./bindings/ClientView";
import type { ConnectionChange } from "./bindings/ConnectionChange";
import type { ConnectionChangesRequest } from "./bindings/ConnectionChangesRequest";
import type { ConnectionRemoved } from "./bindings/ConnectionRemoved";
import type { ConnectionView } from "./bindings/ConnectionView";
import type { EditPreview } from "./bindings/EditPreview";
import type { GatewayStatus } from "./bindings/GatewayStatus";
import type { GrantsRevoked } from "./bindings/GrantsRevoked";
import type { GrantView } from "./bindings/GrantView";
import type { IpcError as BackendError } from "./bindings/IpcError";
import type { NewConnectionRequest } from "./bindings/NewConnectionRequest";
import type { OAuthTemplateView } from "./bindings/OAuthTemplateView";
import type { Settings } from "./bindings/Settings";
import type { ConsentRequested } from "./bindings/ConsentRequested";
import type { PendingRequestView } from "./bindings/PendingRequestView";
import type { RequestDecided } from "./bindings/RequestDecided";
import type { SignedOut } from "./bindings/SignedOut";
import type { SigninCallback } from "./bindings/SigninCallback";
import type { SigninStarted } from "./bindings/SigninStarted";

/**
 * A failed backend call. Tauri commands reject with the Rust IPC error (generated
 * from Rust into `bindings/IpcError.ts`), tagged `{ type, data }`; the UI branches
 * on `type`, never on message text.
 *
 * `Transport` is the one tag the UI itself produces: the call was rejected with
 * something that is not a tagged error (no such command, the bridge is missing).
 */
export type IpcError = BackendError | { type: "Transport"; data: string };

export const TRANSPORT_ERROR = "Transport";

/**
 * The Tauri events carrying `Changed` (`{ what: ChangeKind }`) and `ConsentRequested` (the app also
 * raises a desktop notification), as the backend declares them.
 */
export { CHANGED_EVENT, CONSENT_REQUESTED_EVENT } from "./bindings/ipc";

/**
 * Everything the UI may ask of the backend. Tauri and the in-memory fake both implement it.
 * `key` is a connection's id or slug. Every method rejects with an `IpcError`.
 */
export interface GatehouseApi {
  getGatewayStatus(): Promise<GatewayStatus>;
  listConnections(): Promise<ConnectionView[]>;
  /** The header value (a secret) goes to the backend and never comes back in any answer. */
  addConnection(input: NewConnectionRequest): Promise<ConnectionView>;
  /**
   * How the upstream at `url` signs in (an unauthenticated probe by the backend): OAuth only with
   * protected resource metadata in sight (or, with `legacy`, the 2025-03-26 fallback), a header when
   * it wants credentials without OAuth metadata. `finding` is a sentence to show.
   */
  detectAuth(url: string, legacy: boolean): Promise<AuthDetection>;
  /** The OAuth provider templates a new connection may use (data in the core, not code). */
  listOAuthTemplates(): Promise<OAuthTemplateView[]>;
  /** Whether an edit is material and how many grants it would revoke; changes nothing. */
  previewConnectionEdit(key: string, changes: ConnectionChangesRequest): Promise<EditPreview>;
  editConnection(key: string, changes: ConnectionChangesRequest): Promise<ConnectionChange>;
  /** Active grants that disabling or removing the connection would revoke. */
  grantsAtRisk(key: string): Promise<number>;
  setConnectionEnabled(key: string, enabled: boolean): Promise<ConnectionChange>;
  removeConnection(key: string): Promise<ConnectionRemoved>;
  listGrants(includeInactive: boolean): Promise<GrantView[]>;
  revokeGrants(ids: string[]): Promise<GrantsRevoked>;
  listClients(): Promise<ClientView[]>;
  forgetClient(clientId: string): Promise<ClientForgotten>;
  /** The audit log, newest first. */
  listActivity(limit: number): Promise<ActivityView[]>;
  getSettings(): Promise<Settings>;
  /** Saves the settings; a changed port takes effect at the next launch (`restart_required`). */
  updateSettings(s: Settings): Promise<Settings>;
  /**
   * Starts an upstream OAuth sign-in: the backend opens the authorization URL in the system
   * browser, which comes back through `callback` (the gateway's loopback callback, or the app's
   * `dev.gatehouse:` deep link). Resolves once the browser was opened (`outcome: "browser"`), or
   * at once for a client-credentials connection (`outcome: "connected"`); the connection's new
   * status arrives later as a `connections` change. The answer carries no secret.
   */
  startSignin(key: string, callback: SigninCallback): Promise<SigninStarted>;
  /** Signs an OAuth connection out: revoked at the upstream (best effort), tokens deleted. */
  signOut(key: string): Promise<SignedOut>;
  /** Consent requests waiting for the person, oldest first. */
  listPendingRequests(): Promise<PendingRequestView[]>;
  /**
   * Approves (every tool when `tools` is null, else only those) or denies a pending request; the
   * backend sends the answer to the client's callback and says how it got there.
   */
  decidePendingRequest(id: string, approve: boolean, tools: string[] | null): Promise<RequestDecided>;
  /** The MCP clients on this computer (the config files Gatehouse knows) and their servers. */
  listClientApps(): Promise<DetectedClient[]>;
  /**
   * What connecting `client` to the connection `key` would change in the client's config, as a
   * unified diff (other servers' keys shown as `[secret]`); writes nothing. For VS Code,
   * `workspace` (a folder's absolute path) picks that folder's `.vscode/mcp.json` instead of the
   * user's `mcp.json`; `null` for every other client.
   */
  previewClientConfig(client: string, key: string, workspace: string | null): Promise<ClientConfigPreview>;
  /** Makes the previewed change (`diff`: what was shown); refused if the file changed since. */
  writeClientConfig(client: string, key: string, workspace: string | null, diff: string): Promise<ClientConfigWritten>;
  /** Puts the client's config back, byte for byte, as it was before Gatehouse's last change. */
  undoClientConfig(client: string): Promise<ClientConfigWritten>;
  /**
   * Adds a connection whose upstream is a local command speaking MCP over stdio; the environment
   * values are secrets (sealed by the backend, never sent back).
   */
  addLocalCommand(input: NewStdioConnectionRequest): Promise<ConnectionView>;
  /** The servers in a client's config, and whether each can move behind Gatehouse. */
  listImportCandidates(client: string): Promise<ImportCandidate[]>;
  /** What importing `server` of `client` would do: the new connection, the secrets, the diff. */
  previewImport(client: string, server: string): Promise<ImportPreview>;
  /** Imports as previewed (`diff`: what was shown); the secrets move into Gatehouse's store. */
  importFromClient(client: string, server: string, diff: string): Promise<ImportResult>;
  /** The end of a local stdio server's log (its stderr; sealed values masked). */
  serverLog(key: string): Promise<ServerLog>;
  /**
   * Calls `cb` whenever the backend's data of a kind changed (in the app or through `gatehoused`
   * in another process). Resolves, once listening, to a function that stops listening. Changes
   * made before it resolves are not reported: pull current state after it resolves.
   */
  onChanged(cb: (what: ChangeKind) => void): Promise<() => void>;
  /** Calls `cb` when a client asks for consent (the desktop notification's event). */
  onConsentRequested(cb: (request: ConsentRequested) => void): Promise<() => void>;
}
