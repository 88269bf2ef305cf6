import type { ModelResponse } from "../script/response.js";

/** `finish_reason` for a response. */
export function finishReason(response: ModelResponse): "stop" | "tool_calls" {
  return response.stopReason === "tool_use" ? "tool_calls" : "stop";
}

/** The chat-completions `usage` object. */
export function openAiUsage(response: ModelResponse): Record<string, number> {
  const { inputTokens, outputTokens } = response.usage;
  return {
    prompt_tokens: inputTokens,
    completion_tokens: outputTokens,
    total_tokens: inputTokens + outputTokens,
  };
}

/**
 * A complete non-streaming chat completion. Text blocks are joined into
 * `content`; thinking goes to `reasoning_content` (the field
 * OpenAI-compatible servers use), tool calls to `tool_calls`.
 */
export function openAiCompletion(
  id: string,
  model: string,
  response: ModelResponse,
): Record<string, unknown> {
  const text = response.blocks.flatMap((block) => (block.type === "text" ? [block.text] : [])).join("");
  const thinking = response.blocks
    .flatMap((block) => (block.type === "thinking" ? [block.thinking] : []))
    .join("");
  const toolCalls = response.blocks.flatMap((block) =>
    block.type === "tool_use"
      ? [
          {
            id: block.id,
            type: "function",
            function: { name: block.name, arguments: JSON.stringify(block.input) },
          },
        ]
      : [],
  );
  return {
    id,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: text === "" && toolCalls.length > 0 ? null : text,
          refusal: null,
          ...(thinking ? { reasoning_content: thinking } : {}),
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        },
        logprobs: null,
        finish_reason: finishReason(response),
      },
    ],
    usage: openAiUsage(response),
  };
}
