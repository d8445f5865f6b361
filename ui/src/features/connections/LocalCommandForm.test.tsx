import { screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { renderView } from "../testing";
import { ConnectionsPanel } from "./ConnectionsPanel";

describe("adding a local command", () => {
  it("sends the command and its environment, and the value never comes back", async () => {
    const { user, api } = renderView(<ConnectionsPanel />);
    await user.click(await screen.findByRole("button", { name: "Add a local command…" }));
    const dialog = await screen.findByRole("dialog", { name: "Add a local MCP server" });
    await user.type(within(dialog).getByLabelText("Name"), "Notes");
    await user.type(within(dialog).getByLabelText(/Slug/), "notes");
    await user.type(within(dialog).getByLabelText("Command"), "npx -y @modelcontextprotocol/server-filesystem /home/me/notes");
    await user.click(within(dialog).getByRole("button", { name: "Add a variable" }));
    await user.type(within(dialog).getByLabelText("Variable 1 name"), "API_KEY");
    const value = within(dialog).getByLabelText("Variable 1 value");
    expect(value).toHaveAttribute("type", "password");
    await user.type(value, "sk-local-secret");
    await user.click(within(dialog).getByRole("button", { name: "Add local server" }));

    const cards = await screen.findAllByTestId("connection-card");
    const notes = cards.find((c) => within(c).queryByRole("heading", { name: "Notes" }))!;
    expect(within(notes).getByText(/stdio:npx -y @modelcontextprotocol\/server-filesystem/)).toBeInTheDocument();
    expect(api.calls.addLocalCommand).toBe(1);
    expect(document.body.textContent).not.toContain("sk-local-secret");
    expect(within(notes).getByRole("button", { name: "Show the server's log" })).toBeInTheDocument();
  });

  it("shows the backend's refusal next to the field it names", async () => {
    const { user } = renderView(<ConnectionsPanel />);
    await user.click(await screen.findByRole("button", { name: "Add a local command…" }));
    const dialog = await screen.findByRole("dialog", { name: "Add a local MCP server" });
    await user.type(within(dialog).getByLabelText("Name"), "X");
    await user.type(within(dialog).getByLabelText(/Slug/), "x");
    await user.type(within(dialog).getByLabelText("Command"), "server");
    await user.click(within(dialog).getByRole("button", { name: "Add a variable" }));
    await user.type(within(dialog).getByLabelText("Variable 1 name"), "1BAD");
    await user.click(within(dialog).getByRole("button", { name: "Add local server" }));
    expect(await within(dialog).findByRole("alert")).toHaveTextContent("not an environment variable name");
  });
});
