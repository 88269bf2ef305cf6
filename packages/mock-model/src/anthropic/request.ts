import { z } from "zod";
import {
  type ConversationParts,
  promptImage,
  stripSystemReminders,
  type Turn,
} from "../script/conversation.js";

const contentBlockSchema = z.looseObject({ type: z.string() });
const contentSchema = z.union([z.string(), z.array(contentBlockSchema)]);

/** The parts of a Messages API body the mock reads; other fields pass through unchecked. */
export const messagesRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(z.looseObject({ role: z.enum(["user", "assistant", "system"]), content: contentSchema })),
  system: z
    .union([z.string(), z.array(z.looseObject({ type: z.string(), text: z.string().optional() }))])
    .optional(),
  tools: z.array(z.looseObject({ name: z.string() })).optional(),
  max_tokens: z.number().int().positive().optional(),
  stream: z.boolean().optional(),
});
export type MessagesRequest = z.infer<typeof messagesRequestSchema>;

/** Reduces a Messages API body to what the script engine matches on. */
export function anthropicConversationParts(body: MessagesRequest): ConversationParts {
  const system =
    typeof body.system === "string" ? body.system : (body.system ?? []).map((b) => b.text ?? "").join("\n");
  const tools = (body.tools ?? []).map((tool) => tool.name);
  return {
    model: body.model,
    systemPrompt: system,
    tools,
    turns: body.messages.map(toTurn),
    maxTokens: body.max_tokens,
    inputChars: JSON.stringify([body.system, body.messages, body.tools]).length,
  };
}

function toTurn(message: MessagesRequest["messages"][number]): Turn {
  const blocks =
    typeof message.content === "string" ? [{ type: "text", text: message.content }] : message.content;
  const text = blocks
    .filter((block) => block.type === "text")
    .map((block) => stripSystemReminders(String(block.text ?? "")))
    .join("\n");
  const toolResults = blocks
    .filter((block) => block.type === "tool_result")
    .map((block) => contentText(block.content));
  const images = blocks.flatMap((block) => {
    const source = block.source as { type?: string; media_type?: string; data?: string } | undefined;
    if (block.type !== "image" || source?.type !== "base64" || typeof source.data !== "string") return [];
    const image = promptImage(source.media_type, source.data);
    return image ? [image] : [];
  });
  return { role: message.role, text, toolResults, ...(images.length > 0 ? { images } : {}) };
}

/** The text of a `tool_result` content: a string, or the text blocks of an array. */
export function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .filter((block): block is { text: string } => typeof block?.text === "string")
    .map((block) => block.text)
    .join("\n");
}
