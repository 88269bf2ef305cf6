import { useBlock, useSessionSelector } from "@agent-runtime/react";
import { memo } from "react";
import { blockIndex } from "../block-index.js";
import { AssistantText } from "./AssistantText.js";
import { ErrorNotice } from "./ErrorNotice.js";
import { SubagentCard } from "./SubagentCard.js";
import { SystemNotice } from "./SystemNotice.js";
import { ThinkingBlock } from "./ThinkingBlock.js";
import { ToolCard } from "./ToolCard.js";
import { UserMessage } from "./UserMessage.js";

interface BlockViewProps {
  readonly sessionId: string;
  readonly blockId: string;
  onOpenSubagent(subagentId: string): void;
}

/**
 * One block of a transcript (main or subagent), chosen by type. Re-renders
 * only when that block, its streaming state or (for tool calls) its result
 * changes. A `tool_result` whose call is known renders inside the call's card.
 */
export const BlockView = memo(function BlockView({ sessionId, blockId, onOpenSubagent }: BlockViewProps) {
  const block = useBlock(sessionId, blockId);
  const streaming = useSessionSelector(sessionId, (s) => s.inflightBlockIds.includes(blockId));
  const toolUseId = block?.type === "tool_use" || block?.type === "tool_result" ? block.toolUseId : undefined;
  const result = useSessionSelector(sessionId, (s) =>
    toolUseId === undefined ? undefined : blockIndex(s).resultsByToolUseId.get(toolUseId),
  );
  const callKnown = useSessionSelector(sessionId, (s) =>
    toolUseId === undefined ? false : blockIndex(s).toolUseIds.has(toolUseId),
  );
  const subagent = useSessionSelector(sessionId, (s) =>
    toolUseId === undefined ? undefined : blockIndex(s).subagentsById.get(toolUseId),
  );
  if (!block) return null;
  switch (block.type) {
    case "user_message":
      return <UserMessage sessionId={sessionId} block={block} />;
    case "assistant_text":
      return <AssistantText block={block} streaming={streaming} />;
    case "thinking":
      return <ThinkingBlock block={block} streaming={streaming} />;
    case "tool_use":
      // The call that started a subagent is shown by the subagent's card.
      if (subagent) return null;
      return <ToolCard call={block} result={result} />;
    case "tool_result":
      return callKnown ? null : <ToolCard result={block} />;
    case "subagent":
      return <SubagentCard block={block} onOpen={() => onOpenSubagent(block.subagentId)} />;
    case "system":
      return <SystemNotice block={block} />;
    case "error":
      return <ErrorNotice block={block} />;
  }
});
