import { screen, within } from "@testing-library/react";
import { expect, it } from "vitest";
import { renderView } from "../testing";
import { ActivityPanel } from "./ActivityPanel";

it("lists the audit log in words, newest first", async () => {
  renderView(<ActivityPanel />);
  const list = await screen.findByRole("list", { name: "Activity, newest first" });
  const items = within(list).getAllByRole("listitem");
  expect(items[0]).toHaveTextContent("\u201CClaude Code\u201D was authorized to use GitHub.");
  expect(items[1]).toHaveTextContent("Connection GitHub was added.");
});

it("says when nothing has happened", async () => {
  renderView(<ActivityPanel />, { initial: { activity: [] } });
  expect(await screen.findByRole("heading", { name: "Nothing has happened yet" })).toBeInTheDocument();
});
