import type {
  AssistantTextBlock,
  SystemBlock,
  ThinkingBlock,
  ToolResultBlock,
  ToolUseBlock,
  Usage,
} from "@agent-runtime/protocol";
import { emptyUsage } from "../../core/usage.js";
import type { AgentEvent, AgentOutputParser, ParserContext } from "../agent-architecture.js";
import { BlockTracker } from "../block-tracker.js";
import { isObject, type Json, nonNegative, pick, stringOf } from "../native-json.js";

/** Tool names that launch a subagent (Claude Code calls it `Agent` on the wire, `Task` in older versions). */
const SUBAGENT_TOOLS = new Set(["Agent", "Task"]);

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
  const blocks = new BlockTracker(context);
  /** Streamed content blocks by `<parent>|<index>` of the message being streamed. */
  const streaming = new Map<string, { blockId: string; json: string }>();
  /** API message id being streamed, by parent tool_use id ("" for the main agent). */
  const streamedMessage = new Map<string, { id: string; model?: string }>();
  /** How many content blocks of an API message the full `assistant` messages delivered so far. */
  const contentCount = new Map<string, number>();
  let sessionId: string | undefined;
  let lastTotalCost = 0;

  const malformed = (message: string, events: AgentEvent[]) =>
    blocks.error(message, "MALFORMED_MESSAGE", events);

  /**
   * The API message's id, else the SDK message's uuid, else `message-<n>`. It
   * takes a serial number either way, so the numbers of later `error:<n>`
   * blocks do not depend on which ids a message had.
   */
  const messageIdOf = (apiMessage: Json, message: Json): string => {
    const serial = blocks.nextSerial();
    return stringOf(apiMessage.id) ?? stringOf(message.uuid) ?? `message-${serial}`;
  };

  const startSubagent = (tool: ToolUseBlock, events: AgentEvent[]) => {
    if (!SUBAGENT_TOOLS.has(tool.toolName)) return;
    const input = isObject(tool.input) ? tool.input : {};
    blocks.startSubagent({ toolUseId: tool.toolUseId, input, defaultName: "general-purpose" }, events);
  };

  const onStreamEvent = (message: Json, events: AgentEvent[]) => {
    const event = message.event;
    if (!isObject(event) || typeof event.type !== "string") {
      malformed("stream event without an event", events);
      return;
    }
    const parent = parentOf(message);
    const owner = parent ?? "";
    if (event.type === "message_start") {
      const apiMessage = isObject(event.message) ? event.message : {};
      const id = messageIdOf(apiMessage, message);
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
      const base = { timestamp: blocks.stamp(), ...(parent ? { subagentId: parent } : {}) };
      let block: StreamedBlock | undefined;
      if (content.type === "text") {
        block = {
          ...base,
          type: "assistant_text",
          id: `${current.id}:${index}`,
          content: stringOf(content.text) ?? "",
          ...(current.model ? { model: current.model } : {}),
        };
      } else if (content.type === "thinking") {
        block = {
          ...base,
          type: "thinking",
          id: `${current.id}:${index}`,
          content: stringOf(content.thinking) ?? "",
        };
      } else if (content.type === "tool_use" && typeof content.id === "string") {
        block = {
          ...base,
          type: "tool_use",
          id: content.id,
          toolUseId: content.id,
          toolName: stringOf(content.name) ?? "unknown",
          input: {},
          status: "pending",
        };
      }
      if (!block || blocks.isOpen(block.id) || blocks.isCompleted(block.id)) return;
      streaming.set(key, { blockId: block.id, json: "" });
      blocks.start(block, events);
      return;
    }
    const streamed = streaming.get(key);
    if (!streamed) return;
    if (event.type === "content_block_delta" && isObject(event.delta)) {
      const delta = event.delta;
      const block = blocks.get(streamed.blockId);
      if (!block) return;
      const text =
        delta.type === "text_delta"
          ? delta.text
          : delta.type === "thinking_delta"
            ? delta.thinking
            : undefined;
      if (typeof text === "string") {
        blocks.appendDelta(block.id, text, events);
      } else if (delta.type === "input_json_delta" && typeof delta.partial_json === "string") {
        streamed.json += delta.partial_json;
      }
      return;
    }
    if (event.type === "content_block_stop") {
      streaming.delete(key);
      const block = blocks.get(streamed.blockId);
      if (!block) return;
      if (block.type === "tool_use") {
        if (block.status === "pending") {
          blocks.update(block.id, { input: parseJson(streamed.json) ?? {}, status: "running" }, events);
          startSubagent(blocks.get(block.id) as ToolUseBlock, events);
        }
      } else {
        blocks.complete(block.id, events);
      }
    }
  };

  const onAssistant = (message: Json, events: AgentEvent[]) => {
    const apiMessage = message.message;
    if (!isObject(apiMessage) || !Array.isArray(apiMessage.content)) {
      malformed("assistant message without content", events);
      return;
    }
    const parent = parentOf(message);
    const messageId = messageIdOf(apiMessage, message);
    const model = typeof apiMessage.model === "string" ? apiMessage.model : undefined;
    const base = () => ({ timestamp: blocks.stamp(), ...(parent ? { subagentId: parent } : {}) });
    if (typeof message.error === "string") {
      const text = apiMessage.content
        .filter((c): c is Json => isObject(c) && c.type === "text")
        .map((c) => stringOf(c.text) ?? "")
        .join("\n");
      blocks.error(text || message.error, message.error, events, {
        nativeId: stringOf(message.uuid),
        subagentId: parent,
      });
      return;
    }
    for (const content of apiMessage.content) {
      const index = contentCount.get(messageId) ?? 0;
      contentCount.set(messageId, index + 1);
      if (!isObject(content)) continue;
      if (content.type === "text" || content.type === "thinking") {
        const id = `${messageId}:${index}`;
        const text = stringOf(content.type === "text" ? content.text : content.thinking) ?? "";
        if (blocks.isOpen(id)) blocks.complete(id, events, { content: text });
        else if (!blocks.isCompleted(id)) {
          blocks.emitWhole(
            content.type === "text"
              ? { ...base(), type: "assistant_text", id, content: text, ...(model ? { model } : {}) }
              : { ...base(), type: "thinking", id, content: text },
            events,
          );
        }
      } else if (content.type === "tool_use" && typeof content.id === "string") {
        const input = isObject(content.input) ? content.input : {};
        const existing = blocks.get(content.id);
        if (existing?.type === "tool_use") {
          if (existing.status === "pending") blocks.update(content.id, { input, status: "running" }, events);
        } else if (!blocks.isCompleted(content.id)) {
          blocks.start(
            {
              ...base(),
              type: "tool_use",
              id: content.id,
              toolUseId: content.id,
              toolName: stringOf(content.name) ?? "unknown",
              input,
              status: "running",
            },
            events,
          );
        }
        const tool = blocks.get(content.id);
        if (tool?.type === "tool_use") startSubagent(tool, events);
      }
    }
  };

  const onUser = (message: Json, events: AgentEvent[]) => {
    const apiMessage = message.message;
    if (!isObject(apiMessage)) {
      malformed("user message without message", events);
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
        timestamp: blocks.stamp(),
        ...(parent ? { subagentId: parent } : {}),
        toolUseId,
        content: text,
        ...(isError ? { isError: true } : {}),
      };
      blocks.settleTool(result, events, () => subagentOutput(message.tool_use_result) ?? text);
    }
  };

  const onSystem = (message: Json, events: AgentEvent[]) => {
    if (message.subtype === "init") {
      const id = typeof message.session_id === "string" ? message.session_id : undefined;
      if (!id || id === sessionId) return;
      sessionId = id;
      events.push({ kind: "native_session", nativeSessionId: id });
      const version = stringOf(message.claude_code_version) ?? "unknown";
      const block: SystemBlock = {
        type: "system",
        id: `init:${id}`,
        timestamp: blocks.stamp(),
        subtype: "init",
        content: `Claude Code ${version} started (model ${stringOf(message.model) ?? "default"})`,
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
      blocks.emitWhole(block, events);
    } else if (message.subtype === "compact_boundary") {
      const serial = blocks.nextSerial();
      blocks.emitWhole(
        {
          type: "system",
          id: `compact:${stringOf(message.uuid) ?? serial}`,
          timestamp: blocks.stamp(),
          subtype: "compact_boundary",
          content: "Conversation compacted",
        },
        events,
      );
    }
  };

  const onResult = (message: Json, events: AgentEvent[]) => {
    events.push(...flushOpen());
    const usage = turnUsage(message, lastTotalCost);
    if (typeof message.total_cost_usd === "number") lastTotalCost = message.total_cost_usd;
    events.push({ kind: "usage", usage, estimated: true });
  };

  const flushOpen = (): AgentEvent[] => {
    const events: AgentEvent[] = [];
    streaming.clear();
    blocks.closeAll(events);
    return events;
  };

  return {
    parse(message) {
      const events: AgentEvent[] = [];
      try {
        if (!isObject(message) || typeof message.type !== "string") {
          malformed("agent message is not an object with a type", events);
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
        blocks.error(`cannot parse agent message: ${String(error)}`, "PARSE_FAILED", events);
      }
      return events;
    },
    flush: flushOpen,
  };
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

/** A tool result's content is a string or a list of content blocks; images become a placeholder. */
function toolResultText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return content === undefined ? "" : JSON.stringify(content);
  return content
    .map((part) => {
      if (!isObject(part)) return "";
      if (part.type === "text") return stringOf(part.text) ?? "";
      return `[${stringOf(part.type) ?? "content"}]`;
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
    const usage = emptyUsage();
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
