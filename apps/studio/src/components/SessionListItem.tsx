import { AgentRuntimeError } from "@agent-runtime/client";
import type { SessionSummary } from "@agent-runtime/protocol";
import { useAgentClient } from "@agent-runtime/react";
import { useEffect, useState } from "react";
import { timeAgo } from "../format.js";
import { StatusDot } from "./StatusDot.js";

interface SessionListItemProps {
  readonly session: SessionSummary;
  readonly active: boolean;
  onOpen(): void;
  onDeleted(): void;
}

/** One session: title, profile and architecture, sandbox status, last activity; delete asks once more. */
export function SessionListItem({ session, active, onOpen, onDeleted }: SessionListItemProps) {
  const client = useAgentClient();
  // The list is live (`useSessionList`): status, activity and title arrive as they change.
  const { runtime, title } = session;
  const [confirming, setConfirming] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  useEffect(() => {
    if (!confirming) return;
    const timer = setTimeout(() => setConfirming(false), 4000);
    return () => clearTimeout(timer);
  }, [confirming]);

  const remove = async () => {
    setDeleting(true);
    try {
      await client.destroySession(session.sessionId);
      onDeleted();
    } catch (failure) {
      setError(AgentRuntimeError.is(failure) ? failure.message : String(failure));
      setDeleting(false);
      setConfirming(false);
    }
  };

  const status = runtime.busy ? "working" : runtime.sandboxStatus;
  return (
    <li className={`session-item ${active ? "active" : ""}`} data-session-id={session.sessionId}>
      <button
        type="button"
        className="session-open"
        onClick={onOpen}
        aria-current={active ? "page" : undefined}
      >
        <span className="session-title">{title || "Untitled session"}</span>
        <span className="session-meta">
          <StatusDot status={status} />
          <span>{status}</span>
          <span aria-hidden="true">·</span>
          <span>{timeAgo(runtime.lastActivityAt || session.updatedAt)}</span>
        </span>
        <span className="session-meta muted">
          {session.agentProfileRef} · {session.architecture}
          {session.sessionOptions.model ? ` · ${session.sessionOptions.model}` : ""}
        </span>
        {error ? <span className="form-error small">{error}</span> : null}
      </button>
      <button
        type="button"
        className={`button ghost small session-delete ${confirming ? "confirm" : ""}`}
        disabled={deleting}
        aria-label={confirming ? "Confirm delete" : "Delete session"}
        title="Delete session"
        onClick={() => (confirming ? void remove() : setConfirming(true))}
      >
        {deleting ? "…" : confirming ? "Delete?" : "✕"}
      </button>
    </li>
  );
}
