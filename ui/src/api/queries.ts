import { useQuery } from "@tanstack/react-query";
import { useBackend } from "./context";

/** Query keys, so backend events can invalidate exactly what they change. */
export const queryKeys = {
  gatewayStatus: ["gatewayStatus"] as const,
};

/**
 * The gateway's status, pulled when the window mounts. Backend events will only
 * invalidate this query: anything emitted before `listen()` resolves is lost,
 * so the first state always comes from a pull.
 */
export function useGatewayStatus() {
  const { api } = useBackend();
  return useQuery({
    queryKey: queryKeys.gatewayStatus,
    queryFn: () => api.getGatewayStatus(),
  });
}
