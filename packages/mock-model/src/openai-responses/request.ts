import { z } from "zod";
import { type ConversationParts, type PromptImage, promptImage, type Turn } from "../script/conversation.js";

/** One item of a Responses request's `input`; only `type`, `role` and the content fields are read. */
const inputItemSchema = z.looseObject({
  type: z.string().optional(),
  role: z.string().optional(),
  content: z.unknown().optional(),
  output: z.unknown().optional(),
});

/** The parts of a Responses API body (`POST /v1/responses`) the mock reads; other fields pass through unchecked. */
export const responsesRequestSchema = z.looseObject({
  model: z.string().min(1),
  instructions: z.string().nullish(),
  input: z.union([z.string(), z.array(inputItemSchema).min(1)]),
  tools: z.array(z.looseObject({ type: z.string(), name: z.string().optional() })).nullish(),
  stream: z.boolean().nullish(),
  max_output_tokens: z.number().int().positive().nullish(),
});
export type ResponsesRequest = z.infer<typeof responsesRequestSchema>;
type InputItem = z.infer<typeof inputItemSchema>;

/**
 * User messages an agent harness adds as context rather than as the user's
 * prompt (Codex's environment and AGENTS.md sections): matched as system
 * text, so the prompt is the user's own message.
 */
const HARNESS_CONTEXT =
  /^\s*(<environment_context>|<user_instructions>|# AGENTS\.md instructions|<permissions instructions>|<skills_instructions>)/;

/** Items the model produced: each is an assistant turn (consecutive ones count as one). */
const ASSISTANT_ITEMS = new Set([
  "function_call",
  "custom_tool_call",
  "local_shell_call",
  "web_search_call",
  "reasoning",
  "tool_search_call",
]);

/** Items carrying a tool's result back: each a tool result of a user turn. */
const OUTPUT_ITEMS = new Set(["function_call_output", "custom_tool_call_output", "local_shell_call_output"]);

/**
 * Reduces a Responses body to what the script engine matches on:
 * `instructions` and developer/system messages are system text, harness
 * context messages too (see `HARNESS_CONTEXT`); model items are assistant
 * turns and consecutive tool outputs form one user turn of tool results.
 */
export function responsesConversationParts(body: ResponsesRequest): ConversationParts {
  const items: InputItem[] =
    typeof body.input === "string" ? [{ type: "message", role: "user", content: body.input }] : body.input;
  const turns: Turn[] = [];
  for (const item of items) {
    const type = item.type ?? "message";
    if (OUTPUT_ITEMS.has(type)) {
      const text = contentText(item.output);
      const last = turns.at(-1);
      if (last && last.role === "user" && last.toolResults.length > 0) last.toolResults.push(text);
      else turns.push({ role: "user", text: "", toolResults: [text] });
    } else if (ASSISTANT_ITEMS.has(type)) {
      turns.push({ role: "assistant", text: "", toolResults: [] });
    } else if (type === "message") {
      const text = contentText(item.content);
      const role =
        item.role === "assistant"
          ? "assistant"
          : item.role === "user" && !HARNESS_CONTEXT.test(text)
            ? "user"
            : "system";
      const images = role === "user" ? contentImages(item.content) : [];
      turns.push({ role, text, toolResults: [], ...(images.length > 0 ? { images } : {}) });
    }
  }
  return {
    model: body.model,
    systemPrompt: body.instructions ?? "",
    tools: (body.tools ?? []).map((tool) => tool.name ?? tool.type),
    turns,
    maxTokens: body.max_output_tokens ?? undefined,
    inputChars: JSON.stringify([body.instructions, body.input, body.tools]).length,
  };
}

/** The freeform (`custom`) tools a request offers, by name: their calls carry raw text, not JSON arguments. */
export function customToolNames(body: ResponsesRequest): Set<string> {
  return new Set(
    (body.tools ?? []).flatMap((tool) => (tool.type === "custom" && tool.name ? [tool.name] : [])),
  );
}

/** The text of a content or output: a string, or the text of its `*_text` parts. */
function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((part: unknown) => {
      const record = part as { type?: unknown; text?: unknown } | null;
      return record && typeof record.text === "string" ? record.text : "";
    })
    .filter((text) => text !== "")
    .join("\n");
}

/** The `input_image` parts that carry their image as a `data:` URL. */
function contentImages(content: unknown): PromptImage[] {
  if (!Array.isArray(content)) return [];
  return content.flatMap((part: unknown) => {
    const record = part as { type?: unknown; image_url?: unknown } | null;
    if (record?.type !== "input_image" || typeof record.image_url !== "string") return [];
    const image = promptImage(undefined, record.image_url);
    return image ? [image] : [];
  });
}
