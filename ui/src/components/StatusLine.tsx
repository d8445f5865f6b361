import type { ReactNode } from "react";

export type StatusTone = "pending" | "ok" | "error";

type StatusLineProps = {
  tone: StatusTone;
  children: ReactNode;
  testId?: string;
};

/** A one-line live region at the foot of the window. The tone sets the dot and text colour. */
export function StatusLine({ tone, children, testId }: StatusLineProps) {
  return (
    <p role="status" className="status-line" data-tone={tone} data-testid={testId}>
      <span className="status-line__dot" aria-hidden="true" />
      <span className="status-line__text">{children}</span>
    </p>
  );
}
