import type { GatewayStatus } from "./bindings/GatewayStatus";
import type { GatehouseApi, IpcError } from "./types";

export const SAMPLE_GATEWAY_STATUS: GatewayStatus = {
  address: "127.0.0.1",
  port: 8707,
  data_dir: "/preview/gatehouse",
  key_source: { kind: "Fixed", detail: "fixed preview key (not secret)" },
  version: "0.0.0-preview",
};

export type FakeState = {
  gatewayStatus: GatewayStatus;
  /** When set, every call rejects with this error instead of answering. */
  error: IpcError | null;
};

/** An in-memory backend for component tests and for opening the page without Tauri. */
export type FakeApi = GatehouseApi & {
  readonly state: FakeState;
  setGatewayStatus(status: GatewayStatus): void;
  failWith(error: IpcError | null): void;
  /** How many times each method was called. */
  readonly calls: { getGatewayStatus: number };
};

export function createFakeApi(initial: Partial<FakeState> = {}): FakeApi {
  const state: FakeState = {
    gatewayStatus: structuredClone(initial.gatewayStatus ?? SAMPLE_GATEWAY_STATUS),
    error: initial.error ?? null,
  };
  const calls = { getGatewayStatus: 0 };

  const answer = <T>(value: () => T): Promise<T> =>
    state.error ? Promise.reject(state.error) : Promise.resolve(structuredClone(value()));

  return {
    state,
    calls,
    setGatewayStatus(status) {
      state.gatewayStatus = structuredClone(status);
    },
    failWith(error) {
      state.error = error;
    },
    getGatewayStatus() {
      calls.getGatewayStatus += 1;
      return answer(() => state.gatewayStatus);
    },
  };
}
