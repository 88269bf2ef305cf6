import type { Block } from "@agent-runtime/protocol";
import { useSessionSelector, useSubagentBlocks } from "@agent-runtime/react";
import { useEffect } from "react";
import { blockIndex } from "../block-index.js";
import { BlockView } from "./BlockView.js";
import { StatusDot } from "./StatusDot.js";

/** True when the transcript already ends with the subagent's output (then it is not shown twice). */
function repeatsLastText(blocks: readonly Block[] | undefined, output: string): boolean {
  const last = blocks?.findLast((b) => b.type === "assistant_text");
  return last?.type === "assistant_text" && last.content.trim() === output.trim();
}

interface SubagentDrawerProps {
  readonly sessionId: string;
  readonly subagentId: string;
  onClose(): void;
  /** Opens a nested subagent's transcript in place of this one. */
  onOpenSubagent(subagentId: string): void;
}

/** A subagent's own transcript, live, in a side drawer (full screen on phones). Escape closes it. */
export function SubagentDrawer({ sessionId, subagentId, onClose, onOpenSubagent }: SubagentDrawerProps) {
  const blocks = useSubagentBlocks(sessionId, subagentId);
  const info = useSessionSelector(sessionId, (s) => s.subagents.find((a) => a.id === subagentId));
  const block = useSessionSelector(sessionId, (s) => blockIndex(s).subagentsById.get(subagentId));
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") onClose();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);
  const status = info?.status ?? block?.status ?? "running";
  return (
    <div className="drawer-backdrop">
      <button
        type="button"
        className="drawer-scrim"
        aria-label="Close transcript"
        tabIndex={-1}
        onClick={onClose}
      />
      <aside className="drawer" aria-label="Subagent transcript">
        <header className="drawer-head">
          <StatusDot status={status === "running" ? "working" : status} />
          <div className="session-heading">
            <h2>{block?.displayName || info?.name || block?.name || "Subagent"}</h2>
            <span className="muted small">
              subagent · {status}
              {info?.description ? ` · ${info.description}` : ""}
            </span>
          </div>
          <button type="button" className="button ghost small" onClick={onClose} aria-label="Close">
            ✕
          </button>
        </header>
        <div className="drawer-body conversation-inner">
          {blocks === undefined ? <p className="muted small">Loading…</p> : null}
          {blocks?.length === 0 ? <p className="muted small">No output yet.</p> : null}
          {blocks?.map((b) => (
            <BlockView key={b.id} sessionId={sessionId} blockId={b.id} onOpenSubagent={onOpenSubagent} />
          ))}
          {block?.output && !repeatsLastText(blocks, block.output) ? (
            <div className="subagent-final">
              <h4>Final output</h4>
              <p>{block.output}</p>
            </div>
          ) : null}
        </div>
      </aside>
    </div>
  );
}
