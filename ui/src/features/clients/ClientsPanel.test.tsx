import { render, screen } from "@testing-library/react";
import { expect, it } from "vitest";
import { ClientsPanel } from "./ClientsPanel";

it("explains that approved clients appear here as cards and that revoking will be here", () => {
  render(<ClientsPanel />);
  expect(
    screen.getByRole("heading", { name: "No client has been authorized yet" }),
  ).toBeInTheDocument();
  expect(screen.getByText(/card appears here for every client a person approves/)).toBeInTheDocument();
  expect(screen.getByText(/Revoking a client.s access will be done here/)).toBeInTheDocument();
});

it("offers no revoke button while there is nothing to revoke", () => {
  render(<ClientsPanel />);
  expect(screen.queryByRole("button")).not.toBeInTheDocument();
});
