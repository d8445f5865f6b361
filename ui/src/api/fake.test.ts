import { describe, expect, it } from "vitest";
import { detectBackend, tauriApi } from ".";
import { createFakeApi, EMPTY_STATE, FAKE_SIGNIN_DELAY_MS, SAMPLE_GATEWAY_STATUS } from "./fake";

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

describe("createFakeApi sample data", () => {
  it("has grants without a client name, with a tool allow-list and expiring soon", async () => {
    const grants = await createFakeApi().listGrants(false);
    expect(grants.some((g) => g.client_name === null)).toBe(true);
    expect(grants.some((g) => g.tools !== null && g.tools.length > 0)).toBe(true);
    expect(grants.some((g) => g.token_health === "expiring_soon")).toBe(true);
    expect(grants.every((g) => g.status === "active")).toBe(true);
  });

  it("revokes, updates the counts and tells onChanged listeners", async () => {
    const api = createFakeApi();
    const seen: string[] = [];
    const stop = await api.onChanged((what) => seen.push(what));
    const [first] = await api.listGrants(false);
    if (!first) throw new Error("the fake starts with active grants");
    const result = await api.revokeGrants([first.id]);
    expect(result.revoked).toEqual([first.id]);
    expect((await api.listGrants(false)).map((g) => g.id)).not.toContain(first.id);
    await Promise.resolve();
    expect(seen).toContain("grants");
    stop();
    const count = seen.length;
    api.emitChange("settings");
    expect(seen.length).toBe(count);
  });

  it("refuses an unknown grant without revoking anything", async () => {
    const api = createFakeApi();
    const before = (await api.listGrants(false)).length;
    await expect(api.revokeGrants(["grant_claude_github", "nope"])).rejects.toMatchObject({
      type: "NotFound",
    });
    expect((await api.listGrants(false)).length).toBe(before);
  });

  it("never echoes a header value", async () => {
    const api = createFakeApi();
    const created = await api.addConnection({
      slug: "weather",
      name: "Weather",
      upstream_url: "https://weather.example.com/mcp",
      header: { name: "X-API-Key", value: "sekrit-value" },
    });
    expect(JSON.stringify(created)).not.toContain("sekrit-value");
    expect(JSON.stringify(api.state)).not.toContain("sekrit-value");
  });

  it("starts empty with EMPTY_STATE", async () => {
    const api = createFakeApi(EMPTY_STATE);
    expect(await api.listConnections()).toEqual([]);
    expect(await api.listGrants(true)).toEqual([]);
  });

  it("signs an OAuth connection in after a tick and out again", async () => {
    const api = createFakeApi();
    const seen: string[] = [];
    await api.onChanged((what) => seen.push(what));
    const started = await api.startSignin("linear", "deep_link");
    expect(started).toMatchObject({
      slug: "linear",
      outcome: "browser",
      callback: "deep_link",
      redirect_uri: "dev.gatehouse:/oauth/callback",
    });
    expect((await api.listConnections()).find((c) => c.slug === "linear")?.status).toBe(
      "reauth_required",
    );
    await new Promise((resolve) => setTimeout(resolve, FAKE_SIGNIN_DELAY_MS + 20));
    const connected = (await api.listConnections()).find((c) => c.slug === "linear");
    expect(connected?.status).toBe("connected");
    expect(seen).toContain("connections");

    const out = await api.signOut("linear");
    expect(out).toEqual({ slug: "linear", revocation: "revoked" });
    const signedOut = (await api.listConnections()).find((c) => c.slug === "linear");
    expect(signedOut).toMatchObject({ status: "needs_auth", account_label: null });
  });

  it("refuses to sign in a connection that does not use OAuth", async () => {
    const api = createFakeApi();
    await expect(api.startSignin("search", "loopback")).rejects.toMatchObject({
      type: "InvalidInput",
      data: { field: "auth" },
    });
  });

  it("keeps a user-named account, and a blank name removes it", async () => {
    const api = createFakeApi();
    const created = await api.addConnection({
      slug: "robot",
      name: "Robot",
      upstream_url: "https://robot.example.com/mcp",
      header: null,
      account_name: " ops robot ",
    });
    expect(created.account_label).toBe("ops robot");
    const cleared = await api.editConnection("robot", { account_name: " " });
    expect(cleared.connection.account_label).toBeNull();
  });
});
