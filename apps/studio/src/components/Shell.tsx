import { useConnectionState, useSessionList } from "@agent-runtime/react";
import { useEffect } from "react";
import { useRoute } from "../route.js";
import { ConnectionBanner } from "./ConnectionBanner.js";
import { DemoBanner } from "./DemoBanner.js";
import { NewSessionForm } from "./NewSessionForm.js";
import { SessionSidebar } from "./SessionSidebar.js";
import { SessionView } from "./SessionView.js";

interface ShellProps {
  readonly demoModel: boolean;
  readonly version: string;
  /** Present when the server requires a key, or a token is used: forgets it and asks again. */
  readonly onForgetKey?: (problem?: string) => void;
}

/** Header, banners, the session sidebar and the routed main view. */
export function Shell({ demoModel, version, onForgetKey }: ShellProps) {
  const [route, navigate] = useRoute();
  const connection = useConnectionState();
  const { error: listError } = useSessionList();
  const refused = [listError?.code, connection.error?.code].some(
    (code) => code === "UNAUTHORIZED" || code === "TOKEN_EXPIRED",
  );
  useEffect(() => {
    if (refused) onForgetKey?.("The server no longer accepts the stored key.");
  }, [refused, onForgetKey]);

  const sessionId = route.view === "session" ? route.sessionId : undefined;
  return (
    <div className={`shell ${sessionId ? "has-session" : "at-home"}`}>
      <header className="topbar">
        <button type="button" className="brand" onClick={() => navigate({ view: "home" })}>
          <img src="./favicon.svg" alt="" width={22} height={22} />
          <span>Agent Runtime</span>
          <span className="brand-sub">Studio</span>
        </button>
        <span className="topbar-spacer" />
        <span className="muted small" title="Server version">
          v{version}
        </span>
        {onForgetKey ? (
          <button type="button" className="button ghost small" onClick={() => onForgetKey()}>
            Change key
          </button>
        ) : null}
      </header>
      {demoModel ? <DemoBanner /> : null}
      <ConnectionBanner />
      <div className="layout">
        <SessionSidebar
          activeId={sessionId}
          onOpen={(id) => navigate({ view: "session", sessionId: id })}
          onNew={() => {
            navigate({ view: "home" });
            // On phones the form sits below the list.
            requestAnimationFrame(() => document.getElementById("new-session")?.scrollIntoView());
          }}
          onDeleted={(id) => {
            if (id === sessionId) navigate({ view: "home" });
          }}
        />
        <main className="main">
          {sessionId ? (
            <SessionView key={sessionId} sessionId={sessionId} onBack={() => navigate({ view: "home" })} />
          ) : (
            <NewSessionForm
              demoModel={demoModel}
              onCreated={(id) => navigate({ view: "session", sessionId: id })}
            />
          )}
        </main>
      </div>
    </div>
  );
}
