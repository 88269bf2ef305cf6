import { createHash } from "node:crypto";

/**
 * A protocol-neutral view of one model request, which is all the script
 * engine sees. The Anthropic and OpenAI adapters build it from their
 * request bodies.
 */
export interface Conversation {
  model: string;
  /** All system text: the system prompt plus any system-role messages, joined by blank lines. */
  system: string;
  /** Names of the tools the request offers, in order. */
  tools: string[];
  /** The text of the latest user prompt ("" when the request has none). */
  prompt: string;
  /** Index of that prompt among the request's turns (-1 when none); part of derived tool-use ids. */
  promptIndex: number;
  /** Assistant turns after the prompt: 0 for the first model request of a turn, 1 after the first tool round, … */
  position: number;
  /** Text of the tool results in the last turn; undefined when the last turn carries none. */
  toolResult: string | undefined;
  /** The requested output limit, when the protocol has one. */
  maxTokens: number | undefined;
  /** Characters of prompt material, for input-token estimates. */
  inputChars: number;
  /** The images of the latest user prompt, in order. */
  promptImages: PromptImage[];
}

/** An image a request carries (base64 in the request), as the mock saw it. */
export interface PromptImage {
  mediaType: string;
  /** Decoded size. */
  bytes: number;
  /** SHA-256 of the decoded bytes, hex. */
  sha256: string;
}

/** One message reduced to what matching needs. Tool results count as user turns. */
export interface Turn {
  role: "user" | "assistant" | "system";
  /** Text content with `<system-reminder>` sections removed. */
  text: string;
  /** Text of each tool result the turn carries. */
  toolResults: string[];
  /** Images the turn carries (user turns). */
  images?: PromptImage[];
}

export interface ConversationParts {
  model: string;
  systemPrompt: string;
  tools: string[];
  turns: Turn[];
  maxTokens: number | undefined;
  inputChars: number;
}

/**
 * Derives the prompt and the position in the conversation from the turns.
 * A prompt is a user turn with text and no tool result; the position counts
 * runs of assistant turns after it (consecutive assistant turns are one).
 */
export function describeConversation(parts: ConversationParts): Conversation {
  const { turns } = parts;
  let promptIndex = -1;
  for (let i = turns.length - 1; i >= 0; i--) {
    const turn = turns[i]!;
    if (turn.role === "user" && turn.toolResults.length === 0 && turn.text.trim() !== "") {
      promptIndex = i;
      break;
    }
  }
  let position = 0;
  let previous: Turn["role"] | undefined;
  for (const turn of turns.slice(promptIndex + 1)) {
    if (turn.role === "system") continue;
    if (turn.role === "assistant" && previous !== "assistant") position++;
    previous = turn.role;
  }
  const last = turns.at(-1);
  const systemTurns = turns.filter((turn) => turn.role === "system").map((turn) => turn.text);
  return {
    model: parts.model,
    system: [parts.systemPrompt, ...systemTurns].filter((text) => text !== "").join("\n\n"),
    tools: parts.tools,
    prompt: promptIndex >= 0 ? turns[promptIndex]!.text.trim() : "",
    promptIndex,
    position,
    toolResult: last && last.toolResults.length > 0 ? last.toolResults.join("\n") : undefined,
    maxTokens: parts.maxTokens,
    inputChars: parts.inputChars,
    promptImages: promptIndex >= 0 ? (turns[promptIndex]!.images ?? []) : [],
  };
}

/** An image given as base64 `data` (a bare payload or a `data:` URL); undefined when it is not one. */
export function promptImage(mediaType: string | undefined, data: string): PromptImage | undefined {
  const url = /^data:([^;,]+);base64,(.*)$/s.exec(data);
  const type = url ? url[1]! : mediaType;
  if (!type) return undefined;
  const bytes = Buffer.from(url ? url[2]! : data, "base64");
  return { mediaType: type, bytes: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") };
}

const SYSTEM_REMINDER = /<system-reminder>[\s\S]*?<\/system-reminder>/g;

/** Removes the `<system-reminder>` sections Claude Code adds to user messages. */
export function stripSystemReminders(text: string): string {
  return text.replace(SYSTEM_REMINDER, "");
}
