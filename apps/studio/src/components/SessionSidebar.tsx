import { useSessionList } from "@agent-runtime/react";
import { useEffect } from "react";
import { SessionListItem } from "./SessionListItem.js";

interface SessionSidebarProps {
  readonly activeId: string | undefined;
  onOpen(sessionId: string): void;
  onNew(): void;
  onDeleted(sessionId: string): void;
}

/** Refetch period of the list: it carries other sessions' status and activity, which no event pushes. */
const REFRESH_MS = 10_000;

/** Sessions, most recently active first, with a "New session" action. */
export function SessionSidebar({ activeId, onOpen, onNew, onDeleted }: SessionSidebarProps) {
  const { sessions, isLoading, error, refresh } = useSessionList();
  useEffect(() => {
    const timer = setInterval(() => void refresh(), REFRESH_MS);
    return () => clearInterval(timer);
  }, [refresh]);
  const sorted = [...sessions].sort((a, b) =>
    (b.runtime.lastActivityAt || b.updatedAt).localeCompare(a.runtime.lastActivityAt || a.updatedAt),
  );
  return (
    <nav className="sidebar" aria-label="Sessions">
      <div className="sidebar-head">
        <h2>Sessions</h2>
        <button type="button" className="button primary small" onClick={onNew}>
          + New
        </button>
      </div>
      {error ? <p className="form-error small">Could not load sessions: {error.message}</p> : null}
      {sorted.length === 0 && !isLoading ? (
        <p className="muted small sidebar-empty">No sessions yet.</p>
      ) : null}
      <ul className="session-list">
        {sorted.map((session) => (
          <SessionListItem
            key={session.sessionId}
            session={session}
            active={session.sessionId === activeId}
            onOpen={() => onOpen(session.sessionId)}
            onDeleted={() => onDeleted(session.sessionId)}
          />
        ))}
      </ul>
    </nav>
  );
}
