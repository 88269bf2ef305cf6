import { preciseNow } from "../http/clock.js";
import type { ChunkEvent } from "../http/hooks.js";
import type { SseStream } from "../http/sse-stream.js";
import { chunkText, type ModelResponse } from "../script/response.js";
import { finishReason, openAiUsage } from "./completion-body.js";

export interface OpenAiStreamContext {
  completionId: string;
  model: string;
  includeUsage: boolean;
  requestId: number;
  onChunk: ((chunk: ChunkEvent) => void) | undefined;
}

/**
 * Streams a response as `chat.completion.chunk` events: a role chunk, the
 * content / `reasoning_content` / `tool_calls` deltas, a chunk with the
 * `finish_reason`, the usage chunk (empty `choices`) when
 * `stream_options.include_usage` is set, and `data: [DONE]`.
 */
export async function streamOpenAiCompletion(
  sse: SseStream,
  response: ModelResponse,
  context: OpenAiStreamContext,
): Promise<void> {
  const created = Math.floor(Date.now() / 1000);
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    sse.send({
      id: context.completionId,
      object: "chat.completion.chunk",
      created,
      model: context.model,
      choices,
      ...extra,
    });
  const delta = (value: Record<string, unknown>) =>
    chunk([{ index: 0, delta: value, logprobs: null, finish_reason: null }]);

  delta({ role: "assistant", content: "" });
  let toolIndex = 0;
  for (const block of response.blocks) {
    const pieces =
      block.type === "tool_use"
        ? chunkText(JSON.stringify(block.input), response.chunkSize)
        : chunkText(block.type === "text" ? block.text : block.thinking, response.chunkSize);
    if (block.type === "tool_use") {
      delta({
        tool_calls: [
          { index: toolIndex, id: block.id, type: "function", function: { name: block.name, arguments: "" } },
        ],
      });
    }
    for (const piece of pieces) {
      await sse.pace();
      if (sse.closed) return;
      if (block.type === "text") delta({ content: piece });
      else if (block.type === "thinking") delta({ reasoning_content: piece });
      else delta({ tool_calls: [{ index: toolIndex, function: { arguments: piece } }] });
      context.onChunk?.({
        requestId: context.requestId,
        timestamp: preciseNow(),
        blockType: block.type,
        text: piece,
      });
    }
    if (block.type === "tool_use") toolIndex++;
  }
  chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: finishReason(response) }]);
  if (context.includeUsage) chunk([], { usage: openAiUsage(response) });
  sse.send("[DONE]");
}
