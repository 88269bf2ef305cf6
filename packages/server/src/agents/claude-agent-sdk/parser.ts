import type {
  AssistantTextBlock,
  Block,
  ErrorBlock,
  SubagentBlock,
  SubagentStatus,
  SystemBlock,
  ThinkingBlock,
  ToolResultBlock,
  ToolUseBlock,
  TurnStopReason,
  Usage,
} from "@agent-runtime/protocol";
import type { AgentEvent, AgentOutputParser, ParserContext } from "../agent-architecture.js";

/** Tool names that launch a subagent (Claude Code calls it `Agent` on the wire, `Task` in older versions). */
const SUBAGENT_TOOLS = new Set(["Agent", "Task"]);

type Json = Record<string, unknown>;
type StreamedBlock = AssistantTextBlock | ThinkingBlock | ToolUseBlock;

/**
 * Turns Claude Agent SDK messages (as relayed by the runner) into agent events.
 *
 * Block ids are derived from the native ids, so parsing the same messages
 * again yields the same ids:
 * - text / thinking: `<api message id>:<content index>`;
 * - tool_use: the tool_use id; its tool_result: `<tool_use id>:result`;
 * - subagent: `<tool_use id>:subagent` (its `subagentId` is the tool_use id);
 * - the init system block: `init:<session id>`; error blocks: `error:<message uuid>` or `error:<n>`.
 *
 * Unknown message types are ignored (Claude Code adds types often); input
 * that is not a message, or a known message without its required fields,
 * yields an `error` block.
 *
 * Ordering: with partial messages, text and thinking blocks start at
 * `content_block_start`, stream `block_delta`s, and complete when the full
 * `assistant` message arrives (it repeats the block; it is never emitted
 * twice). A tool_use block starts with `input: {}` and status `pending`, gets
 * `block_update {input, status: "running"}` once its input is complete, and
 * `block_update {status: "success" | "error"}` then `block_complete` when its
 * result arrives (the tool_result block is emitted just before). Messages
 * without partial events (subagent output) yield `block_start` with the full
 * content followed by `block_complete`. Every block of a subagent run has
 * `subagentId` set.
 */
export function createClaudeParser(context: ParserContext = {}): AgentOutputParser {
  const now = context.now ?? (() => new Date());
  const open = new Map<string, Block>();
  const completed = new Set<string>();
  /** Streamed content blocks by `<parent>|<index>` of the message being streamed. */
  const streaming = new Map<string, { blockId: string; json: string }>();
  /** API message id being streamed, by parent tool_use id ("" for the main agent). */
  const streamedMessage = new Map<string, { id: string; model?: string }>();
  /** How many content blocks of an API message the full `assistant` messages delivered so far. */
  const contentCount = new Map<string, number>();
  const subagents = new Map<string, SubagentBlock>();
  let sessionId: string | undefined;
  let lastTotalCost = 0;
  let errorCount = 0;

  const stamp = () => now().toISOString();

  const start = (block: Block, events: AgentEvent[]) => {
    open.set(block.id, block);
    events.push({ kind: "block_start", block });
  };
  const update = (blockId: string, updates: Partial<Block>, events: AgentEvent[]) => {
    const block = open.get(blockId);
    if (!block) return;
    open.set(blockId, { ...block, ...updates } as Block);
    events.push({ kind: "block_update", blockId, updates });
  };
  const complete = (blockId: string, events: AgentEvent[], final?: Partial<Block>) => {
    const block = open.get(blockId);
    if (!block) return;
    open.delete(blockId);
    completed.add(blockId);
    events.push({ kind: "block_complete", block: { ...block, ...final } as Block });
  };
  const errorBlock = (message: string, code: string, uuid?: unknown): ErrorBlock => ({
    type: "error",
    id: typeof uuid === "string" ? `error:${uuid}` : `error:${++errorCount}`,
    timestamp: stamp(),
    message,
    code,
  });
  const emitWhole = (block: Block, events: AgentEvent[]) => {
    if (completed.has(block.id) || open.has(block.id)) return;
    start(block, events);
    complete(block.id, events);
  };

  const startSubagent = (tool: ToolUseBlock, events: AgentEvent[]) => {
    if (!SUBAGENT_TOOLS.has(tool.toolName) || subagents.has(tool.toolUseId)) return;
    const input = isObject(tool.input) ? tool.input : {};
    const block: SubagentBlock = {
      type: "subagent",
      id: `${tool.toolUseId}:subagent`,
      timestamp: stamp(),
      subagentId: tool.toolUseId,
      name: stringOr(input.subagent_type, "general-purpose"),
      status: "running",
      ...(typeof input.description === "string" ? { description: input.description } : {}),
      ...(typeof input.prompt === "string" ? { prompt: input.prompt } : {}),
    };
    subagents.set(tool.toolUseId, block);
    start(block, events);
    events.push({
      kind: "subagent_discovered",
      subagent: {
        id: block.subagentId,
        name: block.name,
        status: "running",
        ...(block.description ? { description: block.description } : {}),
        startedAt: block.timestamp,
      },
    });
  };

  const endSubagent = (
    toolUseId: string,
    status: SubagentStatus,
    output: string | undefined,
    events: AgentEvent[],
  ) => {
    const block = subagents.get(toolUseId);
    if (!block || !open.has(block.id)) return;
    update(block.id, { status, ...(output === undefined ? {} : { output }) }, events);
    complete(block.id, events);
    events.push({ kind: "subagent_completed", subagentId: toolUseId, status });
  };

  const onStreamEvent = (message: Json, events: AgentEvent[]) => {
    const event = message.event;
    if (!isObject(event) || typeof event.type !== "string") {
      emitWhole(errorBlock("stream event without an event", "MALFORMED_MESSAGE"), events);
      return;
    }
    const parent = parentOf(message);
    const owner = parent ?? "";
    if (event.type === "message_start") {
      const apiMessage = isObject(event.message) ? event.message : {};
      const id = stringOr(apiMessage.id, stringOr(message.uuid, `message-${++errorCount}`));
      streamedMessage.set(owner, {
        id,
        ...(typeof apiMessage.model === "string" ? { model: apiMessage.model } : {}),
      });
      return;
    }
    const index = typeof event.index === "number" ? event.index : undefined;
    if (index === undefined) return; // message_delta, message_stop, ping: nothing to render
    const key = `${owner}|${index}`;
    const current = streamedMessage.get(owner);
    if (event.type === "content_block_start") {
      const content = event.content_block;
      if (!isObject(content) || !current) return;
      const base = { timestamp: stamp(), ...(parent ? { subagentId: parent } : {}) };
      let block: StreamedBlock | undefined;
      if (content.type === "text") {
        block = {
          ...base,
          type: "assistant_text",
          id: `${current.id}:${index}`,
          content: stringOr(content.text, ""),
          ...(current.model ? { model: current.model } : {}),
        };
      } else if (content.type === "thinking") {
        block = {
          ...base,
          type: "thinking",
          id: `${current.id}:${index}`,
          content: stringOr(content.thinking, ""),
        };
      } else if (content.type === "tool_use" && typeof content.id === "string") {
        block = {
          ...base,
          type: "tool_use",
          id: content.id,
          toolUseId: content.id,
          toolName: stringOr(content.name, "unknown"),
          input: {},
          status: "pending",
        };
      }
      if (!block || open.has(block.id) || completed.has(block.id)) return;
      streaming.set(key, { blockId: block.id, json: "" });
      start(block, events);
      return;
    }
    const streamed = streaming.get(key);
    if (!streamed) return;
    if (event.type === "content_block_delta" && isObject(event.delta)) {
      const delta = event.delta;
      const block = open.get(streamed.blockId);
      if (!block) return;
      const text =
        delta.type === "text_delta"
          ? delta.text
          : delta.type === "thinking_delta"
            ? delta.thinking
            : undefined;
      if (typeof text === "string" && (block.type === "assistant_text" || block.type === "thinking")) {
        open.set(block.id, { ...block, content: block.content + text });
        events.push({ kind: "block_delta", blockId: block.id, delta: text });
      } else if (delta.type === "input_json_delta" && typeof delta.partial_json === "string") {
        streamed.json += delta.partial_json;
      }
      return;
    }
    if (event.type === "content_block_stop") {
      streaming.delete(key);
      const block = open.get(streamed.blockId);
      if (!block) return;
      if (block.type === "tool_use") {
        if (block.status === "pending") {
          update(block.id, { input: parseJson(streamed.json) ?? {}, status: "running" }, events);
          startSubagent(open.get(block.id) as ToolUseBlock, events);
        }
      } else {
        complete(block.id, events);
      }
    }
  };

  const onAssistant = (message: Json, events: AgentEvent[]) => {
    const apiMessage = message.message;
    if (!isObject(apiMessage) || !Array.isArray(apiMessage.content)) {
      emitWhole(errorBlock("assistant message without content", "MALFORMED_MESSAGE"), events);
      return;
    }
    const parent = parentOf(message);
    const messageId = stringOr(apiMessage.id, stringOr(message.uuid, `message-${++errorCount}`));
    const model = typeof apiMessage.model === "string" ? apiMessage.model : undefined;
    const base = () => ({ timestamp: stamp(), ...(parent ? { subagentId: parent } : {}) });
    if (typeof message.error === "string") {
      const text = apiMessage.content
        .filter((c): c is Json => isObject(c) && c.type === "text")
        .map((c) => stringOr(c.text, ""))
        .join("\n");
      const block = { ...errorBlock(text || message.error, message.error, message.uuid), ...base() };
      emitWhole(block, events);
      return;
    }
    for (const content of apiMessage.content) {
      const index = contentCount.get(messageId) ?? 0;
      contentCount.set(messageId, index + 1);
      if (!isObject(content)) continue;
      if (content.type === "text" || content.type === "thinking") {
        const id = `${messageId}:${index}`;
        const text = stringOr(content.type === "text" ? content.text : content.thinking, "");
        if (open.has(id)) complete(id, events, { content: text });
        else if (!completed.has(id)) {
          emitWhole(
            content.type === "text"
              ? { ...base(), type: "assistant_text", id, content: text, ...(model ? { model } : {}) }
              : { ...base(), type: "thinking", id, content: text },
            events,
          );
        }
      } else if (content.type === "tool_use" && typeof content.id === "string") {
        const input = isObject(content.input) ? content.input : {};
        const existing = open.get(content.id);
        if (existing?.type === "tool_use") {
          if (existing.status === "pending") update(content.id, { input, status: "running" }, events);
        } else if (!completed.has(content.id)) {
          start(
            {
              ...base(),
              type: "tool_use",
              id: content.id,
              toolUseId: content.id,
              toolName: stringOr(content.name, "unknown"),
              input,
              status: "running",
            },
            events,
          );
        }
        const tool = open.get(content.id);
        if (tool?.type === "tool_use") startSubagent(tool, events);
      }
    }
  };

  const onUser = (message: Json, events: AgentEvent[]) => {
    const apiMessage = message.message;
    if (!isObject(apiMessage)) {
      emitWhole(errorBlock("user message without message", "MALFORMED_MESSAGE"), events);
      return;
    }
    // Plain user text (the prompt, a subagent's prompt, interrupt notes) is not rendered here: the
    // runtime records the user's own messages, and a subagent's prompt is on its subagent block.
    if (!Array.isArray(apiMessage.content)) return;
    const parent = parentOf(message);
    for (const content of apiMessage.content) {
      if (!isObject(content) || content.type !== "tool_result" || typeof content.tool_use_id !== "string")
        continue;
      const toolUseId = content.tool_use_id;
      const isError = content.is_error === true;
      const text = toolResultText(content.content);
      const result: ToolResultBlock = {
        type: "tool_result",
        id: `${toolUseId}:result`,
        timestamp: stamp(),
        ...(parent ? { subagentId: parent } : {}),
        toolUseId,
        content: text,
        ...(isError ? { isError: true } : {}),
      };
      emitWhole(result, events);
      const status = isError ? "error" : "success";
      update(toolUseId, { status }, events);
      complete(toolUseId, events);
      if (subagents.has(toolUseId)) {
        endSubagent(
          toolUseId,
          isError ? "failed" : "completed",
          subagentOutput(message.tool_use_result) ?? text,
          events,
        );
      }
    }
  };

  const onSystem = (message: Json, events: AgentEvent[]) => {
    if (message.subtype === "init") {
      const id = typeof message.session_id === "string" ? message.session_id : undefined;
      if (!id || id === sessionId) return;
      sessionId = id;
      events.push({ kind: "native_session", nativeSessionId: id });
      const version = stringOr(message.claude_code_version, "unknown");
      const block: SystemBlock = {
        type: "system",
        id: `init:${id}`,
        timestamp: stamp(),
        subtype: "init",
        content: `Claude Code ${version} started (model ${stringOr(message.model, "default")})`,
        metadata: pick(message, [
          "model",
          "cwd",
          "tools",
          "skills",
          "slash_commands",
          "agents",
          "mcp_servers",
        ]),
      };
      emitWhole(block, events);
    } else if (message.subtype === "compact_boundary") {
      emitWhole(
        {
          type: "system",
          id: `compact:${stringOr(message.uuid, String(++errorCount))}`,
          timestamp: stamp(),
          subtype: "compact_boundary",
          content: "Conversation compacted",
        },
        events,
      );
    }
  };

  const onResult = (message: Json, events: AgentEvent[]) => {
    const origin = isObject(message.origin) ? message.origin.kind : undefined;
    events.push(...flushOpen());
    const usage = turnUsage(message, lastTotalCost);
    if (typeof message.total_cost_usd === "number") lastTotalCost = message.total_cost_usd;
    events.push({ kind: "usage", usage, estimated: true });
    if (origin !== undefined && origin !== "human") return;
    const { stopReason, error } = stopReasonOf(message);
    events.push({ kind: "turn_result", stopReason, ...(error ? { error } : {}) });
  };

  const flushOpen = (): AgentEvent[] => {
    const events: AgentEvent[] = [];
    streaming.clear();
    for (const [id, block] of [...open]) {
      if (block.type === "tool_use") {
        update(id, { status: "error" }, events);
        complete(id, events);
      } else if (block.type === "subagent") {
        endSubagent(block.subagentId, "failed", undefined, events);
      } else {
        complete(id, events);
      }
    }
    return events;
  };

  return {
    parse(message) {
      const events: AgentEvent[] = [];
      try {
        if (!isObject(message) || typeof message.type !== "string") {
          emitWhole(errorBlock("agent message is not an object with a type", "MALFORMED_MESSAGE"), events);
          return events;
        }
        switch (message.type) {
          case "stream_event":
            onStreamEvent(message, events);
            break;
          case "assistant":
            onAssistant(message, events);
            break;
          case "user":
            onUser(message, events);
            break;
          case "system":
            onSystem(message, events);
            break;
          case "result":
            onResult(message, events);
            break;
          // Every other type (status, task progress, rate limits, …) carries nothing a client renders;
          // Claude Code adds types often, so an unknown one is ignored rather than reported.
        }
      } catch (error) {
        emitWhole(errorBlock(`cannot parse agent message: ${String(error)}`, "PARSE_FAILED"), events);
      }
      return events;
    },
    flush: flushOpen,
  };
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stringOr(value: unknown, fallback: string): string {
  return typeof value === "string" ? value : fallback;
}

function parentOf(message: Json): string | undefined {
  return typeof message.parent_tool_use_id === "string" ? message.parent_tool_use_id : undefined;
}

function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

function pick(source: Json, keys: readonly string[]): Json {
  return Object.fromEntries(keys.filter((k) => source[k] !== undefined).map((k) => [k, source[k]]));
}

/** A tool result's content is a string or a list of content blocks; images become a placeholder. */
function toolResultText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return content === undefined ? "" : JSON.stringify(content);
  return content
    .map((part) => {
      if (!isObject(part)) return "";
      if (part.type === "text") return stringOr(part.text, "");
      return `[${stringOr(part.type, "content")}]`;
    })
    .join("\n");
}

/** The subagent's final report from the Agent tool's structured output, when present. */
function subagentOutput(toolUseResult: unknown): string | undefined {
  if (!isObject(toolUseResult) || !Array.isArray(toolUseResult.content)) return undefined;
  const texts = toolUseResult.content
    .filter((c): c is Json => isObject(c) && c.type === "text" && typeof c.text === "string")
    .map((c) => c.text as string)
    .filter((t) => !t.startsWith("<tools-used-before-summary>"));
  return texts.length > 0 ? texts.join("\n") : undefined;
}

/**
 * Usage of the turn a result ends: `model_usage_since_last_result` covers
 * every model call of the turn (subagents included); older CLIs only have the
 * main loop's `usage`, and a cumulative `total_cost_usd`.
 */
function turnUsage(result: Json, previousTotalCost: number): Usage {
  const perModel = result.model_usage_since_last_result;
  if (isObject(perModel)) {
    const usage: Usage = {
      inputTokens: 0,
      outputTokens: 0,
      cacheReadTokens: 0,
      cacheCreationTokens: 0,
      costUsd: 0,
    };
    for (const model of Object.values(perModel)) {
      if (!isObject(model)) continue;
      usage.inputTokens += nonNegative(model.inputTokens);
      usage.outputTokens += nonNegative(model.outputTokens);
      usage.cacheReadTokens += nonNegative(model.cacheReadInputTokens);
      usage.cacheCreationTokens += nonNegative(model.cacheCreationInputTokens);
      usage.costUsd += nonNegative(model.costUSD);
    }
    return usage;
  }
  const tokens = isObject(result.usage) ? result.usage : {};
  return {
    inputTokens: nonNegative(tokens.input_tokens),
    outputTokens: nonNegative(tokens.output_tokens),
    cacheReadTokens: nonNegative(tokens.cache_read_input_tokens),
    cacheCreationTokens: nonNegative(tokens.cache_creation_input_tokens),
    costUsd: Math.max(0, nonNegative(result.total_cost_usd) - previousTotalCost),
  };
}

function nonNegative(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : 0;
}

function stopReasonOf(result: Json): { stopReason: TurnStopReason; error?: string } {
  if (result.subtype === "success" && result.is_error !== true) return { stopReason: "end_turn" };
  if (result.subtype === "error_max_turns") return { stopReason: "max_turns" };
  if (typeof result.terminal_reason === "string" && result.terminal_reason.startsWith("aborted")) {
    return { stopReason: "interrupted" };
  }
  const errors = Array.isArray(result.errors) ? result.errors.filter((e) => typeof e === "string") : [];
  const error = errors.join("\n") || (typeof result.result === "string" ? result.result : undefined);
  return { stopReason: "error", error: error || stringOr(result.subtype, "error") };
}
