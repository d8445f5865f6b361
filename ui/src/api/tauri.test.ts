import { beforeEach, describe, expect, it, vi } from "vitest";

const invoke = vi.fn();
vi.mock("@tauri-apps/api/core", () => ({ invoke: (...args: unknown[]) => invoke(...args) }));

const { tauriApi } = await import("./tauri");
const { SAMPLE_GATEWAY_STATUS } = await import("./fake");

describe("tauriApi", () => {
  beforeEach(() => {
    invoke.mockReset();
  });

  it("asks for the gateway status with the gateway_status command", async () => {
    invoke.mockResolvedValue(SAMPLE_GATEWAY_STATUS);
    await expect(tauriApi.getGatewayStatus()).resolves.toEqual(SAMPLE_GATEWAY_STATUS);
    expect(invoke).toHaveBeenCalledWith("gateway_status", undefined);
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
});
