/**
 * The fake backend: `createFakeApi` builds one from the domains' parts (connections, sign-in,
 * grants and consent, client apps, settings and activity) over one shared state, and adds the
 * controls tests use (`state`, `calls`, `setGatewayStatus`, `failWith`, `emitChange`,
 * `emitConsentRequested`) and the event subscriptions. Everything the fake exports is exported
 * from here, so `import ... from "./fake"` finds it.
 */
import type { ChangeKind } from "../bindings/ChangeKind";
import type { ConsentRequested } from "../bindings/ConsentRequested";
import type { GatewayStatus } from "../bindings/GatewayStatus";
import type { GatehouseApi, IpcError } from "../types";
import { clientAppsApi } from "./clientApps";
import { connectionsApi } from "./connections";
import { createCore, type Method } from "./core";
import { grantsApi } from "./grants";
import { settingsApi } from "./settings";
import { signinApi } from "./signin";
import { sampleState, type FakeState } from "./state";

export {
  SAMPLE_ACTIVITY,
  SAMPLE_CLIENTS,
  SAMPLE_CONNECTIONS,
  SAMPLE_GATEWAY_STATUS,
  SAMPLE_GRANTS,
  SAMPLE_NOW,
  SAMPLE_OAUTH_TEMPLATES,
  SAMPLE_PENDING,
  SAMPLE_SETTINGS,
} from "./samples";
export { EMPTY_STATE, sampleState, type FakeState } from "./state";
export { FAKE_SIGNIN_DELAY_MS } from "./signin";

/**
 * An in-memory backend for component tests and for opening the page without Tauri.
 *
 * Sign-in: `startSignin` on an OAuth connection answers at once (`outcome: "browser"`, as if the
 * browser had opened), then after `FAKE_SIGNIN_DELAY_MS` marks the connection connected with the
 * account "you@example.com" and emits a `connections` change, the way the real backend's
 * callback would. A connection that is not OAuth is refused like the backend refuses it.
 * `signOut` sets it back to "needs_auth" with no account.
 */
export type FakeApi = GatehouseApi & {
  readonly state: FakeState;
  setGatewayStatus(status: GatewayStatus): void;
  failWith(error: IpcError | null): void;
  /** Tells every `onChanged` listener that `what` changed (as a backend event would). */
  emitChange(what: ChangeKind): void;
  /** Tells every `onConsentRequested` listener that a client asks for consent. */
  emitConsentRequested(request: ConsentRequested): void;
  /** How many times each method was called. */
  readonly calls: Record<Method, number>;
};

export function createFakeApi(initial: Partial<FakeState> = {}): FakeApi {
  const state: FakeState = { ...sampleState(), ...structuredClone(initial) };
  const core = createCore(state);
  const { calls, count, emit, listeners, consentListeners } = core;

  return {
    state,
    calls,
    setGatewayStatus(status) {
      state.gatewayStatus = structuredClone(status);
    },
    failWith(error) {
      state.error = error;
    },
    emitChange(what) {
      emit(what);
    },
    emitConsentRequested(request) {
      for (const cb of [...consentListeners]) cb(request);
    },
    ...settingsApi(core),
    ...connectionsApi(core),
    ...grantsApi(core),
    ...signinApi(core),
    ...clientAppsApi(core),
    onChanged: (cb) => {
      count("onChanged");
      listeners.add(cb);
      return Promise.resolve(() => {
        listeners.delete(cb);
      });
    },
    onConsentRequested: (cb) => {
      count("onConsentRequested");
      consentListeners.add(cb);
      return Promise.resolve(() => {
        consentListeners.delete(cb);
      });
    },
  };
}
