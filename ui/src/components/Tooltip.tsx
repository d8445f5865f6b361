import { useId, useState, type ReactNode } from "react";

type TooltipProps = {
  /** The accessible name of the trigger button. */
  label: string;
  /** What the trigger shows (an icon). */
  children: ReactNode;
  /** The explanation; it is the trigger's accessible description whether shown or not. */
  tip: string;
  className?: string;
};

/**
 * A focusable tooltip trigger: a real button whose aria-describedby points at a role="tooltip"
 * element. The tip shows on hover and keyboard focus and hides on Escape (WAI-ARIA tooltip pattern).
 */
export function Tooltip({ label, children, tip, className }: TooltipProps) {
  const tipId = useId();
  const [open, setOpen] = useState(false);
  return (
    <span className="tooltip" onMouseEnter={() => setOpen(true)} onMouseLeave={() => setOpen(false)}>
      <button
        type="button"
        className={className ? `tooltip__trigger ${className}` : "tooltip__trigger"}
        aria-label={label}
        aria-describedby={tipId}
        onFocus={() => setOpen(true)}
        onBlur={() => setOpen(false)}
        onClick={() => setOpen((value) => !value)}
        onKeyDown={(event) => {
          if (event.key === "Escape" && open) {
            event.stopPropagation();
            setOpen(false);
          }
        }}
      >
        {children}
      </button>
      <span role="tooltip" id={tipId} className="tooltip__tip" data-open={open}>
        {tip}
      </span>
    </span>
  );
}
