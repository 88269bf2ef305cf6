import type { SubagentBlock } from "@agent-runtime/protocol";
import { firstLine } from "../format.js";
import { StatusDot } from "./StatusDot.js";

interface SubagentCardProps {
  readonly block: SubagentBlock;
  /** Opens the subagent's own transcript. */
  onOpen(): void;
}

/** A subagent run: name, status, task; opens its transcript. */
export function SubagentCard({ block, onOpen }: SubagentCardProps) {
  const task = block.description || block.prompt;
  return (
    <button type="button" className="subagent-card" onClick={onOpen} data-block-type="subagent">
      <span className="subagent-head">
        <StatusDot status={block.status === "running" ? "working" : block.status} />
        <strong>{block.name}</strong>
        <span className="muted small">subagent · {block.status}</span>
        <span className="subagent-open">Open transcript →</span>
      </span>
      {task ? <span className="muted small">{firstLine(task, 140)}</span> : null}
      {block.output ? <span className="subagent-output">{firstLine(block.output, 200)}</span> : null}
    </button>
  );
}
