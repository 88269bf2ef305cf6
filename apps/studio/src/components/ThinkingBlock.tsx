import type { ThinkingBlock as ThinkingBlockData } from "@agent-runtime/protocol";
import { firstLine } from "../format.js";

interface ThinkingBlockProps {
  readonly block: ThinkingBlockData;
  readonly streaming: boolean;
}

/** The agent's reasoning, collapsed to one line until opened. */
export function ThinkingBlock({ block, streaming }: ThinkingBlockProps) {
  return (
    <details className="thinking" data-block-type="thinking">
      <summary>
        <span className="thinking-label">{streaming ? "Thinking…" : "Thought"}</span>
        <span className="muted thinking-preview">{firstLine(block.content, 90)}</span>
      </summary>
      <div className="thinking-body">{block.content}</div>
    </details>
  );
}
