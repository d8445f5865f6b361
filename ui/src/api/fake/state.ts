/**
 * The fake backend's state: its shape (`FakeState`), a fresh copy of the samples to start from
 * (`sampleState`) and the empty variant (`EMPTY_STATE`).
 */
import type { ActivityView } from "../bindings/ActivityView";
import type { ClientView } from "../bindings/ClientView";
import type { ConnectionView } from "../bindings/ConnectionView";
import type { GatewayStatus } from "../bindings/GatewayStatus";
import type { PendingRequestView } from "../bindings/PendingRequestView";
import type { GrantView } from "../bindings/GrantView";
import type { Settings } from "../bindings/Settings";
import type { IpcError } from "../types";
import {
  SAMPLE_ACTIVITY,
  SAMPLE_CLIENTS,
  SAMPLE_CONNECTIONS,
  SAMPLE_GATEWAY_STATUS,
  SAMPLE_GRANTS,
  SAMPLE_PENDING,
  SAMPLE_SETTINGS,
} from "./samples";

export type FakeState = {
  gatewayStatus: GatewayStatus;
  connections: ConnectionView[];
  grants: GrantView[];
  /** Consent requests waiting for a decision. */
  pending: PendingRequestView[];
  clients: ClientView[];
  activity: ActivityView[];
  settings: Settings;
  /** When set, every call rejects with this error instead of answering. */
  error: IpcError | null;
};

/** Sample data: a few connections and grants (one without a client name, one with a tool
 * allow-list, one expiring soon, one expired, one revoked). Spread `EMPTY_STATE` into the
 * initial state to start from nothing. */
export function sampleState(): FakeState {
  return structuredClone({
    gatewayStatus: SAMPLE_GATEWAY_STATUS,
    connections: SAMPLE_CONNECTIONS,
    grants: SAMPLE_GRANTS,
    pending: SAMPLE_PENDING,
    clients: SAMPLE_CLIENTS,
    activity: SAMPLE_ACTIVITY,
    settings: SAMPLE_SETTINGS,
    error: null,
  });
}

/** A state with no connections, grants, clients or activity, for empty-state tests. */
export const EMPTY_STATE: Partial<FakeState> = {
  connections: [],
  grants: [],
  pending: [],
  clients: [],
  activity: [],
};
