/**
 * The fake backend's gateway status, settings and activity log.
 */
import type { GatehouseApi } from "../types";
import { invalid, type Core } from "./core";

type SettingsApi = Pick<GatehouseApi, "getGatewayStatus" | "getSettings" | "updateSettings" | "listActivity">;

/** The gateway status', settings' and activity's part of the fake API. */
export function settingsApi({ state, answer, emit }: Core): SettingsApi {
  return {
    getGatewayStatus: () => answer("getGatewayStatus", () => state.gatewayStatus),
    getSettings: () => answer("getSettings", () => state.settings),
    updateSettings: (s) =>
      answer("updateSettings", () => {
        if (s.port < 1 || s.port > 65535) throw invalid("port", "choose a port from 1 to 65535");
        if (s.retention_days < 1 || s.retention_days > 3650)
          throw invalid("retention_days", "keep records from 1 to 3650 days");
        const listening = state.settings.listening_port ?? null;
        state.settings = {
          port: s.port,
          retention_days: s.retention_days,
          start_at_login: s.start_at_login,
          allow_other_os_users: s.allow_other_os_users,
          theme: s.theme,
          listening_port: listening,
          restart_required: listening !== null && listening !== s.port,
        };
        queueMicrotask(() => emit("settings"));
        return state.settings;
      }),
    listActivity: (limit) => answer("listActivity", () => state.activity.slice(0, Math.max(1, limit))),
  };
}
