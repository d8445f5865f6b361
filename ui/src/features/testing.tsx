import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { ReactElement, ReactNode } from "react";
import { BackendProvider, createFakeApi, useBackendEvents, type FakeApi, type FakeState } from "../api";
import { NavigationProvider, type Navigation } from "../components/navigation";
import { viewsState } from "./fixture";

function LiveUpdates({ children }: { children: ReactNode }) {
  useBackendEvents();
  return <>{children}</>;
}

/** Renders one view against a fresh in-memory fake (holding `viewsState()` unless told otherwise) and a fresh query cache, with the backend's
 * change events turned into query invalidations as in the app. */
export function renderView(
  ui: ReactElement,
  options: { initial?: Partial<FakeState>; api?: FakeApi; navigation?: Partial<Navigation> } = {},
) {
  const api = options.api ?? createFakeApi({ ...viewsState(), ...options.initial });
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  const user = userEvent.setup();
  const navigation: Navigation = { showConnection: () => {}, highlightedConnection: null, ...options.navigation };
  const result = render(
    <BackendProvider backend={{ api, preview: false }}>
      <QueryClientProvider client={queryClient}>
        <LiveUpdates>
          <NavigationProvider value={navigation}>{ui}</NavigationProvider>
        </LiveUpdates>
      </QueryClientProvider>
    </BackendProvider>,
  );
  return { ...result, api, user, queryClient };
}
