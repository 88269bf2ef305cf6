import { useConnectionState } from "@agent-runtime/react";

/** Shown only while the live connection is down; the client reconnects and resumes by itself. */
export function ConnectionBanner() {
  const { status, error } = useConnectionState();
  if (status !== "reconnecting" && status !== "disconnected") return null;
  return (
    <div className="banner connection-banner" role="status">
      {status === "reconnecting" ? "Reconnecting…" : "Disconnected."}
      {error && error.code !== "NETWORK_ERROR" ? <span className="muted"> {error.message}</span> : null}
    </div>
  );
}
