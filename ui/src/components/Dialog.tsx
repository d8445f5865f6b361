import { useEffect, useId, useRef, type KeyboardEvent, type ReactNode } from "react";

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

type DialogProps = {
  title: string;
  /** Called on Escape and on the dialog's cancel buttons; the dialog does not close itself. */
  onClose: () => void;
  children: ReactNode;
  /** The buttons at the foot of the dialog (a form inside brings its own). */
  actions?: ReactNode;
  /** Tone of the title bar; "danger" for an action that cannot be undone. */
  tone?: "default" | "danger";
  testId?: string;
};

/**
 * A modal dialog: role="dialog" with aria-modal, labelled by its title and described by its body.
 * Focus moves into it on open (the first focusable element that is not the destructive action:
 * the safe choice is where Enter lands), Tab and Shift+Tab cycle inside it, Escape closes it,
 * and focus returns to whatever had it before.
 *
 * Not the native <dialog>: jsdom does not implement showModal(), and the component tests must
 * exercise the same focus trap the window uses.
 */
export function Dialog({ title, onClose, children, actions, tone = "default", testId }: DialogProps) {
  const titleId = useId();
  const bodyId = useId();
  const ref = useRef<HTMLDivElement>(null);
  const onCloseRef = useRef(onClose);
  onCloseRef.current = onClose;

  useEffect(() => {
    const previous = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    const root = ref.current;
    const first =
      root?.querySelector<HTMLElement>("[data-autofocus]") ??
      root?.querySelector<HTMLElement>(FOCUSABLE) ??
      root;
    first?.focus();
    return () => {
      if (previous && previous.isConnected) previous.focus();
    };
  }, []);

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    if (event.key === "Escape") {
      event.stopPropagation();
      onCloseRef.current();
      return;
    }
    if (event.key !== "Tab" || !ref.current) return;
    const focusable = [...ref.current.querySelectorAll<HTMLElement>(FOCUSABLE)];
    const firstEl = focusable[0];
    const lastEl = focusable[focusable.length - 1];
    if (!firstEl || !lastEl) {
      event.preventDefault();
      return;
    }
    const active = document.activeElement;
    if (event.shiftKey && (active === firstEl || active === ref.current)) {
      event.preventDefault();
      lastEl.focus();
    } else if (!event.shiftKey && active === lastEl) {
      event.preventDefault();
      firstEl.focus();
    }
  };

  return (
    <div className="dialog-backdrop">
      <div
        ref={ref}
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        aria-describedby={bodyId}
        className="dialog"
        data-tone={tone}
        data-testid={testId}
        tabIndex={-1}
        onKeyDown={onKeyDown}
      >
        <h2 id={titleId} className="dialog__title">
          {title}
        </h2>
        <div id={bodyId} className="dialog__body">
          {children}
        </div>
        {actions && <div className="dialog__actions">{actions}</div>}
      </div>
    </div>
  );
}
