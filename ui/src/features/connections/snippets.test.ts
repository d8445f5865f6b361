import { describe, expect, it } from "vitest";
import { clientsAuthorizedText, connectionStatusText, snippetsFor } from "./snippets";

const URL = "http://127.0.0.1:8707/mcp/github";

describe("snippetsFor", () => {
  const snippets = snippetsFor({ slug: "github", local_url: URL });
  const text = (id: string) => snippets.find((s) => s.id === id)!.text;

  it("gives the Claude Code command", () => {
    expect(text("claude-code")).toBe(`claude mcp add --transport http github ${URL}`);
  });

  it("gives VS Code's .vscode/mcp.json shape", () => {
    expect(JSON.parse(text("vscode"))).toEqual({ servers: { github: { type: "http", url: URL } } });
  });

  it("gives Cursor's mcp.json shape", () => {
    expect(JSON.parse(text("cursor"))).toEqual({ mcpServers: { github: { url: URL } } });
  });

  it("gives a command configuration that starts mcp-remote on the local URL", () => {
    expect(JSON.parse(text("mcp-remote"))).toEqual({
      mcpServers: {
        github: { command: "npx", args: ["-y", "mcp-remote", URL, "--transport", "http-only"] },
      },
    });
  });
});

describe("connectionStatusText", () => {
  const base = { enabled: true, status: "connected", status_detail: null, account_label: null } as const;
  it("says each state in words", () => {
    expect(connectionStatusText(base)).toBe("Connected");
    expect(connectionStatusText({ ...base, account_label: "octocat" })).toBe("Connected as octocat");
    expect(connectionStatusText({ ...base, status: "needs_auth" })).toBe("Sign-in needed");
    expect(connectionStatusText({ ...base, status: "reauth_required" })).toBe("Re-authorization required");
    expect(connectionStatusText({ ...base, status: "error", status_detail: "upstream said 502" })).toBe(
      "Error: upstream said 502",
    );
    expect(connectionStatusText({ ...base, enabled: false })).toBe("Disabled");
  });
});

it("counts authorized clients", () => {
  expect(clientsAuthorizedText(0)).toBe("No clients authorized");
  expect(clientsAuthorizedText(1)).toBe("1 client authorized");
  expect(clientsAuthorizedText(3)).toBe("3 clients authorized");
});
