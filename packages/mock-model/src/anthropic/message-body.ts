import type { ModelResponse } from "../script/response.js";

/** The Messages API `usage` object. */
export function anthropicUsage(response: ModelResponse): Record<string, unknown> {
  return {
    input_tokens: response.usage.inputTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    output_tokens: response.usage.outputTokens,
  };
}

/** A complete (response blocks already have the Messages API block shapes) non-streaming Messages API response. */
export function anthropicMessage(
  id: string,
  model: string,
  response: ModelResponse,
): Record<string, unknown> {
  return {
    id,
    type: "message",
    role: "assistant",
    model,
    content: response.blocks,
    stop_reason: response.stopReason,
    stop_sequence: null,
    usage: anthropicUsage(response),
  };
}
