import { useSessionList } from "@agent-runtime/react";
import { SessionListItem } from "./SessionListItem.js";

interface SessionSidebarProps {
  readonly activeId: string | undefined;
  onOpen(sessionId: string): void;
  onNew(): void;
  onDeleted(sessionId: string): void;
}

/** Sessions, most recently active first (live: other clients' changes show at once), with a "New session" action. */
export function SessionSidebar({ activeId, onOpen, onNew, onDeleted }: SessionSidebarProps) {
  const { sessions, isLoading, error } = useSessionList();
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
