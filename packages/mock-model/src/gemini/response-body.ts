import type { ModelResponse, ResponseBlock } from "../script/response.js";

/** The Gemini API's `usageMetadata`. */
export function geminiUsage(response: ModelResponse): Record<string, number> {
  const { inputTokens, outputTokens } = response.usage;
  return {
    promptTokenCount: inputTokens,
    candidatesTokenCount: outputTokens,
    totalTokenCount: inputTokens + outputTokens,
  };
}

/** A block as one part: text, a thought (`thought: true`), or a `functionCall` with its id. */
export function geminiPart(block: ResponseBlock): Record<string, unknown> {
  if (block.type === "text") return { text: block.text };
  if (block.type === "thinking") return { text: block.thinking, thought: true };
  return { functionCall: { id: block.id, name: block.name, args: block.input } };
}

/** One `GenerateContentResponse` carrying `parts`; the last one has the finish reason and usage. */
export function geminiChunk(
  model: string,
  parts: Record<string, unknown>[],
  final?: ModelResponse,
): Record<string, unknown> {
  return {
    candidates: [{ content: { role: "model", parts }, index: 0, ...(final ? { finishReason: "STOP" } : {}) }],
    ...(final ? { usageMetadata: geminiUsage(final) } : {}),
    modelVersion: model,
  };
}
