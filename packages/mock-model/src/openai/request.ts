import { z } from "zod";
import { type ConversationParts, type PromptImage, promptImage, type Turn } from "../script/conversation.js";

const contentSchema = z
  .union([z.string(), z.array(z.looseObject({ type: z.string() })), z.null()])
  .optional();

/** The parts of a chat-completions body the mock reads; other fields pass through unchecked. */
export const chatRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z
    .array(
      z.looseObject({
        role: z.enum(["system", "developer", "user", "assistant", "tool", "function"]),
        content: contentSchema,
      }),
    )
    .min(1),
  tools: z.array(z.looseObject({ function: z.looseObject({ name: z.string() }) })).optional(),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  max_tokens: z.number().int().positive().nullish(),
  max_completion_tokens: z.number().int().positive().nullish(),
});
export type ChatRequest = z.infer<typeof chatRequestSchema>;

/** Reduces a chat-completions body to what the script engine matches on; consecutive tool messages form one turn. */
export function openAiConversationParts(body: ChatRequest): ConversationParts {
  const turns: Turn[] = [];
  for (const message of body.messages) {
    const text = contentText(message.content);
    if (message.role === "tool" || message.role === "function") {
      const last = turns.at(-1);
      if (last && last.role === "user" && last.toolResults.length > 0) last.toolResults.push(text);
      else turns.push({ role: "user", text: "", toolResults: [text] });
      continue;
    }
    const role = message.role === "developer" ? "system" : message.role;
    const images = contentImages(message.content);
    turns.push({ role, text, toolResults: [], ...(images.length > 0 ? { images } : {}) });
  }
  return {
    model: body.model,
    systemPrompt: "",
    tools: (body.tools ?? []).map((tool) => tool.function.name),
    turns,
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? undefined,
    inputChars: JSON.stringify([body.messages, body.tools]).length,
  };
}

/** The `image_url` parts of a content that carry their image as a `data:` URL. */
function contentImages(content: ChatRequest["messages"][number]["content"]): PromptImage[] {
  if (!Array.isArray(content)) return [];
  return content.flatMap((part) => {
    const url = (part.image_url as { url?: unknown } | undefined)?.url;
    if (part.type !== "image_url" || typeof url !== "string") return [];
    const image = promptImage(undefined, url);
    return image ? [image] : [];
  });
}

function contentText(content: ChatRequest["messages"][number]["content"]): string {
  if (typeof content === "string") return content;
  return (content ?? [])
    .filter((part) => part.type === "text")
    .map((part) => String(part.text ?? ""))
    .join("\n");
}
