import { QueryClient } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { createFakeApi, type FakeApi, type FakeState } from "../api";
import { Root } from "../Root";

/** Renders the whole window against a fresh in-memory fake and a fresh query cache. */
export function renderApp(
  options: { initial?: Partial<FakeState>; api?: FakeApi; preview?: boolean } = {},
) {
  const api = options.api ?? createFakeApi(options.initial);
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  const user = userEvent.setup();
  const result = render(
    <Root backend={{ api, preview: options.preview ?? false }} queryClient={queryClient} />,
  );
  return { ...result, api, user, queryClient };
}
