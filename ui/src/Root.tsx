import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { useState } from "react";
import { BackendProvider, type Backend } from "./api";
import { App } from "./App";

/** The app with its backend and query cache; tests render this with the fake. */
export function Root({ backend, queryClient }: { backend: Backend; queryClient?: QueryClient }) {
  const [client] = useState(
    () =>
      queryClient ??
      new QueryClient({
        // A local IPC call that failed will fail again; say so at once.
        defaultOptions: { queries: { retry: false } },
      }),
  );
  return (
    <BackendProvider backend={backend}>
      <QueryClientProvider client={client}>
        <App />
      </QueryClientProvider>
    </BackendProvider>
  );
}
