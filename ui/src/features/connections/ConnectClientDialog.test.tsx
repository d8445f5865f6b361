import { screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { renderView } from "../testing";
import { ConnectionsPanel } from "./ConnectionsPanel";

const card = async (name: string) =>
  (await screen.findAllByTestId("connection-card")).find((element) =>
    within(element).queryByRole("heading", { name }),
  )!;

describe("connect a client", () => {
  it("shows the change to the client's config, writes it, and undoes it", async () => {
    const { user, api } = renderView(<ConnectionsPanel />);
    const github = await card("GitHub");
    await user.click(within(github).getByRole("button", { name: /Connect a client/ }));
    const dialog = await screen.findByRole("dialog", { name: "Connect a client to GitHub" });
    const select = await within(dialog).findByLabelText("Client");
    await user.selectOptions(select, "vscode");
    await user.click(within(dialog).getByRole("button", { name: "Show the change" }));

    const diff = await within(dialog).findByTestId("client-config-diff");
    expect(diff).toHaveTextContent("+++ ~/.config/Code/User/mcp.json");
    // VS Code already has a different "github" server: it stays, the new entry gets its own name.
    expect(diff).toHaveTextContent('+ "github-gatehouse"');
    expect(diff).toHaveTextContent("http://127.0.0.1:8707/mcp/github");
    const removed = (diff.textContent ?? "").split("\n").filter((l) => l.startsWith("-") && !l.startsWith("---"));
    expect(removed).toEqual([]);
    expect(api.calls.writeClientConfig).toBe(0);

    await user.click(within(dialog).getByRole("button", { name: "Write to VS Code" }));
    expect(await within(dialog).findByTestId("client-config-written")).toHaveTextContent(
      "The file as it was is in ~/.config/Code/User/mcp.json.gatehouse-backup",
    );
    const listed = await api.listClientApps();
    expect(listed.find((c) => c.id === "vscode")?.through_gatehouse).toEqual(["github-gatehouse"]);

    await user.click(within(dialog).getByRole("button", { name: "Undo" }));
    expect(await within(dialog).findByTestId("client-config-undone")).toHaveTextContent("is back as it was");
    const after = await api.listClientApps();
    expect(after.find((c) => c.id === "vscode")?.through_gatehouse).toEqual([]);
  });

  it("writes a VS Code folder's .vscode/mcp.json when that folder is chosen", async () => {
    const { user, api } = renderView(<ConnectionsPanel />);
    const github = await card("GitHub");
    await user.click(within(github).getByRole("button", { name: /Connect a client/ }));
    const dialog = await screen.findByRole("dialog", { name: "Connect a client to GitHub" });
    await user.selectOptions(await within(dialog).findByLabelText("Client"), "vscode");
    const where = within(dialog).getByLabelText("Where");
    expect(within(where).getAllByRole("option").map((o) => o.textContent)).toEqual([
      "Your user settings (every workspace)",
      "/home/you/src/api",
      "Another folder…",
    ]);
    await user.selectOptions(where, "/home/you/src/api");
    await user.click(within(dialog).getByRole("button", { name: "Show the change" }));
    expect(await within(dialog).findByTestId("client-config-diff")).toHaveTextContent(
      "+++ /home/you/src/api/.vscode/mcp.json",
    );
    await user.click(within(dialog).getByRole("button", { name: "Write to VS Code" }));
    expect(await within(dialog).findByTestId("client-config-written")).toHaveTextContent(
      "Written to /home/you/src/api/.vscode/mcp.json. The file is new.",
    );
    const vscode = (await api.listClientApps()).find((c) => c.id === "vscode");
    expect(vscode?.workspaces[0]?.through_gatehouse).toEqual(["github"]);
    expect(vscode?.through_gatehouse).toEqual([]);
  });

  it("takes another folder by its path and shows the backend's refusal of a relative one", async () => {
    const { user } = renderView(<ConnectionsPanel />);
    const github = await card("GitHub");
    await user.click(within(github).getByRole("button", { name: /Connect a client/ }));
    const dialog = await screen.findByRole("dialog", { name: "Connect a client to GitHub" });
    await user.selectOptions(await within(dialog).findByLabelText("Client"), "vscode");
    await user.selectOptions(within(dialog).getByLabelText("Where"), "Another folder…");
    const show = within(dialog).getByRole("button", { name: "Show the change" });
    expect(show).toBeDisabled();
    await user.type(within(dialog).getByLabelText("Folder"), "src/web");
    await user.click(show);
    await waitFor(() => expect(within(dialog).getByRole("alert")).toHaveTextContent("is not a folder on this computer"));
    await user.clear(within(dialog).getByLabelText("Folder"));
    await user.type(within(dialog).getByLabelText("Folder"), "/home/you/src/web");
    await user.click(show);
    expect(await within(dialog).findByTestId("client-config-diff")).toHaveTextContent(
      "+++ /home/you/src/web/.vscode/mcp.json",
    );
  });

  it("says why when the backend refuses", async () => {
    const { user, api } = renderView(<ConnectionsPanel />);
    const github = await card("GitHub");
    await user.click(within(github).getByRole("button", { name: /Connect a client/ }));
    const dialog = await screen.findByRole("dialog", { name: "Connect a client to GitHub" });
    await within(dialog).findByLabelText("Client");
    api.failWith({ type: "InvalidInput", data: { field: "config", message: "the file is not valid JSON" } });
    await user.click(within(dialog).getByRole("button", { name: "Show the change" }));
    await waitFor(() => expect(within(dialog).getByRole("alert")).toHaveTextContent("the file is not valid JSON"));
  });
});
