import { render, screen } from "@testing-library/react";
import { expect, it } from "vitest";
import { ConnectionsPanel } from "./ConnectionsPanel";

it("explains what a connection is and how to add one for now", () => {
  render(<ConnectionsPanel />);
  expect(screen.getByRole("heading", { name: "No connections yet" })).toBeInTheDocument();
  expect(screen.getByText(/upstream MCP server/)).toBeInTheDocument();
  expect(screen.getByText(/local URL/)).toBeInTheDocument();
  expect(screen.getByText("gatehoused connections add")).toBeInTheDocument();
});

it("offers no add button until adding from the window works", () => {
  render(<ConnectionsPanel />);
  expect(screen.queryByRole("button")).not.toBeInTheDocument();
});
