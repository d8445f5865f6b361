import { invoke } from "@tauri-apps/api/core";
import type { GatewayStatus } from "./bindings/GatewayStatus";
import { toIpcError } from "./errors";
import type { GatehouseApi } from "./types";

/** Calls a command and rejects with an `IpcError`, whatever the bridge rejected with. */
async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (error) {
    throw toIpcError(error);
  }
}

export const tauriApi: GatehouseApi = {
  getGatewayStatus: () => call<GatewayStatus>("gateway_status"),
};
