import { TRANSPORT_ERROR, type IpcError } from "./types";

export function isIpcError(value: unknown): value is IpcError {
  return (
    typeof value === "object" &&
    value !== null &&
    "type" in value &&
    typeof (value as { type: unknown }).type === "string"
  );
}

/** Whatever a command rejected with, as an `IpcError`. */
export function toIpcError(value: unknown): IpcError {
  if (isIpcError(value)) return value;
  const detail =
    value instanceof Error ? value.message : typeof value === "string" ? value : String(value);
  return { type: TRANSPORT_ERROR, data: detail };
}

/** A sentence for a person. Branches on the tag; `data` is shown only when it is text. */
export function describeIpcError(error: IpcError): string {
  const detail = typeof error.data === "string" && error.data.length > 0 ? error.data : null;
  switch (error.type) {
    case TRANSPORT_ERROR:
      return detail
        ? `Could not reach the Gatehouse backend (${detail}).`
        : "Could not reach the Gatehouse backend.";
    default:
      return detail ? `${error.type}: ${detail}` : `The backend reported ${error.type}.`;
  }
}
