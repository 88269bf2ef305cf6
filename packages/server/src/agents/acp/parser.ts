import { acpToolName, type Usage } from "@agent-runtime/protocol";
import type { AgentEvent, AgentOutputParser, ParserContext } from "../agent-architecture.js";
import { BlockTracker } from "../block-tracker.js";
import { isObject, type Json, nonNegative, stringOf } from "../native-json.js";

/** Longest tool result kept in a block, in characters; the rest is cut with a note. */
const MAX_RESULT_CHARS = 100_000;

/**
 * Turns what the runner relays from an ACP agent (`AcpRelayedMessage`:
 * `acp_session`, `acp_update` with a `session/update`'s update,
 * `acp_prompt_end`) into agent events.
 *
 * ACP streams message and thought chunks without ids of their own, so text
 * and thinking blocks are numbered: `<run>:text:<n>` / `<run>:thinking:<n>`,
 * where `run` is the agent process's random id from `acp_session` (unique
 * across runner restarts; parsing the same messages again yields the same
 * ids). A run of `agent_message_chunk`s is one text block, closed by any
 * other update (or a chunk of another `messageId`, when the agent gives
 * them); thoughts likewise.
 *
 * A `tool_call` starts a tool_use block with the call's id (its `toolName`
 * from the call's kind, see `acpToolName`; its input the raw input, else
 * `{title}`);
 * `tool_call_update`s update its input and status and, once `completed` or
 * `failed`, emit its tool_result (`<id>:result`: the call's text content,
 * diffs and raw output) and complete it. A `plan` becomes a whole
 * `system` block (`plan`) listing its entries. `acp_prompt_end` completes
 * what is open and reports usage when the agent gives it (ACP's `usage`, or
 * Gemini CLI's `_meta.quota.token_count`). Other updates
 * (commands, modes, config, usage gauges) are not rendered; anything that
 * is not a relayed ACP message yields an `error` block.
 */
export function createAcpParser(context: ParserContext = {}): AgentOutputParser {
  const blocks = new BlockTracker(context);
  let run = "run";
  let serial = 0;
  /** The open text or thinking block, and the ACP message id it belongs to. */
  let stream: { id: string; type: "assistant_text" | "thinking"; messageId?: string } | undefined;
  const inputs = new Map<string, Json>();

  const malformed = (message: string, events: AgentEvent[]) =>
    blocks.error(message, "MALFORMED_MESSAGE", events);

  const closeStream = (events: AgentEvent[]) => {
    if (stream) blocks.complete(stream.id, events);
    stream = undefined;
  };

  const onChunk = (update: Json, type: "assistant_text" | "thinking", events: AgentEvent[]) => {
    const content = update.content;
    if (!isObject(content)) return malformed(`${String(update.sessionUpdate)} without content`, events);
    const text = content.type === "text" ? stringOf(content.text) : undefined;
    if (text === undefined) return; // images, audio and resources are not rendered
    const messageId = stringOf(update.messageId);
    if (stream && (stream.type !== type || stream.messageId !== messageId)) closeStream(events);
    if (!stream) {
      serial += 1;
      const id = `${run}:${type === "assistant_text" ? "text" : "thinking"}:${serial}`;
      stream = { id, type, ...(messageId ? { messageId } : {}) };
      blocks.start({ type, id, timestamp: blocks.stamp(), content: "" }, events);
    }
    blocks.appendDelta(stream.id, text, events);
  };

  /** A call's input: its raw input (an object, else `{value}`), else what it had, else `{title}`. */
  const inputOf = (update: Json, previous: Json | undefined): Json => {
    const raw = update.rawInput;
    if (isObject(raw)) return raw;
    if (raw !== undefined) return { value: raw };
    if (previous) return previous;
    const title = stringOf(update.title);
    return title === undefined ? {} : { title };
  };

  const onToolCall = (update: Json, events: AgentEvent[]): void => {
    const id = stringOf(update.toolCallId);
    if (!id) {
      malformed("tool_call without toolCallId", events);
      return;
    }
    closeStream(events);
    if (blocks.isOpen(id) || blocks.isCompleted(id)) {
      onToolUpdate(update, events);
      return;
    }
    const input = inputOf(update, undefined);
    inputs.set(id, input);
    blocks.start(
      {
        type: "tool_use",
        id,
        timestamp: blocks.stamp(),
        toolName: acpToolName(update.kind),
        input,
        toolUseId: id,
        status: update.status === "pending" ? "pending" : "running",
      },
      events,
    );
    settleIfDone(id, update, events);
  };

  const onToolUpdate = (update: Json, events: AgentEvent[]): void => {
    const id = stringOf(update.toolCallId);
    if (!id) {
      malformed("tool_call_update without toolCallId", events);
      return;
    }
    if (blocks.isCompleted(id)) return;
    closeStream(events);
    if (!blocks.isOpen(id)) {
      onToolCall({ ...update, sessionUpdate: "tool_call" }, events);
      return;
    }
    if (update.rawInput !== undefined) {
      const input = inputOf(update, inputs.get(id));
      inputs.set(id, input);
      blocks.update(id, { input }, events);
    }
    if (update.status === "in_progress") blocks.update(id, { status: "running" }, events);
    settleIfDone(id, update, events);
  };

  const settleIfDone = (id: string, update: Json, events: AgentEvent[]) => {
    if (update.status !== "completed" && update.status !== "failed") return;
    const isError = update.status === "failed";
    blocks.settleTool(
      {
        type: "tool_result",
        id: `${id}:result`,
        timestamp: blocks.stamp(),
        toolUseId: id,
        content: resultText(update),
        ...(isError ? { isError: true } : {}),
      },
      events,
      () => undefined,
    );
  };

  const onPlan = (update: Json, events: AgentEvent[]) => {
    if (!Array.isArray(update.entries)) return malformed("plan without entries", events);
    closeStream(events);
    serial += 1;
    const entries = update.entries.filter(isObject).map((entry) => ({
      content: stringOf(entry.content) ?? "",
      status: stringOf(entry.status) ?? "pending",
      priority: stringOf(entry.priority) ?? "medium",
    }));
    const mark = (status: string) =>
      status === "completed" ? "[x]" : status === "in_progress" ? "[~]" : "[ ]";
    blocks.emitWhole(
      {
        type: "system",
        id: `${run}:plan:${serial}`,
        timestamp: blocks.stamp(),
        subtype: "plan",
        content: entries.map((entry) => `- ${mark(entry.status)} ${entry.content}`).join("\n"),
        metadata: { entries },
      },
      events,
    );
  };

  const onSession = (message: Json, events: AgentEvent[]) => {
    const sessionId = stringOf(message.sessionId);
    if (!sessionId) return malformed("acp_session without sessionId", events);
    run = stringOf(message.run)?.slice(0, 64) || "run";
    events.push({ kind: "native_session", nativeSessionId: sessionId });
    const agent = [stringOf(message.agentName) ?? "ACP agent", stringOf(message.agentVersion)]
      .filter(Boolean)
      .join(" ");
    blocks.emitWhole(
      {
        type: "system",
        id: `init:${sessionId}:${run}`,
        timestamp: blocks.stamp(),
        subtype: "init",
        content: `${agent} session ${sessionId}${message.resumed === true ? " (resumed)" : ""}`,
      },
      events,
    );
  };

  const onPromptEnd = (message: Json, events: AgentEvent[]) => {
    closeStream(events);
    blocks.closeAll(events);
    const usage = usageOf(message.usage) ?? quotaUsageOf(message.meta);
    if (usage) events.push({ kind: "usage", usage, estimated: false });
  };

  const parse = (message: unknown): AgentEvent[] => {
    const events: AgentEvent[] = [];
    if (!isObject(message)) {
      malformed("an ACP message must be an object", events);
      return events;
    }
    if (message.type === "acp_session") onSession(message, events);
    else if (message.type === "acp_prompt_end") onPromptEnd(message, events);
    else if (message.type === "acp_update") {
      const update = message.update;
      if (!isObject(update) || typeof update.sessionUpdate !== "string") {
        malformed("acp_update without a session update", events);
        return events;
      }
      switch (update.sessionUpdate) {
        case "agent_message_chunk":
          onChunk(update, "assistant_text", events);
          break;
        case "agent_thought_chunk":
          onChunk(update, "thinking", events);
          break;
        case "tool_call":
          onToolCall(update, events);
          break;
        case "tool_call_update":
          onToolUpdate(update, events);
          break;
        case "plan":
          onPlan(update, events);
          break;
        default:
          // user_message_chunk (the prompt, already a block), commands, modes, config, usage gauges.
          break;
      }
    } else malformed(`unknown ACP message type ${JSON.stringify(message.type ?? null)}`, events);
    return events;
  };

  return {
    parse(message) {
      try {
        return parse(message);
      } catch (error) {
        const events: AgentEvent[] = [];
        malformed(`could not parse an ACP message: ${String(error)}`, events);
        return events;
      }
    },
    flush() {
      const events: AgentEvent[] = [];
      closeStream(events);
      blocks.closeAll(events);
      return events;
    },
  };
}

/**
 * A settled tool call's result as text: its content (text blocks, diffs as
 * `path` headers with the new text, terminals by id), else its raw output
 * (Codex's `formatted_output`/`aggregated_output`, or the JSON).
 */
function resultText(update: Json): string {
  const parts: string[] = [];
  if (Array.isArray(update.content)) {
    for (const item of update.content) {
      if (!isObject(item)) continue;
      if (item.type === "content" && isObject(item.content)) {
        const text = stringOf(item.content.text);
        if (text !== undefined) parts.push(text);
      } else if (item.type === "diff") {
        const path = stringOf(item.path) ?? "(file)";
        const newText = stringOf(item.newText) ?? "";
        parts.push(`${item.oldText == null ? "Created" : "Edited"} ${path}\n${newText}`);
      } else if (item.type === "terminal") {
        parts.push(`(terminal ${stringOf(item.terminalId) ?? ""})`);
      }
    }
  }
  if (parts.length === 0 && update.rawOutput !== undefined) {
    const raw = update.rawOutput;
    const formatted = isObject(raw)
      ? (stringOf(raw.formatted_output) ?? stringOf(raw.aggregated_output) ?? stringOf(raw.output))
      : stringOf(raw);
    parts.push(formatted ?? JSON.stringify(raw) ?? "");
  }
  const text = parts.join("\n");
  return text.length > MAX_RESULT_CHARS ? `${text.slice(0, MAX_RESULT_CHARS)}\n… (cut)` : text;
}

/** ACP's (unstable) prompt usage as the runtime's; undefined when it gives none. */
function usageOf(value: unknown): Usage | undefined {
  if (!isObject(value)) return undefined;
  return {
    inputTokens: nonNegative(value.inputTokens),
    outputTokens: nonNegative(value.outputTokens) + nonNegative(value.thoughtTokens),
    cacheReadTokens: nonNegative(value.cachedReadTokens),
    cacheCreationTokens: nonNegative(value.cachedWriteTokens),
    costUsd: 0,
  };
}

/** Gemini CLI's token counts (`_meta.quota.token_count: {input_tokens, output_tokens}`) as usage. */
function quotaUsageOf(meta: unknown): Usage | undefined {
  const quota = isObject(meta) ? meta.quota : undefined;
  const counts = isObject(quota) ? quota.token_count : undefined;
  if (!isObject(counts)) return undefined;
  return {
    inputTokens: nonNegative(counts.input_tokens),
    outputTokens: nonNegative(counts.output_tokens),
    cacheReadTokens: 0,
    cacheCreationTokens: 0,
    costUsd: 0,
  };
}
