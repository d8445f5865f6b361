/**
 * The one door to the backend.
 *
 * Only files in src/api/ import @tauri-apps/api. Everything else talks to the
 * typed `GatehouseApi`, which has two implementations: `tauriApi` (Tauri IPC) and
 * `createFakeApi()` (in memory). Keeping Tauri behind this door lets component
 * tests run against the fake, lets the page open in a plain browser as a preview,
 * and gives one place to see every command the UI depends on.
 * src/architecture.test.ts fails if anything outside this folder imports Tauri.
 */
import type { IpcError } from "./types";
import { createFakeApi } from "./fake";
import { tauriApi } from "./tauri";
import type { Backend } from "./context";

export type { GatehouseApi, IpcError } from "./types";
export { TRANSPORT_ERROR, CHANGED_EVENT, CONSENT_REQUESTED_EVENT } from "./types";
export type { ActivityView } from "./bindings/ActivityView";
export type { CallerView } from "./bindings/CallerView";
export type { Delivery } from "./bindings/Delivery";
export type { PendingRequestView } from "./bindings/PendingRequestView";
export type { RequestDecided } from "./bindings/RequestDecided";
export type { AuthDetection } from "./bindings/AuthDetection";
export type { ChangeKind } from "./bindings/ChangeKind";
export type { ClientConfigPreview } from "./bindings/ClientConfigPreview";
export type { ClientConfigWritten } from "./bindings/ClientConfigWritten";
export type { ClientForgotten } from "./bindings/ClientForgotten";
export type { DetectedClient } from "./bindings/DetectedClient";
export type { ServerLog } from "./bindings/ServerLog";
export type { ImportCandidate } from "./bindings/ImportCandidate";
export type { ImportPreview } from "./bindings/ImportPreview";
export type { ImportResult } from "./bindings/ImportResult";
export type { NewStdioConnectionRequest } from "./bindings/NewStdioConnectionRequest";
export type { ClientView } from "./bindings/ClientView";
export type { ConnectionChange } from "./bindings/ConnectionChange";
export type { ConnectionChangesRequest } from "./bindings/ConnectionChangesRequest";
export type { ConnectionRemoved } from "./bindings/ConnectionRemoved";
export type { ConnectionView } from "./bindings/ConnectionView";
export type { OAuthView } from "./bindings/OAuthView";
export type { EditPreview } from "./bindings/EditPreview";
export type { GatewayStatus } from "./bindings/GatewayStatus";
export type { GrantsRevoked } from "./bindings/GrantsRevoked";
export type { GrantView } from "./bindings/GrantView";
export type { HeaderInput } from "./bindings/HeaderInput";
export type { KeySourceInfo } from "./bindings/KeySourceInfo";
export type { KeySourceKind } from "./bindings/KeySourceKind";
export type { NewConnectionRequest } from "./bindings/NewConnectionRequest";
export type { OAuthRequest } from "./bindings/OAuthRequest";
export type { OAuthTemplateView } from "./bindings/OAuthTemplateView";
export type { Settings } from "./bindings/Settings";
export type { SignedOut } from "./bindings/SignedOut";
export type { SigninCallback } from "./bindings/SigninCallback";
export type { SigninStarted } from "./bindings/SigninStarted";
export type { Theme } from "./bindings/Theme";
export type { TokenHealth } from "./bindings/TokenHealth";
export { describeIpcError, isIpcError, toIpcError } from "./errors";
export {
  createFakeApi,
  EMPTY_STATE,
  sampleState,
  SAMPLE_ACTIVITY,
  SAMPLE_CLIENTS,
  SAMPLE_CONNECTIONS,
  SAMPLE_GATEWAY_STATUS,
  SAMPLE_GRANTS,
  SAMPLE_PENDING,
  SAMPLE_NOW,
  SAMPLE_OAUTH_TEMPLATES,
  SAMPLE_SETTINGS,
  type FakeApi,
  type FakeState,
} from "./fake";
export { tauriApi } from "./tauri";
export { BackendProvider, useBackend, type Backend } from "./context";
export * from "./queries";

declare module "@tanstack/react-query" {
  interface Register {
    // Every query and mutation function here rejects with an IpcError.
    defaultError: IpcError;
  }
}

/** Tauri when its bridge is present; otherwise the fake, marked as a preview. */
export function detectBackend(win: object = window): Backend {
  if ("__TAURI_INTERNALS__" in win) return { api: tauriApi, preview: false };
  return { api: createFakeApi(), preview: true };
}
