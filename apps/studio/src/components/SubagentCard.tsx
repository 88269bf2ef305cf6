import type { SubagentBlock } from "@agent-runtime/protocol";
import { duration, firstLine } from "../format.js";
import { StatusDot } from "./StatusDot.js";

interface SubagentCardProps {
  readonly block: SubagentBlock;
  /** Opens the subagent's own transcript. */
  onOpen(): void;
}

/** A subagent run: its display name, status and duration, task and a one-line account of its report; opens its transcript. */
export function SubagentCard({ block, onOpen }: SubagentCardProps) {
  const task = block.description || block.prompt;
  const report = block.summary ?? (block.output ? firstLine(block.output, 200) : undefined);
  return (
    <button type="button" className="subagent-card" onClick={onOpen} data-block-type="subagent">
      <span className="subagent-head">
        <StatusDot status={block.status === "running" ? "working" : block.status} />
        <strong title={block.name}>{block.displayName || block.name}</strong>
        <span className="muted small">
          subagent · {block.status}
          {block.durationMs !== undefined ? ` · ${duration(block.durationMs)}` : ""}
        </span>
        <span className="subagent-open">Open transcript →</span>
      </span>
      {task ? <span className="muted small">{firstLine(task, 140)}</span> : null}
      {report ? <span className="subagent-output">{report}</span> : null}
    </button>
  );
}
