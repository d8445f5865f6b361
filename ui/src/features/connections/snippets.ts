import type { ConnectionView } from "../../api";

export type Snippet = {
  id: "claude-code" | "vscode" | "cursor" | "mcp-remote";
  client: string;
  /** Where the text goes, in words. */
  where: string;
  text: string;
};

/** Ready-to-paste configuration for common MCP clients, all pointing at the local URL. */
export function snippetsFor(connection: Pick<ConnectionView, "slug" | "local_url">): Snippet[] {
  const { slug, local_url: url } = connection;
  return [
    {
      id: "claude-code",
      client: "Claude Code",
      where: "Run in a terminal:",
      text: `claude mcp add --transport http ${slug} ${url}`,
    },
    {
      id: "vscode",
      client: "VS Code",
      where: "Add to .vscode/mcp.json:",
      text: JSON.stringify({ servers: { [slug]: { type: "http", url } } }, null, 2),
    },
    {
      id: "cursor",
      client: "Cursor",
      where: "Add to ~/.cursor/mcp.json:",
      text: JSON.stringify({ mcpServers: { [slug]: { url } } }, null, 2),
    },
    {
      id: "mcp-remote",
      client: "Claude Desktop and other clients (mcp-remote)",
      where: "For clients that only start local commands, add to their MCP configuration (Claude Desktop: claude_desktop_config.json):",
      text: JSON.stringify(
        { mcpServers: { [slug]: { command: "npx", args: ["-y", "mcp-remote", url, "--transport", "http-only"] } } },
        null,
        2,
      ),
    },
  ];
}

/** The status in words, as the Connections tab shows it. */
export function connectionStatusText(
  connection: Pick<ConnectionView, "enabled" | "status" | "status_detail" | "account_label">,
): string {
  if (!connection.enabled) return "Disabled";
  switch (connection.status) {
    case "connected":
      return connection.account_label ? `Connected as ${connection.account_label}` : "Connected";
    case "needs_auth":
      return "Sign-in needed";
    case "reauth_required":
      return "Re-authorization required";
    case "error":
      return `Error: ${connection.status_detail?.trim() || "the upstream failed without saying why"}`;
  }
}

export function statusTone(connection: Pick<ConnectionView, "enabled" | "status">): string {
  if (!connection.enabled) return "muted";
  switch (connection.status) {
    case "connected":
      return "ok";
    case "error":
      return "error";
    default:
      return "pending";
  }
}

export function clientsAuthorizedText(count: number): string {
  if (count === 0) return "No clients authorized";
  return count === 1 ? "1 client authorized" : `${count} clients authorized`;
}
