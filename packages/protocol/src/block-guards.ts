import type {
  AssistantTextBlock,
  Block,
  BlockType,
  ErrorBlock,
  SubagentBlock,
  SystemBlock,
  ThinkingBlock,
  ToolResultBlock,
  ToolUseBlock,
  UserMessageBlock,
} from "./blocks.js";

/** The block type whose `type` is `T`. */
export type BlockOfType<T extends BlockType> = Extract<Block, { type: T }>;

/** True when `block` is of type `type`; narrows it (e.g. for `blocks.filter`). */
export function isBlockOfType<T extends BlockType>(block: Block, type: T): block is BlockOfType<T> {
  return block.type === type;
}

export function isUserMessageBlock(block: Block): block is UserMessageBlock {
  return block.type === "user_message";
}

export function isAssistantTextBlock(block: Block): block is AssistantTextBlock {
  return block.type === "assistant_text";
}

export function isToolUseBlock(block: Block): block is ToolUseBlock {
  return block.type === "tool_use";
}

export function isToolResultBlock(block: Block): block is ToolResultBlock {
  return block.type === "tool_result";
}

export function isThinkingBlock(block: Block): block is ThinkingBlock {
  return block.type === "thinking";
}

export function isSystemBlock(block: Block): block is SystemBlock {
  return block.type === "system";
}

export function isSubagentBlock(block: Block): block is SubagentBlock {
  return block.type === "subagent";
}

export function isErrorBlock(block: Block): block is ErrorBlock {
  return block.type === "error";
}
