import { describe, expect, it } from "vitest";
import { detectBackend, tauriApi } from ".";
import { createFakeApi, SAMPLE_GATEWAY_STATUS } from "./fake";

describe("createFakeApi", () => {
  it("answers with its state and does not share it with callers", async () => {
    const api = createFakeApi();
    const first = await api.getGatewayStatus();
    first.port = 1;
    expect((await api.getGatewayStatus()).port).toBe(SAMPLE_GATEWAY_STATUS.port);
    expect(api.calls.getGatewayStatus).toBe(2);
  });

  it("can be changed and made to fail", async () => {
    const api = createFakeApi();
    api.setGatewayStatus({ ...SAMPLE_GATEWAY_STATUS, port: 9000 });
    expect((await api.getGatewayStatus()).port).toBe(9000);
    const failure = { type: "Internal", data: { message: "store locked" } } as const;
    api.failWith(failure);
    await expect(api.getGatewayStatus()).rejects.toEqual(failure);
    api.failWith(null);
    await expect(api.getGatewayStatus()).resolves.toMatchObject({ port: 9000 });
  });
});

describe("detectBackend", () => {
  it("uses Tauri when its bridge is present", () => {
    expect(detectBackend({ __TAURI_INTERNALS__: {} })).toEqual({ api: tauriApi, preview: false });
  });

  it("falls back to the fake, marked as a preview, without Tauri", () => {
    const backend = detectBackend({});
    expect(backend.preview).toBe(true);
    expect(backend.api).not.toBe(tauriApi);
  });
});
