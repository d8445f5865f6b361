import { useId, useState, type ReactNode } from "react";

type DisclosureProps = {
  /** Button text while closed; while open it reads `openLabel`. */
  label: string;
  openLabel: string;
  children: ReactNode;
};

/** A button with aria-expanded that shows or hides the region it controls. */
export function Disclosure({ label, openLabel, children }: DisclosureProps) {
  const id = useId();
  const [open, setOpen] = useState(false);
  return (
    <div className="disclosure">
      <button
        type="button"
        className="button button--link disclosure__toggle"
        aria-expanded={open}
        aria-controls={id}
        onClick={() => setOpen((value) => !value)}
      >
        <span aria-hidden="true" className="disclosure__chevron" data-open={open}>
          ▸
        </span>
        {open ? openLabel : label}
      </button>
      <div id={id} className="disclosure__body" hidden={!open}>
        {children}
      </div>
    </div>
  );
}
