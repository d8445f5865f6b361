import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { ReactElement } from "react";
import { NavigationProvider, type Navigation } from "../components/navigation";
import { createViewsFake, ViewsApiProvider, type FakeState, type ViewsFake } from "./_api";

/** Renders one view against a fresh in-memory fake and a fresh query cache. */
export function renderView(
  ui: ReactElement,
  options: { initial?: Partial<FakeState>; api?: ViewsFake; navigation?: Partial<Navigation> } = {},
) {
  const api = options.api ?? createViewsFake(options.initial);
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  const user = userEvent.setup();
  const navigation: Navigation = { showConnection: () => {}, highlightedConnection: null, ...options.navigation };
  const result = render(
    <QueryClientProvider client={queryClient}>
      <ViewsApiProvider api={api}>
        <NavigationProvider value={navigation}>{ui}</NavigationProvider>
      </ViewsApiProvider>
    </QueryClientProvider>,
  );
  return { ...result, api, user, queryClient };
}
