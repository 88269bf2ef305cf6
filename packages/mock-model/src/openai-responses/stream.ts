import { preciseNow } from "../http/clock.js";
import type { ChunkEvent } from "../http/hooks.js";
import type { SseStream } from "../http/sse-stream.js";
import { chunkText, type ModelResponse } from "../script/response.js";
import { customInput, itemId, outputItem, responseObject } from "./response-body.js";

export interface ResponsesStreamContext {
  responseId: string;
  model: string;
  /** The request's freeform tools (see `customToolNames`). */
  custom: ReadonlySet<string>;
  requestId: number;
  onChunk: ((chunk: ChunkEvent) => void) | undefined;
}

/**
 * Streams a response as Responses API events (`event: <type>` with the same
 * `type` in the data, and a growing `sequence_number`):
 * `response.created`, `response.in_progress`, then per block
 * `response.output_item.added`, its deltas (`output_text`,
 * `reasoning_summary_text`, `function_call_arguments` or
 * `custom_tool_call_input`) with their `.done` events,
 * `response.output_item.done`, and last `response.completed` with the whole
 * response and its usage.
 */
export async function streamResponses(
  sse: SseStream,
  response: ModelResponse,
  context: ResponsesStreamContext,
): Promise<void> {
  const createdAt = Math.floor(Date.now() / 1000);
  let sequence = 0;
  const emit = (type: string, fields: Record<string, unknown>) =>
    sse.send({ type, sequence_number: sequence++, ...fields }, type);
  const pending = { id: context.responseId, object: "response", created_at: createdAt, model: context.model };
  emit("response.created", { response: { ...pending, status: "in_progress", output: [] } });
  emit("response.in_progress", { response: { ...pending, status: "in_progress", output: [] } });

  for (const [index, block] of response.blocks.entries()) {
    const id = itemId(context.responseId, block, index);
    const done = outputItem(block, id, context.custom);
    const at = { item_id: id, output_index: index };
    let pieces: string[];
    if (block.type === "text") {
      emit("response.output_item.added", {
        output_index: index,
        item: { ...done, status: "in_progress", content: [] },
      });
      emit("response.content_part.added", {
        ...at,
        content_index: 0,
        part: { type: "output_text", text: "", annotations: [] },
      });
      pieces = chunkText(block.text, response.chunkSize);
    } else if (block.type === "thinking") {
      emit("response.output_item.added", { output_index: index, item: { ...done, summary: [] } });
      emit("response.reasoning_summary_part.added", {
        ...at,
        summary_index: 0,
        part: { type: "summary_text", text: "" },
      });
      pieces = chunkText(block.thinking, response.chunkSize);
    } else {
      const raw = done.type === "custom_tool_call" ? customInput(block.input) : JSON.stringify(block.input);
      emit("response.output_item.added", {
        output_index: index,
        item: {
          ...done,
          status: "in_progress",
          ...(done.type === "custom_tool_call" ? { input: "" } : { arguments: "" }),
        },
      });
      pieces = chunkText(raw, response.chunkSize);
    }
    for (const piece of pieces) {
      await sse.pace();
      if (sse.closed) return;
      if (block.type === "text")
        emit("response.output_text.delta", { ...at, content_index: 0, delta: piece });
      else if (block.type === "thinking")
        emit("response.reasoning_summary_text.delta", { ...at, summary_index: 0, delta: piece });
      else if (done.type === "custom_tool_call")
        emit("response.custom_tool_call_input.delta", { ...at, delta: piece });
      else emit("response.function_call_arguments.delta", { ...at, delta: piece });
      context.onChunk?.({
        requestId: context.requestId,
        timestamp: preciseNow(),
        blockType: block.type,
        text: piece,
      });
    }
    if (block.type === "text") {
      emit("response.output_text.done", { ...at, content_index: 0, text: block.text });
      emit("response.content_part.done", {
        ...at,
        content_index: 0,
        part: { type: "output_text", text: block.text, annotations: [] },
      });
    } else if (block.type === "thinking") {
      emit("response.reasoning_summary_text.done", { ...at, summary_index: 0, text: block.thinking });
      emit("response.reasoning_summary_part.done", {
        ...at,
        summary_index: 0,
        part: { type: "summary_text", text: block.thinking },
      });
    } else if (done.type === "custom_tool_call") {
      emit("response.custom_tool_call_input.done", { ...at, input: done.input });
    } else {
      emit("response.function_call_arguments.done", { ...at, arguments: done.arguments });
    }
    emit("response.output_item.done", { output_index: index, item: done });
  }
  emit("response.completed", {
    response: responseObject(context.responseId, context.model, response, context.custom, createdAt),
  });
}
