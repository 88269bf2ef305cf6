import type { ModelResponse, ResponseBlock } from "../script/response.js";

/** The Responses API `usage` object. */
export function responsesUsage(response: ModelResponse): Record<string, unknown> {
  const { inputTokens, outputTokens } = response.usage;
  return {
    input_tokens: inputTokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: outputTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: inputTokens + outputTokens,
  };
}

/** The id of the output item of block `index` of response `responseId`. */
export function itemId(responseId: string, block: ResponseBlock, index: number): string {
  const prefix = block.type === "text" ? "msg" : block.type === "thinking" ? "rs" : "fc";
  return `${prefix}_${responseId.slice("resp_".length)}_${index}`;
}

/**
 * A block as the finished output item: a text block is an assistant
 * `message`, a thinking block a `reasoning` item with one summary, a tool
 * call a `function_call` (JSON `arguments`), or a `custom_tool_call` (raw
 * `input`: the step's `input.input` when it is a string) for the request's
 * freeform tools.
 */
export function outputItem(
  block: ResponseBlock,
  id: string,
  custom: ReadonlySet<string>,
): Record<string, unknown> {
  if (block.type === "text") {
    return {
      type: "message",
      id,
      status: "completed",
      role: "assistant",
      content: [{ type: "output_text", text: block.text, annotations: [] }],
    };
  }
  if (block.type === "thinking") {
    return { type: "reasoning", id, summary: [{ type: "summary_text", text: block.thinking }] };
  }
  if (custom.has(block.name)) {
    return {
      type: "custom_tool_call",
      id,
      status: "completed",
      call_id: block.id,
      name: block.name,
      input: customInput(block.input),
    };
  }
  return {
    type: "function_call",
    id,
    status: "completed",
    call_id: block.id,
    name: block.name,
    arguments: JSON.stringify(block.input),
  };
}

/** The raw text of a freeform tool call: the step's `input.input` when it is a string, else its JSON. */
export function customInput(input: Record<string, unknown>): string {
  return typeof input.input === "string" ? input.input : JSON.stringify(input);
}

/** A whole response object (`object: "response"`), as sent without streaming and in `response.completed`. */
export function responseObject(
  id: string,
  model: string,
  response: ModelResponse,
  custom: ReadonlySet<string>,
  createdAt: number,
): Record<string, unknown> {
  return {
    id,
    object: "response",
    created_at: createdAt,
    status: "completed",
    model,
    output: response.blocks.map((block, index) => outputItem(block, itemId(id, block, index), custom)),
    usage: responsesUsage(response),
  };
}
