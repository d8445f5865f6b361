import { useId, type ReactNode } from "react";

type EmptyStateProps = {
  title: string;
  children: ReactNode;
};

/** What a list says when it has nothing in it yet: a heading and an honest explanation. */
export function EmptyState({ title, children }: EmptyStateProps) {
  const headingId = useId();
  return (
    <section className="empty-state" aria-labelledby={headingId}>
      <h2 id={headingId} className="empty-state__title">
        {title}
      </h2>
      <div className="empty-state__body">{children}</div>
    </section>
  );
}
