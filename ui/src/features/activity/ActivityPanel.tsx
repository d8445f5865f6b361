import { describeIpcError, useActivity, type ActivityView } from "../../api";
import { EmptyState } from "../../components/EmptyState";
import { formatDateTime, formatRelative } from "../../components/time";

export const ACTIVITY_LIMIT = 200;

/** The audit log, newest first, in words. */
export function ActivityPanel() {
  const activity = useActivity(ACTIVITY_LIMIT);
  if (activity.isPending) return <p className="muted">Loading activity…</p>;
  if (activity.isError) {
    return (
      <p role="alert" className="form-error">
        Could not read the activity log: {describeIpcError(activity.error)}
      </p>
    );
  }
  if (activity.data.length === 0) {
    return (
      <EmptyState title="Nothing has happened yet">
        <p>Approvals, revocations, registrations and connection changes are listed here as they happen.</p>
      </EmptyState>
    );
  }
  const events = [...activity.data].sort((a, b) => b.at - a.at);
  return (
    <ol className="activity" aria-label="Activity, newest first">
      {events.map((event) => (
        <li key={event.id} className="activity__item" data-kind={event.kind}>
          <span className="activity__text">{event.summary}</span>
          <time
            className="activity__time muted"
            dateTime={new Date(event.at).toISOString()}
            title={formatDateTime(event.at)}
          >
            {formatRelative(event.at)}
          </time>
        </li>
      ))}
    </ol>
  );
}

export type { ActivityView };
