import type { GatewayStatus } from "./bindings/GatewayStatus";
import type { IpcError as BackendError } from "./bindings/IpcError";

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

/** Everything the UI may ask of the backend. Tauri and the in-memory fake both implement it. */
export interface GatehouseApi {
  getGatewayStatus(): Promise<GatewayStatus>;
}
