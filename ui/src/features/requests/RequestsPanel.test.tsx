import { screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { createFakeApi, SAMPLE_PENDING } from "../../api";
import { viewsState } from "../fixture";
import { renderView } from "../testing";
import { RequestsPanel } from "./RequestsPanel";

const withPending = () => createFakeApi({ ...viewsState(), pending: structuredClone(SAMPLE_PENDING) });

describe("Requests", () => {
  it("shows who asks (reported and seen), for which connection, and where the answer goes", async () => {
    renderView(<RequestsPanel />, { api: withPending() });
    const [request] = await screen.findAllByTestId("pending-request");
    const card = within(request!);
    expect(card.getByRole("heading", { name: "\u201CCursor\u201D" })).toBeInTheDocument();
    expect(card.getByText("Reported name")).toBeInTheDocument();
    expect(request).toHaveTextContent("Seen on this computer · /opt/cursor/cursor (pid 5151)");
    expect(request).toHaveTextContent("Wants to use GitHub");
    expect(request).toHaveTextContent("http://localhost:8787/callback");
  });

  it("approves with every tool: the client gets its answer and a grant appears", async () => {
    const api = withPending();
    const { user } = renderView(<RequestsPanel />, { api });
    await user.click(await screen.findByRole("button", { name: "Approve" }));
    expect(await screen.findByTestId("request-outcome")).toHaveTextContent(
      "\u201CCursor\u201D may now use GitHub. Gatehouse handed the answer to the client.",
    );
    expect(api.state.pending).toEqual([]);
    const grant = api.state.grants.find((g) => g.client_id === SAMPLE_PENDING[0]!.client_id);
    expect(grant?.status).toBe("active");
    expect(grant?.tools).toBeNull();
    expect(await screen.findByText("No client is waiting")).toBeInTheDocument();
  });

  it("denies: no grant, and the outcome says so", async () => {
    const api = withPending();
    const { user } = renderView(<RequestsPanel />, { api });
    await user.click(await screen.findByRole("button", { name: "Deny" }));
    expect(await screen.findByTestId("request-outcome")).toHaveTextContent("\u201CCursor\u201D was denied.");
    expect(api.state.grants.some((g) => g.client_id === SAMPLE_PENDING[0]!.client_id)).toBe(false);
  });

  it("says plainly when nobody is waiting", async () => {
    renderView(<RequestsPanel />, { initial: { pending: [] } });
    expect(await screen.findByText("No client is waiting")).toBeInTheDocument();
  });
});
