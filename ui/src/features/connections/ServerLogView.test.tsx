import { screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { viewsState } from "../fixture";
import { renderView } from "../testing";
import { ConnectionsPanel } from "./ConnectionsPanel";

describe("a local stdio server's log", () => {
  it("is shown on its connection's card, and only there", async () => {
    const state = viewsState();
    state.connections[0] = { ...state.connections[0]!, transport: "stdio", upstream_url: "stdio:npx -y server" };
    const { user } = renderView(<ConnectionsPanel />, { initial: state });
    const cards = await screen.findAllByTestId("connection-card");
    const stdio = cards.find((c) => c.getAttribute("data-connection-id") === state.connections[0]!.id)!;
    await user.click(within(stdio).getByRole("button", { name: "Show the server's log" }));
    const log = await within(stdio).findByLabelText(/Log of/);
    expect(log).toHaveTextContent("[gatehouse] started npx (pid 4242)");
    const others = cards.filter((c) => c !== stdio);
    for (const card of others) {
      expect(within(card).queryByRole("button", { name: "Show the server's log" })).toBeNull();
    }
  });
});
