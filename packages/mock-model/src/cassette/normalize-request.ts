import {
  anthropicConversationParts,
  contentText,
  type MessagesRequest,
  messagesRequestSchema,
} from "../anthropic/request.js";
import { NO_MODEL_CALL, type RecordFields } from "../http/route-context.js";
import { type ChatRequest, chatRequestSchema, openAiConversationParts } from "../openai/request.js";
import {
  type ConversationParts,
  describeConversation,
  stripSystemReminders,
} from "../script/conversation.js";
import { redactJson, redactText } from "./redact.js";
import type { CassetteRequest, JsonValue } from "./schema.js";

type JsonObject = { [key: string]: JsonValue };

/** A request as record and replay mode see it. */
export interface NormalizedRequest {
  /** What the cassette stores and replay matches on (secrets redacted). */
  key: CassetteRequest;
  /** What the request log shows (`source` and `matched` are the caller's). */
  log: Omit<RecordFields, "source" | "matched">;
}

const ANTHROPIC_PATHS = new Set(["/v1/messages", "/v1/messages/count_tokens"]);
const OPENAI_PATHS = new Set(["/v1/chat/completions"]);

/**
 * Builds the matching key of a request from its method, URL and raw body.
 * Model calls keep what decides the answer (model, system text, tool names,
 * messages, whether it streams) and lose what changes between otherwise equal runs:
 * `<system-reminder>` sections, surrounding whitespace, cache hints,
 * thinking signatures, metadata and sampling parameters. Other requests keep
 * their JSON body (or text). `secrets` are redacted from path and body.
 */
export function normalizeRequest(
  method: string,
  url: string,
  raw: Buffer | undefined,
  secrets: readonly string[],
): NormalizedRequest {
  const path = redactText(url, secrets);
  const pathname = url.split("?")[0] ?? url;
  const text = raw && raw.length > 0 ? raw.toString("utf8") : undefined;
  const json = text === undefined ? undefined : parseJson(text);

  if (ANTHROPIC_PATHS.has(pathname)) {
    const parsed = messagesRequestSchema.safeParse(json);
    if (parsed.success) {
      const body = parsed.data;
      return modelCall(
        method,
        path,
        "anthropic",
        anthropicConversationParts(body),
        body,
        anthropicKey(body),
        secrets,
      );
    }
  }
  if (OPENAI_PATHS.has(pathname)) {
    const parsed = chatRequestSchema.safeParse(json);
    if (parsed.success) {
      const body = parsed.data;
      return modelCall(method, path, "openai", openAiConversationParts(body), body, openAiKey(body), secrets);
    }
  }
  const model = isObject(json) && typeof json.model === "string" ? json.model : undefined;
  return {
    key: { method, path, ...(model ? { model } : {}), body: redactJson(json ?? text ?? null, secrets) },
    log: { api: "other", ...NO_MODEL_CALL, model },
  };
}

function modelCall(
  method: string,
  path: string,
  api: "anthropic" | "openai",
  parts: ConversationParts,
  body: { model: string; messages: unknown[]; stream?: boolean | null },
  matchBody: JsonObject,
  secrets: readonly string[],
): NormalizedRequest {
  const conversation = describeConversation(parts);
  return {
    key: {
      method,
      path,
      model: body.model,
      stream: body.stream === true,
      body: redactJson(matchBody, secrets),
    },
    log: {
      api,
      model: body.model,
      system: conversation.system,
      tools: conversation.tools,
      images: conversation.promptImages,
      messages: body.messages,
      stream: body.stream === true,
      maxTokens: conversation.maxTokens,
    },
  };
}

function anthropicKey(body: MessagesRequest): JsonObject {
  const system =
    typeof body.system === "string" ? body.system : (body.system ?? []).map((b) => b.text ?? "").join("\n");
  return {
    system: cleanText(system),
    tools: (body.tools ?? []).map((tool) => tool.name),
    messages: body.messages.map((message) => ({
      role: message.role,
      content: (typeof message.content === "string"
        ? [{ type: "text", text: message.content }]
        : message.content
      ).flatMap(anthropicBlock),
    })),
  };
}

function anthropicBlock(block: { type: string; [key: string]: unknown }): JsonValue[] {
  switch (block.type) {
    case "text": {
      const text = cleanText(String(block.text ?? ""));
      return text === "" ? [] : [{ type: "text", text }];
    }
    case "thinking":
      return [{ type: "thinking", thinking: String(block.thinking ?? "") }];
    case "tool_use":
      return [
        {
          type: "tool_use",
          id: String(block.id ?? ""),
          name: String(block.name ?? ""),
          input: toJson(block.input),
        },
      ];
    case "tool_result":
      return [
        {
          type: "tool_result",
          tool_use_id: String(block.tool_use_id ?? ""),
          content: cleanText(contentText(block.content)),
          is_error: block.is_error === true,
        },
      ];
    default:
      return [{ type: block.type }];
  }
}

function openAiKey(body: ChatRequest): JsonObject {
  return {
    tools: (body.tools ?? []).map((tool) => tool.function.name),
    messages: body.messages.map((message) => {
      const content =
        typeof message.content === "string"
          ? message.content
          : (message.content ?? [])
              .map((part) => (part.type === "text" ? String(part.text ?? "") : ""))
              .join("\n");
      const normalized: JsonObject = { role: message.role, content: cleanText(content) };
      if (typeof message.tool_call_id === "string") normalized.tool_call_id = message.tool_call_id;
      if (Array.isArray(message.tool_calls)) normalized.tool_calls = message.tool_calls.map(openAiToolCall);
      return normalized;
    }),
  };
}

function openAiToolCall(call: unknown): JsonValue {
  const { id, function: fn } = (isObject(call) ? call : {}) as { id?: unknown; function?: unknown };
  const { name, arguments: args } = (isObject(fn) ? fn : {}) as { name?: unknown; arguments?: unknown };
  return { id: String(id ?? ""), name: String(name ?? ""), arguments: String(args ?? "") };
}

function cleanText(text: string): string {
  return stripSystemReminders(text).trim();
}

function parseJson(text: string): JsonValue | undefined {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return undefined;
  }
}

function toJson(value: unknown): JsonValue {
  return value === undefined ? null : (JSON.parse(JSON.stringify(value)) as JsonValue);
}

function isObject(value: unknown): value is Record<string, JsonValue> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** JSON with object keys sorted, so equal values give equal strings. */
export function canonicalJson(value: JsonValue): string {
  return JSON.stringify(value, (_key, item: JsonValue) =>
    isObject(item)
      ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : item,
  );
}
