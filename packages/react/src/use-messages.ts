import type { QueuedMessage } from "@agent-runtime/client";
import {
  type Block,
  type BlockOfType,
  type BlockType,
  isBlockOfType,
  isMainBlock,
  type MessageAttachment,
  type SendMessageResponse,
  type Usage,
} from "@agent-runtime/protocol";
import { useCallback, useMemo } from "react";
import { useAgentClient } from "./agent-service-provider.js";
import { useSessionSelector } from "./use-session-store.js";
import { shallowEqualArrays } from "./use-store-selector.js";

export interface UseMessagesResult {
  /** The main conversation in order; a new array on every change (use `useBlockIds` + `useBlock` for fine-grained rendering). */
  readonly blocks: readonly Block[];
  /** True while a turn runs or a block is still streaming. */
  readonly isStreaming: boolean;
  /** Ids of the main conversation's blocks started and not completed yet (e.g. to show a cursor). */
  readonly streamingBlockIds: ReadonlySet<string>;
  /** Messages waiting behind the running turn. */
  readonly queuedMessages: readonly QueuedMessage[];
  /** Tokens and cost of the session so far; undefined until the session is loaded. */
  readonly usage: Usage | undefined;
  /** True when `usage` holds the agent's estimates rather than billed figures. */
  readonly usageEstimated: boolean;
  /** A block of the session (main conversation or a subagent's) by id, as streamed so far. */
  getBlock(blockId: string): Block | undefined;
  /** The main conversation's blocks of one type, in order, typed by it. */
  getBlocksByType<T extends BlockType>(type: T): BlockOfType<T>[];
  /** Sends a message, with images and files when `attachments` is given (see `messageAttachmentSchema`). */
  sendMessage(content: string, attachments?: readonly MessageAttachment[]): Promise<SendMessageResponse>;
  /** Stops the running turn; resolves false when none was running. */
  interrupt(): Promise<boolean>;
}

/** The conversation of a session and the commands to drive it. */
export function useMessages(sessionId: string): UseMessagesResult {
  const client = useAgentClient();
  const blocks = useSessionSelector(sessionId, (s) => s.blocks);
  const blocksById = useSessionSelector(sessionId, (s) => s.blocksById);
  const isStreaming = useSessionSelector(sessionId, (s) => s.turn.running || s.inflightBlockIds.length > 0);
  const streamingIds = useSessionSelector(
    sessionId,
    (s) =>
      s.inflightBlockIds.filter((id) => {
        const block = s.blocksById[id];
        return block !== undefined && isMainBlock(block);
      }),
    shallowEqualArrays,
  );
  const streamingBlockIds = useMemo(() => new Set(streamingIds), [streamingIds]);
  const queuedMessages = useSessionSelector(sessionId, (s) => s.queuedMessages);
  const usage = useSessionSelector(sessionId, (s) => s.metadata?.usage);
  const usageEstimated = useSessionSelector(sessionId, (s) => s.usageEstimated);
  const getBlock = useCallback((blockId: string) => blocksById[blockId], [blocksById]);
  const getBlocksByType = useCallback(
    <T extends BlockType>(type: T) =>
      blocks.filter((block): block is BlockOfType<T> => isBlockOfType(block, type)),
    [blocks],
  );
  const sendMessage = useCallback(
    (content: string, attachments?: readonly MessageAttachment[]) =>
      client.sendMessage(sessionId, content, attachments),
    [client, sessionId],
  );
  const interrupt = useCallback(() => client.interrupt(sessionId), [client, sessionId]);
  return {
    blocks,
    isStreaming,
    streamingBlockIds,
    queuedMessages,
    usage,
    usageEstimated,
    getBlock,
    getBlocksByType,
    sendMessage,
    interrupt,
  };
}
