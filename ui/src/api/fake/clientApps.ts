/**
 * The fake backend's MCP client apps (VS Code, Cursor, Claude Desktop): their config files, kept
 * in memory as text, and the API calls that list them, preview and write a connection's entry
 * into one (and undo it), and import a server from one as a connection.
 */
import type { ConnectionView } from "../bindings/ConnectionView";
import type { GatehouseApi } from "../types";
import { invalid, type Core } from "./core";
import { localUrl, newConnection } from "./samples";

/** The folders the fake VS Code opened recently. */
const FAKE_VSCODE_FOLDERS = ["/home/you/src/api"];

/** The clients the fake knows, with where their configs would be and the entry each gets. */
const FAKE_CLIENT_APPS: { id: string; name: string; config: string; key: string; entry: (c: ConnectionView) => unknown }[] = [
  { id: "vscode", name: "VS Code", config: "~/.config/Code/User/mcp.json", key: "servers", entry: (c) => ({ type: "http", url: c.local_url }) },
  { id: "cursor", name: "Cursor", config: "~/.cursor/mcp.json", key: "mcpServers", entry: (c) => ({ url: c.local_url }) },
  {
    id: "claude-desktop",
    name: "Claude Desktop",
    config: "~/.config/Claude/claude_desktop_config.json",
    key: "mcpServers",
    entry: (c) => ({ command: "/opt/Gatehouse/gatehouse", args: ["bridge", c.slug] }),
  },
];

/** A naive line diff (removed lines, then added ones) for the fake's previews. */
function lineDiff(before: string, after: string): string[] {
  const a = before ? before.split("\n") : [];
  const b = after.split("\n");
  return [...a.filter((l) => !b.includes(l)).map((l) => `-${l}`), ...b.filter((l) => !a.includes(l)).map((l) => `+${l}`)];
}

type ClientAppsApi = Pick<
  GatehouseApi,
  | "listClientApps"
  | "previewClientConfig"
  | "writeClientConfig"
  | "undoClientConfig"
  | "listImportCandidates"
  | "previewImport"
  | "importFromClient"
>;

/** The client apps' part of the fake API, with the client config files of this one fake. */
export function clientAppsApi({ state, answer, emit, findConnection }: Core): ClientAppsApi {
  // Client configs, as text by client id, and what each was before Gatehouse's last write.
  const clientFiles = new Map<string, string>([
    ["vscode", JSON.stringify({ servers: { github: { type: "http", url: "https://api.githubcopilot.com/mcp/" } } }, null, 2)],
    [
      "cursor",
      JSON.stringify(
        { mcpServers: { "Brave Search": { command: "npx", args: ["-y", "brave-search-mcp"], env: { BRAVE_API_KEY: "fake-brave-key-123" } } } },
        null,
        2,
      ),
    ],
  ]);
  /** Per client, the file of Gatehouse's last change and what it held before. */
  const clientUndo = new Map<string, { file: string; config: string; before: string | null }>();
  /** Where a change goes: the client's own config, or a VS Code folder's `.vscode/mcp.json`. */
  const configOf = (client: string, workspace?: string | null) => {
    const app = FAKE_CLIENT_APPS.find((a) => a.id === client);
    if (!app) throw invalid("client", `unknown client "${client}"`);
    if (workspace == null) return { app, file: client, config: app.config };
    if (client !== "vscode") throw invalid("workspace", "only VS Code has workspace configs");
    if (!workspace.startsWith("/")) throw invalid("workspace", `${workspace} is not a folder on this computer`);
    return { app, file: `vscode:${workspace}`, config: `${workspace}/.vscode/mcp.json` };
  };
  const serversIn = (app: (typeof FAKE_CLIENT_APPS)[number], text: string | null) => {
    const servers = text ? Object.keys(JSON.parse(text)[app.key] ?? {}) : [];
    const through = servers.filter((name) =>
      JSON.stringify(JSON.parse(text ?? "{}")[app.key][name]).includes("127.0.0.1"),
    );
    return { servers, through };
  };
  const clientPlan = (client: string, key: string, workspace?: string | null) => {
    const { app, file, config } = configOf(client, workspace);
    const c = findConnection(key);
    const before = clientFiles.get(file) ?? null;
    const doc = before ? JSON.parse(before) : {};
    const entry = app.entry(c);
    const existing = doc[app.key]?.[c.slug];
    // As the backend: a different server under the same name is kept, the new entry gets another.
    const name = existing && JSON.stringify(existing) !== JSON.stringify(entry) ? `${c.slug}-gatehouse` : c.slug;
    doc[app.key] = { ...(doc[app.key] ?? {}), [name]: entry };
    const after = JSON.stringify(doc, null, 2);
    const diff = [`--- ${config}`, `+++ ${config}`, ...lineDiff(before ?? "", after)].join("\n") + "\n";
    return {
      after,
      file,
      preview: { client, client_name: app.name, config, entry_name: name, diff, creates_file: before === null },
    };
  };
  const importPlan = (client: string, server: string) => {
    const app = FAKE_CLIENT_APPS.find((a) => a.id === client);
    if (!app) throw invalid("client", `unknown client "${client}"`);
    const before = clientFiles.get(client) ?? "{}";
    const doc = JSON.parse(before);
    const entry = doc[app.key]?.[server] as
      | { command?: string; args?: string[]; url?: string; env?: Record<string, string>; headers?: Record<string, string> }
      | undefined;
    if (!entry) throw invalid("server", `"${server}" is not in ${app.config}`);
    const slug = server.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "server";
    const secrets = Object.keys(entry.command ? (entry.env ?? {}) : (entry.headers ?? {}));
    const upstream = entry.command ? `stdio:${[entry.command, ...(entry.args ?? [])].join(" ")}` : (entry.url ?? "");
    doc[app.key][server] = app.entry({ slug, local_url: localUrl(slug) } as ConnectionView);
    const after = JSON.stringify(doc, null, 2);
    // As the backend: the keys in the diff are shown as [secret].
    const values = Object.values(entry.command ? (entry.env ?? {}) : (entry.headers ?? {}));
    const mask = (line: string) => values.reduce((l, v) => (v.length >= 4 ? l.split(v).join("[secret]") : l), line);
    const diff = [`--- ${app.config}`, `+++ ${app.config}`, ...lineDiff(before, after).map(mask)].join("\n") + "\n";
    return { after, upstream, preview: { client, server, slug, secrets, config: app.config, diff } };
  };

  return {
    listClientApps: () =>
      answer("listClientApps", () =>
        FAKE_CLIENT_APPS.map((app) => {
          const text = clientFiles.get(app.id) ?? null;
          const { servers, through } = serversIn(app, text);
          return {
            id: app.id,
            name: app.name,
            config: app.config,
            installed: true,
            configured: text !== null,
            servers,
            through_gatehouse: through,
            needs_bridge: app.id === "claude-desktop",
            problem: null,
            workspaces:
              app.id === "vscode"
                ? FAKE_VSCODE_FOLDERS.map((folder) => {
                    const { file, config } = configOf("vscode", folder);
                    const inFolder = clientFiles.get(file) ?? null;
                    const found = serversIn(app, inFolder);
                    return {
                      folder,
                      config,
                      configured: inFolder !== null,
                      servers: found.servers,
                      through_gatehouse: found.through,
                      problem: null,
                    };
                  })
                : [],
          };
        }),
      ),
    previewClientConfig: (client, key, workspace) =>
      answer("previewClientConfig", () => clientPlan(client, key, workspace).preview),
    writeClientConfig: (client, key, workspace, diff) =>
      answer("writeClientConfig", () => {
        const plan = clientPlan(client, key, workspace);
        if (plan.preview.diff !== diff) throw invalid("config", "the file changed since the preview");
        const before = clientFiles.get(plan.file) ?? null;
        clientUndo.set(client, { file: plan.file, config: plan.preview.config, before });
        clientFiles.set(plan.file, plan.after);
        return {
          client,
          config: plan.preview.config,
          backup: before === null ? null : `${plan.preview.config}.gatehouse-backup`,
        };
      }),
    undoClientConfig: (client) =>
      answer("undoClientConfig", () => {
        const last = clientUndo.get(client);
        if (!last) throw invalid("client", "Gatehouse has not changed this client's config");
        clientUndo.delete(client);
        if (last.before === null) clientFiles.delete(last.file);
        else clientFiles.set(last.file, last.before);
        return { client, config: last.config, backup: null };
      }),
    listImportCandidates: (client) =>
      answer("listImportCandidates", () => {
        const app = FAKE_CLIENT_APPS.find((a) => a.id === client);
        if (!app) throw invalid("client", `unknown client "${client}"`);
        const servers = JSON.parse(clientFiles.get(client) ?? "{}")[app.key] ?? {};
        return Object.entries(servers).map(([name, entry]) => {
          const e = entry as { command?: string; env?: Record<string, string>; headers?: Record<string, string> };
          return {
            name,
            kind: e.command ? "stdio" : "http",
            secrets: Object.keys(e.command ? (e.env ?? {}) : (e.headers ?? {})),
            refused: null,
          };
        });
      }),
    previewImport: (client, server) => answer("previewImport", () => importPlan(client, server).preview),
    importFromClient: (client, server, diff) =>
      answer("importFromClient", () => {
        const plan = importPlan(client, server);
        if (plan.preview.diff !== diff) throw invalid("config", "the file changed since the preview");
        const created = newConnection({
          slug: plan.preview.slug,
          name: server,
          upstream_url: plan.upstream,
          transport: plan.upstream.startsWith("stdio:") ? "stdio" : "streamable_http",
        });
        state.connections.push(created);
        clientUndo.set(client, { file: client, config: plan.preview.config, before: clientFiles.get(client) ?? null });
        clientFiles.set(client, plan.after);
        emit("connections");
        return { connection: created, config: plan.preview.config, backup: `${plan.preview.config}.gatehouse-backup` };
      }),
  };
}
