import { useConnectionState, useSessionSelector } from "@agent-runtime/react";
import { compactNumber, usd } from "../format.js";
import { StatusDot } from "./StatusDot.js";

/** Sandbox state, turn state, token usage and cost, connection; one calm line. */
export function StatusBar({ sessionId }: { readonly sessionId: string }) {
  const runtime = useSessionSelector(sessionId, (s) => s.runtime);
  const usage = useSessionSelector(sessionId, (s) => s.metadata?.usage);
  const estimated = useSessionSelector(sessionId, (s) => s.usageEstimated);
  const running = useSessionSelector(sessionId, (s) => s.turn.running);
  const stopReason = useSessionSelector(sessionId, (s) => s.turn.lastStopReason);
  const connection = useConnectionState();
  const sandbox = runtime?.sandboxStatus ?? "pending";
  return (
    <footer className="statusbar" data-testid="statusbar">
      <span className="status-item" data-sandbox-status={sandbox} title={runtime?.error?.message}>
        <StatusDot status={sandbox} />
        sandbox{" "}
        {sandbox === "preparing"
          ? "installing dependencies"
          : sandbox === "queued" && runtime?.queuePosition
            ? `queued (${runtime.queuePosition} to go)`
            : sandbox}
        {sandbox === "preparing" && runtime?.progress ? (
          <span className="muted" data-testid="sandbox-progress">
            {" "}
            · {runtime.progress}
          </span>
        ) : null}
      </span>
      <span className="status-item">
        {running ? (
          <>
            <StatusDot status="working" /> working
          </>
        ) : stopReason === "interrupted" ? (
          "interrupted"
        ) : (
          "idle"
        )}
      </span>
      {runtime?.error ? <span className="status-item form-error">{runtime.error.message}</span> : null}
      <span className="topbar-spacer" />
      {usage ? (
        <span
          className="status-item"
          title={`Tokens in / out and cost of this session${estimated ? " (the agent's estimate)" : ""}`}
        >
          {estimated ? "≈ " : ""}
          {compactNumber(usage.inputTokens + usage.cacheReadTokens + usage.cacheCreationTokens)} in ·{" "}
          {compactNumber(usage.outputTokens)} out · {usd(usage.costUsd)}
        </span>
      ) : null}
      {connection.status !== "connected" ? (
        <span className="status-item muted">{connection.status}</span>
      ) : null}
    </footer>
  );
}
