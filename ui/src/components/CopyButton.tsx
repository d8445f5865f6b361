import { useEffect, useState } from "react";

type CopyButtonProps = {
  text: string;
  /** Accessible name, e.g. "Copy local URL"; the visible text is "Copy" / "Copied". */
  label: string;
};

type CopyState = "idle" | "copied" | "failed";

/** Copies `text` with the Clipboard API and says so in a polite live region. */
export function CopyButton({ text, label }: CopyButtonProps) {
  const [state, setState] = useState<CopyState>("idle");

  useEffect(() => {
    if (state === "idle") return;
    const timer = window.setTimeout(() => setState("idle"), 2000);
    return () => window.clearTimeout(timer);
  }, [state]);

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setState("copied");
    } catch {
      setState("failed");
    }
  };

  return (
    <span className="copy">
      <button type="button" className="button button--small" aria-label={label} onClick={copy}>
        {state === "copied" ? "Copied" : "Copy"}
      </button>
      <span className="copy__status" role="status">
        {state === "copied" ? "Copied" : state === "failed" ? "Could not copy; select the text instead" : ""}
      </span>
    </span>
  );
}
