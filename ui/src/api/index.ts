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
export { TRANSPORT_ERROR } from "./types";
export type { GatewayStatus } from "./bindings/GatewayStatus";
export type { KeySourceInfo } from "./bindings/KeySourceInfo";
export type { KeySourceKind } from "./bindings/KeySourceKind";
export { describeIpcError, isIpcError, toIpcError } from "./errors";
export { createFakeApi, SAMPLE_GATEWAY_STATUS, type FakeApi, type FakeState } from "./fake";
export { tauriApi } from "./tauri";
export { BackendProvider, useBackend, type Backend } from "./context";
export { queryKeys, useGatewayStatus } from "./queries";

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
