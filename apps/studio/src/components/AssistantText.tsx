import type { AssistantTextBlock } from "@agent-runtime/protocol";
import { Markdown } from "./Markdown.js";

interface AssistantTextProps {
  readonly block: AssistantTextBlock;
  /** True while deltas still arrive: shows a caret. */
  readonly streaming: boolean;
}

/** The agent's text as Markdown, updated with each streamed delta. */
export function AssistantText({ block, streaming }: AssistantTextProps) {
  return (
    <div
      className={`message assistant-message ${streaming ? "streaming" : ""}`}
      data-block-type="assistant_text"
      data-streaming={streaming}
    >
      <Markdown text={block.content} />
    </div>
  );
}
