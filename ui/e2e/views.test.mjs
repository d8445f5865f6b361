// End-to-end test of the built UI in Debian's Chromium, with the in-memory fake backend (main.tsx
// falls back to it when the Tauri bridge is absent). Run with `npm run test:e2e` (builds first).
// Screenshots of both main tabs in light and dark go to $GATEHOUSE_ARTIFACTS/ui, else ../artifacts/ui.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { chromium } from "playwright-core";
import { serve } from "./serve.mjs";

const UI = join(import.meta.dirname, "..");
const ARTIFACTS = join(process.env.GATEHOUSE_ARTIFACTS ?? join(UI, "..", "artifacts"), "ui");
const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

let server;
let browser;

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  server = await serve(join(UI, "dist"));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** A fresh page (fresh fake backend) in the given colour scheme. */
async function open(colorScheme = "light") {
  const context = await browser.newContext({ colorScheme, viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  // The fake's samples are dated around SAMPLE_NOW (ui/src/api/fake/samples.ts), with token health to
  // match; relative times ("Last used 2 hours ago") are read against the same moment.
  await page.clock.setFixedTime(new Date("2026-03-02T10:00:00Z"));
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  await page.goto(server.url);
  await page.getByRole("tab", { name: "Connections" }).waitFor();
  return { page, errors, close: () => context.close() };
}

async function tab(page, name) {
  await page.getByRole("tab", { name, exact: true }).click();
}

/** axe-core on the page as it is; fails on serious or critical violations. */
async function checkAccessibility(page, what) {
  if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ path: AXE });
  const results = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const run = await axe.run(document, { resultTypes: ["violations"] });
    return run.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
    }));
  });
  const serious = results.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(serious, [], `${what}: axe found serious or critical violations`);
}

describe("Gatehouse views in Chromium, against the fake backend", () => {
  it("shows both main tabs with their content", async () => {
    const { page, errors, close } = await open();
    assert.equal(await page.getByRole("tab").count(), 5);
    const cards = page.getByTestId("connection-card");
    await cards.first().waitFor();
    // The preview fake's samples (ui/src/api/fake/samples.ts): 4 connections, 4 active grants of 3 clients.
    assert.equal(await cards.count(), 4);
    assert.match(await page.getByTestId("local-url").first().innerText(), /^http:\/\/127\.0\.0\.1:\d+\/mcp\//);
    await tab(page, "Authorized clients");
    await page.getByTestId("grant-card").first().waitFor();
    assert.equal(await page.getByRole("article").filter({ has: page.getByRole("heading", { name: "“Claude Code”" }) }).count(), 2);
    assert.equal(await page.getByRole("heading", { name: "Unverified MCP client" }).count(), 1);
    assert.deepEqual(errors, []);
    await close();
  });

  it("shows the exact callback URI and client ID before revoking, and revokes", async () => {
    const { page, close } = await open();
    await tab(page, "Authorized clients");
    const card = page
      .getByTestId("grant-card")
      .filter({ has: page.getByRole("heading", { name: "“Claude Code”" }) })
      .filter({ hasText: "Authorized to use GitHub" });
    await card.getByRole("button", { name: "Revoke access…" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    assert.equal(await dialog.getAttribute("aria-modal"), "true");
    assert.equal(await dialog.getByTestId("revoke-redirect-uri").innerText(), "http://127.0.0.1:33418/callback");
    assert.equal(await dialog.getByTestId("revoke-client-id").innerText(), "gh_cl_claude0000000000000000000001");
    assert.match(await dialog.innerText(), /tokens stop working at once/);
    await checkAccessibility(page, "revoke dialog");
    await page.screenshot({ path: join(ARTIFACTS, "revoke-dialog-light.png") });
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    assert.equal(await page.getByTestId("grant-card").count(), 4, "Escape keeps access");
    await card.getByRole("button", { name: "Revoke access…" }).click();
    await page.getByRole("button", { name: "Revoke access", exact: true }).click();
    await card.waitFor({ state: "detached" });
    assert.equal(await page.getByTestId("grant-card").count(), 3);
    await close();
  });

  it("connects a client: the change as a diff, then written, then undone (axe on each step)", async () => {
    const { page, close } = await open();
    const card = page.getByTestId("connection-card").filter({ has: page.getByRole("heading", { name: "GitHub" }) });
    await card.getByRole("button", { name: "Connect a client…" }).click();
    const dialog = page.getByRole("dialog", { name: "Connect a client to GitHub" });
    await dialog.getByLabel("Client").selectOption("vscode");
    await dialog.getByRole("button", { name: "Show the change" }).click();
    const diff = dialog.getByTestId("client-config-diff");
    await diff.waitFor();
    assert.match(await diff.innerText(), /\+\s+"github-gatehouse"/);
    await checkAccessibility(page, "connect-a-client diff");
    await page.screenshot({ path: join(ARTIFACTS, "connect-client-diff-light.png") });
    await dialog.getByRole("button", { name: "Write to VS Code" }).click();
    await dialog.getByTestId("client-config-written").waitFor();
    await checkAccessibility(page, "connect-a-client written");
    await dialog.getByRole("button", { name: "Undo" }).click();
    await dialog.getByTestId("client-config-undone").waitFor();
    await close();
  });

  it("adds a local command whose log the card then shows (axe on the dialog)", async () => {
    const { page, close } = await open();
    await page.getByRole("button", { name: "Add a local command…" }).click();
    const dialog = page.getByRole("dialog", { name: "Add a local MCP server" });
    await dialog.getByLabel("Name").fill("Local files");
    await dialog.getByLabel(/Slug/).fill("files");
    await dialog.getByLabel("Command").fill("npx -y @modelcontextprotocol/server-filesystem /home/me/notes");
    await dialog.getByRole("button", { name: "Add a variable" }).click();
    await dialog.getByLabel("Variable 1 name").fill("API_KEY");
    await dialog.getByLabel("Variable 1 value").fill("sk-e2e-secret");
    await checkAccessibility(page, "local command dialog");
    await page.screenshot({ path: join(ARTIFACTS, "local-command-dialog-light.png") });
    await dialog.getByRole("button", { name: "Add local server" }).click();
    const card = page.getByTestId("connection-card").filter({ has: page.getByRole("heading", { name: "Local files" }) });
    await card.getByRole("button", { name: "Show the server's log" }).click();
    await card.getByLabel("Log of Local files").waitFor();
    await checkAccessibility(page, "server log");
    assert.ok(!(await page.content()).includes("sk-e2e-secret"), "the value is not in the page");
    await close();
  });

  it("imports a client's server without showing its key (axe on each step)", async () => {
    const { page, close } = await open();
    await page.getByRole("button", { name: "Import from a client…" }).click();
    const dialog = page.getByRole("dialog", { name: "Import a server from a client" });
    await dialog.getByLabel("Client").selectOption("cursor");
    await dialog.getByText(/Moves BRAVE_API_KEY/).waitFor();
    await checkAccessibility(page, "import dialog");
    await dialog.getByRole("button", { name: "Show the change" }).click();
    await dialog.getByTestId("import-diff").waitFor();
    await checkAccessibility(page, "import diff");
    await page.screenshot({ path: join(ARTIFACTS, "import-diff-light.png") });
    assert.ok(!(await page.content()).includes("fake-brave-key-123"), "the key is not in the page");
    await dialog.getByRole("button", { name: "Import", exact: true }).click();
    await dialog.getByTestId("import-done").waitFor();
    await close();
  });

  it("bulk-revokes a selection", async () => {
    const { page, close } = await open();
    await tab(page, "Authorized clients");
    await page.getByTestId("grant-card").first().waitFor();
    for (const box of await page.getByTestId("grant-card").getByRole("checkbox").all()) await box.check();
    await page.getByRole("button", { name: "Revoke selected…" }).click();
    const dialog = page.getByRole("dialog", { name: "Revoke 4 authorizations of 3 clients?" });
    await dialog.waitFor();
    assert.equal(await dialog.getByTestId("revoke-item").count(), 4);
    await dialog.getByRole("button", { name: "Revoke access", exact: true }).click();
    await page.getByRole("heading", { name: "No client is authorized" }).waitFor();
    assert.equal(await page.getByTestId("grant-card").count(), 0);
    await close();
  });

  for (const scheme of ["light", "dark"]) {
    it(`passes axe on every view and takes screenshots (${scheme})`, async () => {
      const { page, errors, close } = await open(scheme);
      await page.getByTestId("connection-card").first().waitFor();
      await checkAccessibility(page, `Connections (${scheme})`);
      await page.screenshot({ path: join(ARTIFACTS, `connections-${scheme}.png`), fullPage: true });

      const firstCard = page.getByTestId("connection-card").first();
      await firstCard.getByRole("button", { name: "Delete…" }).click();
      await page.getByRole("dialog").waitFor();
      await checkAccessibility(page, `Delete confirmation (${scheme})`);
      await page.keyboard.press("Escape");
      await page.getByRole("dialog").waitFor({ state: "detached" });
      await firstCard.getByRole("button", { name: "Disable…" }).click();
      await page.getByRole("dialog").waitFor();
      await checkAccessibility(page, `Disable confirmation (${scheme})`);
      await page.keyboard.press("Escape");
      await page.getByRole("dialog").waitFor({ state: "detached" });

      await tab(page, "Authorized clients");
      await page.getByTestId("grant-card").first().waitFor();
      await page.getByTestId("grant-card").first().getByRole("button", { name: /Show technical details/ }).click();
      await page.getByTestId("grant-card").first().getByRole("button", { name: "About this name" }).focus();
      await page.getByRole("tooltip").first().waitFor({ state: "visible" });
      await checkAccessibility(page, `Authorized clients, with a tooltip open (${scheme})`);
      await page.screenshot({ path: join(ARTIFACTS, `authorized-clients-${scheme}.png`), fullPage: true });

      await page.getByRole("tab", { name: /^Requests/ }).click();
      await page.getByTestId("pending-request").first().waitFor();
      await checkAccessibility(page, `Requests (${scheme})`);
      await page.screenshot({ path: join(ARTIFACTS, `requests-${scheme}.png`), fullPage: true });

      await tab(page, "Activity");
      await page.getByRole("list", { name: "Activity, newest first" }).waitFor();
      await checkAccessibility(page, `Activity (${scheme})`);

      await tab(page, "Settings");
      await page.getByLabel("Port").waitFor();
      await checkAccessibility(page, `Settings (${scheme})`);

      await tab(page, "Connections");
      await page.getByRole("button", { name: "Add connection…" }).click();
      await page.getByRole("dialog", { name: "Add a connection" }).waitFor();
      await checkAccessibility(page, `Add connection dialog (${scheme})`);
      assert.deepEqual(errors, []);
      await close();
    });
  }

  it("applies the theme chosen in Settings to the document", async () => {
    const { page, close } = await open("light");
    await tab(page, "Settings");
    await page.getByRole("radio", { name: "Dark" }).check();
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark");
    const bg = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    assert.equal(bg, "rgb(22, 24, 29)");
    await close();
  });
});
