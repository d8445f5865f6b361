import { beforeEach, describe, expect, it, vi } from "vitest";

const invoke = vi.fn();
vi.mock("@tauri-apps/api/core", () => ({ invoke: (...args: unknown[]) => invoke(...args) }));
const listen = vi.fn();
vi.mock("@tauri-apps/api/event", () => ({ listen: (...args: unknown[]) => listen(...args) }));

const { tauriApi } = await import("./tauri");
const { SAMPLE_GATEWAY_STATUS } = await import("./fake");

describe("tauriApi", () => {
  beforeEach(() => {
    invoke.mockReset();
  });

  it("asks for the gateway status with the gateway_status command", async () => {
    invoke.mockResolvedValue(SAMPLE_GATEWAY_STATUS);
    await expect(tauriApi.getGatewayStatus()).resolves.toEqual(SAMPLE_GATEWAY_STATUS);
    expect(invoke).toHaveBeenCalledWith("gateway_status", {});
  });

  it("passes a tagged IPC error through unchanged", async () => {
    const tagged = { type: "GatewayNotRunning", data: { reason: "port taken" } };
    invoke.mockRejectedValue(tagged);
    await expect(tauriApi.getGatewayStatus()).rejects.toEqual(tagged);
  });

  it("turns an untagged rejection into a Transport error", async () => {
    invoke.mockRejectedValue("Command gateway_status not found");
    await expect(tauriApi.getGatewayStatus()).rejects.toEqual({
      type: "Transport",
      data: "Command gateway_status not found",
    });
  });

  it("names each command and its arguments as the Rust side declares them", async () => {
    invoke.mockResolvedValue([]);
    await tauriApi.listGrants(true);
    expect(invoke).toHaveBeenLastCalledWith("list_grants", { includeInactive: true });
    await tauriApi.revokeGrants(["g1"]);
    expect(invoke).toHaveBeenLastCalledWith("revoke_grants", { ids: ["g1"] });
    await tauriApi.forgetClient("c1");
    expect(invoke).toHaveBeenLastCalledWith("forget_client", { clientId: "c1" });
    await tauriApi.editConnection("github", { name: "GH" });
    expect(invoke).toHaveBeenLastCalledWith("edit_connection", {
      key: "github",
      changes: { name: "GH" },
    });
    await tauriApi.listActivity(50);
    expect(invoke).toHaveBeenLastCalledWith("list_activity", { limit: 50 });
    await tauriApi.startSignin("github", "deep_link");
    expect(invoke).toHaveBeenLastCalledWith("start_signin", {
      slugOrId: "github",
      callback: "deep_link",
    });
    await tauriApi.signOut("github");
    expect(invoke).toHaveBeenLastCalledWith("sign_out", { slug: "github" });
  });

  it("listens to gatehouse://changed and hands over the kind", async () => {
    const unlisten = vi.fn();
    listen.mockResolvedValue(unlisten);
    const seen: string[] = [];
    const stop = await tauriApi.onChanged((what) => seen.push(what));
    expect(listen).toHaveBeenCalledWith("gatehouse://changed", expect.any(Function));
    const handler = listen.mock.calls[0]?.[1] as (e: { payload: { what: string } }) => void;
    handler({ payload: { what: "grants" } });
    expect(seen).toEqual(["grants"]);
    expect(stop).toBe(unlisten);
  });
});
