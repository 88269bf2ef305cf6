import { useAgentSession, useSessionSelector } from "@agent-runtime/react";
import { useState } from "react";
import { architectureLabel, capabilityLimits } from "../architectures.js";
import { sessionTitle } from "../session-title.js";
import { useArchitectures } from "../use-architectures.js";
import { Composer } from "./Composer.js";
import { Conversation } from "./Conversation.js";
import { StatusBar } from "./StatusBar.js";
import { SubagentDrawer } from "./SubagentDrawer.js";
import { WorkspacePanel } from "./WorkspacePanel.js";

interface SessionViewProps {
  readonly sessionId: string;
  onBack(): void;
}

type Pane = "chat" | "files";

/**
 * One session: conversation and composer, the workspace panel beside them
 * (a tab on narrow screens), the status bar, and a subagent's transcript in a
 * drawer. The header names what the session's architecture cannot do (no
 * native resume, no subagents, no permission prompts). Keeps the session live
 * while mounted.
 */
export function SessionView({ sessionId, onBack }: SessionViewProps) {
  const { session, isLoading, error } = useAgentSession(sessionId);
  const title = useSessionSelector(sessionId, sessionTitle);
  const [pane, setPane] = useState<Pane>("chat");
  const [showFiles, setShowFiles] = useState(true);
  const [subagentId, setSubagentId] = useState<string | undefined>(undefined);
  const architectures = useArchitectures();
  const capabilities =
    architectures.state === "ready"
      ? architectures.architectures.find((a) => a.id === session?.architecture)?.capabilities
      : undefined;
  const limits = capabilities ? capabilityLimits(capabilities) : [];

  if (error && !session) {
    return (
      <div className="home">
        <div className="card">
          <h1>{error.code === "SESSION_NOT_FOUND" ? "Session not found" : "Could not load the session"}</h1>
          <p className="muted">{error.message}</p>
          <button type="button" className="button" onClick={onBack}>
            Back to sessions
          </button>
        </div>
      </div>
    );
  }

  return (
    <section className={`session pane-${pane} ${showFiles ? "" : "files-hidden"}`} aria-busy={isLoading}>
      <header className="session-header">
        <button type="button" className="button ghost small back" onClick={onBack} aria-label="All sessions">
          ←
        </button>
        <div className="session-heading">
          <h1 className="session-name">{title || (isLoading ? "Loading…" : "Untitled session")}</h1>
          {session ? (
            <span className="muted small">
              {session.agentProfileRef} · {architectureLabel(session.architecture)}
              {session.sessionOptions.model ? ` · ${session.sessionOptions.model}` : ""}
              {limits.length > 0 ? (
                <span data-testid="capability-limits"> · {limits.join(" · ")}</span>
              ) : null}
            </span>
          ) : null}
        </div>
        <div className="tabs" role="tablist">
          <button type="button" role="tab" aria-selected={pane === "chat"} onClick={() => setPane("chat")}>
            Chat
          </button>
          <button type="button" role="tab" aria-selected={pane === "files"} onClick={() => setPane("files")}>
            Files
          </button>
        </div>
        <button
          type="button"
          className="button ghost small files-toggle"
          aria-pressed={showFiles}
          onClick={() => setShowFiles((shown) => !shown)}
        >
          {showFiles ? "Hide files" : "Show files"}
        </button>
      </header>
      <div className="session-body">
        <div className="chat-column">
          <Conversation sessionId={sessionId} onOpenSubagent={setSubagentId} />
          <Composer sessionId={sessionId} />
        </div>
        <WorkspacePanel sessionId={sessionId} />
      </div>
      <StatusBar sessionId={sessionId} />
      {subagentId ? (
        <SubagentDrawer
          sessionId={sessionId}
          subagentId={subagentId}
          onClose={() => setSubagentId(undefined)}
          onOpenSubagent={setSubagentId}
        />
      ) : null}
    </section>
  );
}
