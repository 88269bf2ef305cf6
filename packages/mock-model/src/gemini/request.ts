import { z } from "zod";
import { type ConversationParts, type PromptImage, promptImage, type Turn } from "../script/conversation.js";

const partSchema = z.looseObject({
  text: z.string().optional(),
  thought: z.boolean().optional(),
  functionCall: z.looseObject({ name: z.string() }).optional(),
  functionResponse: z
    .looseObject({ name: z.string().optional(), response: z.unknown().optional() })
    .optional(),
  inlineData: z.looseObject({ mimeType: z.string(), data: z.string() }).optional(),
});

/** The parts of a Gemini API body (`generateContent` / `streamGenerateContent`) the mock reads. */
export const geminiRequestSchema = z.looseObject({
  contents: z.array(z.looseObject({ role: z.string().optional(), parts: z.array(partSchema) })).min(1),
  systemInstruction: z.looseObject({ parts: z.array(partSchema) }).nullish(),
  tools: z
    .array(z.looseObject({ functionDeclarations: z.array(z.looseObject({ name: z.string() })).optional() }))
    .nullish(),
  generationConfig: z.looseObject({ maxOutputTokens: z.number().int().positive().nullish() }).nullish(),
});
export type GeminiRequest = z.infer<typeof geminiRequestSchema>;
type Part = z.infer<typeof partSchema>;

/** User text parts Gemini CLI adds as context rather than as the user's prompt: matched as system text. */
const HARNESS_CONTEXT = /^\s*<session_context>/;

/**
 * Reduces a Gemini body to what the script engine matches on: the system
 * instruction and Gemini CLI's `<session_context>` are system text; a user
 * content of function responses is a turn of tool results; `model`
 * contents are assistant turns.
 */
export function geminiConversationParts(model: string, body: GeminiRequest): ConversationParts {
  const turns: Turn[] = [];
  for (const content of body.contents) {
    const responses = content.parts.filter((part) => part.functionResponse);
    if (content.role === "model") {
      turns.push({
        role: "assistant",
        text: textOf(content.parts.filter((p) => !p.thought)),
        toolResults: [],
      });
    } else if (responses.length > 0) {
      const results = responses.map((part) => JSON.stringify(part.functionResponse?.response ?? ""));
      const last = turns.at(-1);
      if (last && last.role === "user" && last.toolResults.length > 0) last.toolResults.push(...results);
      else turns.push({ role: "user", text: "", toolResults: results });
    } else {
      // Gemini CLI sends its context as a part of the first user content, before the prompt's parts.
      const context = content.parts.filter(
        (part) => part.text !== undefined && HARNESS_CONTEXT.test(part.text),
      );
      if (context.length > 0) turns.push({ role: "system", text: textOf(context), toolResults: [] });
      const own = content.parts.filter((part) => !context.includes(part));
      const images = imagesOf(own);
      turns.push({
        role: "user",
        text: textOf(own),
        toolResults: [],
        ...(images.length > 0 ? { images } : {}),
      });
    }
  }
  return {
    model,
    systemPrompt: textOf(body.systemInstruction?.parts ?? []),
    tools: (body.tools ?? []).flatMap((tool) => (tool.functionDeclarations ?? []).map((fn) => fn.name)),
    turns,
    maxTokens: body.generationConfig?.maxOutputTokens ?? undefined,
    inputChars: JSON.stringify([body.systemInstruction, body.contents, body.tools]).length,
  };
}

function textOf(parts: readonly Part[]): string {
  return parts
    .flatMap((part) => (part.text === undefined ? [] : [part.text]))
    .filter((text) => text !== "")
    .join("\n");
}

function imagesOf(parts: readonly Part[]): PromptImage[] {
  return parts.flatMap((part) => {
    const image = part.inlineData ? promptImage(part.inlineData.mimeType, part.inlineData.data) : undefined;
    return image ? [image] : [];
  });
}
