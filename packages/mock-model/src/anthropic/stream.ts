import { preciseNow } from "../http/clock.js";
import type { ChunkEvent } from "../http/hooks.js";
import type { SseStream } from "../http/sse-stream.js";
import { chunkText, type ModelResponse, type ResponseBlock } from "../script/response.js";
import { anthropicUsage } from "./message-body.js";

export interface AnthropicStreamContext {
  messageId: string;
  model: string;
  requestId: number;
  onChunk: ((chunk: ChunkEvent) => void) | undefined;
}

/**
 * Streams a response as Messages API events, in the order the API defines:
 * `message_start`, `ping`, per block `content_block_start` /
 * `content_block_delta`… / `content_block_stop`, then `message_delta` (stop
 * reason and usage) and `message_stop`. Stops early when the client leaves.
 */
export async function streamAnthropicMessage(
  sse: SseStream,
  response: ModelResponse,
  context: AnthropicStreamContext,
): Promise<void> {
  const event = (type: string, data: Record<string, unknown>) => sse.send({ type, ...data }, type);
  event("message_start", {
    message: {
      id: context.messageId,
      type: "message",
      role: "assistant",
      model: context.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { ...anthropicUsage(response), output_tokens: 1 },
    },
  });
  event("ping", {});
  for (const [index, block] of response.blocks.entries()) {
    event("content_block_start", { index, content_block: emptyBlock(block) });
    for (const [deltaType, text] of deltas(block, response.chunkSize)) {
      await sse.pace();
      if (sse.closed) return;
      const field =
        deltaType === "text_delta" ? "text" : deltaType === "thinking_delta" ? "thinking" : "partial_json";
      event("content_block_delta", { index, delta: { type: deltaType, [field]: text } });
      context.onChunk?.({
        requestId: context.requestId,
        timestamp: preciseNow(),
        blockType: block.type,
        text,
      });
    }
    if (block.type === "thinking") {
      event("content_block_delta", { index, delta: { type: "signature_delta", signature: block.signature } });
    }
    event("content_block_stop", { index });
  }
  event("message_delta", {
    delta: { stop_reason: response.stopReason, stop_sequence: null },
    usage: anthropicUsage(response),
  });
  event("message_stop", {});
}

function emptyBlock(block: ResponseBlock): Record<string, unknown> {
  if (block.type === "text") return { type: "text", text: "" };
  if (block.type === "thinking") return { type: "thinking", thinking: "", signature: "" };
  return { type: "tool_use", id: block.id, name: block.name, input: {} };
}

type DeltaType = "text_delta" | "thinking_delta" | "input_json_delta";

function deltas(block: ResponseBlock, chunkSize: number): [DeltaType, string][] {
  if (block.type === "text") return chunkText(block.text, chunkSize).map((text) => ["text_delta", text]);
  if (block.type === "thinking") {
    return chunkText(block.thinking, chunkSize).map((text) => ["thinking_delta", text]);
  }
  return chunkText(JSON.stringify(block.input), chunkSize).map((text) => ["input_json_delta", text]);
}
