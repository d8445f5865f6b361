import { TRANSPORT_ERROR, type IpcError } from "./types";

const BACKEND_TAGS: ReadonlySet<string> = new Set([
  "InvalidInput",
  "NotFound",
  "Conflict",
  "GatewayNotRunning",
  "Upstream",
  "Internal",
  TRANSPORT_ERROR,
]);

/** True for a tagged error whose tag the UI knows (see `bindings/IpcError.ts`). */
export function isIpcError(value: unknown): value is IpcError {
  if (typeof value !== "object" || value === null || !("type" in value)) return false;
  const tag = (value as { type: unknown }).type;
  return typeof tag === "string" && BACKEND_TAGS.has(tag);
}

/** Whatever a command rejected with, as an `IpcError`. */
export function toIpcError(value: unknown): IpcError {
  if (isIpcError(value)) return value;
  const detail =
    value instanceof Error ? value.message : typeof value === "string" ? value : String(value);
  return { type: TRANSPORT_ERROR, data: detail };
}

/** A sentence for a person, chosen by the tag. */
export function describeIpcError(error: IpcError): string {
  switch (error.type) {
    case "Transport":
      return error.data
        ? `Could not reach the Gatehouse backend (${error.data}).`
        : "Could not reach the Gatehouse backend.";
    case "InvalidInput":
      return error.data.message;
    case "NotFound":
      return `${error.data.message}; it may have been removed elsewhere.`;
    case "Conflict":
      return error.data.message;
    case "GatewayNotRunning":
      return `The gateway is not running: ${error.data.reason}`;
    case "Upstream":
      return `The upstream server said: ${error.data.message}`;
    case "Internal":
      return `Something failed inside Gatehouse (${error.data.message}); details are in the log.`;
  }
}
