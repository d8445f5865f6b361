import { describeIpcError, useBackend, useGatewayStatus, type GatewayStatus } from "../../api";
import { StatusLine } from "../../components/StatusLine";

export const PREVIEW_MARKER = "Preview (no backend)";

/** The URL clients reach the gateway at; IPv6 hosts need brackets. */
export function gatewayUrl(status: Pick<GatewayStatus, "address" | "port">): string {
  const host = status.address.includes(":") ? `[${status.address}]` : status.address;
  return `http://${host}:${status.port}`;
}

export function GatewayStatusLine() {
  const { preview } = useBackend();
  const status = useGatewayStatus();
  const prefix = preview ? `${PREVIEW_MARKER} · sample data · ` : "";

  if (status.isPending) {
    return (
      <StatusLine tone="pending" testId="gateway-status">
        {prefix}Checking the gateway…
      </StatusLine>
    );
  }
  if (status.isError) {
    return (
      <StatusLine tone="error" testId="gateway-status">
        {prefix}Gateway status unavailable: {describeIpcError(status.error)}
      </StatusLine>
    );
  }
  return (
    <StatusLine tone="ok" testId="gateway-status">
      {prefix}Gateway running at {gatewayUrl(status.data)} · Keys: {status.data.key_source.detail}
    </StatusLine>
  );
}
