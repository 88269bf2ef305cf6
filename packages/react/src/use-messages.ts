import type { QueuedMessage } from "@agent-runtime/client";
import type { Block, SendMessageResponse } from "@agent-runtime/protocol";
import { useCallback } from "react";
import { useAgentClient } from "./agent-service-provider.js";
import { useSessionSelector } from "./use-session-store.js";

export interface UseMessagesResult {
  /** The main conversation in order; a new array on every change (use `useBlockIds` + `useBlock` for fine-grained rendering). */
  readonly blocks: readonly Block[];
  /** True while a turn runs or a block is still streaming. */
  readonly isStreaming: boolean;
  /** Messages waiting behind the running turn. */
  readonly queuedMessages: readonly QueuedMessage[];
  sendMessage(content: string): Promise<SendMessageResponse>;
  /** Stops the running turn; resolves false when none was running. */
  interrupt(): Promise<boolean>;
}

/** The conversation of a session and the commands to drive it. */
export function useMessages(sessionId: string): UseMessagesResult {
  const client = useAgentClient();
  const blocks = useSessionSelector(sessionId, (s) => s.blocks);
  const isStreaming = useSessionSelector(sessionId, (s) => s.turn.running || s.inflightBlockIds.length > 0);
  const queuedMessages = useSessionSelector(sessionId, (s) => s.queuedMessages);
  const sendMessage = useCallback(
    (content: string) => client.sendMessage(sessionId, content),
    [client, sessionId],
  );
  const interrupt = useCallback(() => client.interrupt(sessionId), [client, sessionId]);
  return { blocks, isStreaming, queuedMessages, sendMessage, interrupt };
}
