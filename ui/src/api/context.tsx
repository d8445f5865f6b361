import { createContext, useContext, type ReactNode } from "react";
import type { GatehouseApi } from "./types";

export type Backend = {
  api: GatehouseApi;
  /** True when the page runs without Tauri and `api` is the in-memory fake. */
  preview: boolean;
};

const BackendContext = createContext<Backend | null>(null);

export function BackendProvider({ backend, children }: { backend: Backend; children: ReactNode }) {
  return <BackendContext.Provider value={backend}>{children}</BackendContext.Provider>;
}

export function useBackend(): Backend {
  const backend = useContext(BackendContext);
  if (!backend) throw new Error("useBackend must be used inside <BackendProvider>");
  return backend;
}
