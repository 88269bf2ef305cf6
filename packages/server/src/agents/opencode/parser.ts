import type { ToolUseBlock, Usage } from "@agent-runtime/protocol";
import { emptyUsage } from "../../core/usage.js";
import type { AgentEvent, AgentOutputParser, ParserContext } from "../agent-architecture.js";
import { BlockTracker } from "../block-tracker.js";
import { isObject, type Json, nonNegative, pick, stringOf } from "../native-json.js";

/** The tool that runs a subagent in a child session. */
const SUBAGENT_TOOL = "task";
/** Events seen before a child session is linked to its task call are kept, up to this many per session. */
const MAX_BUFFERED_EVENTS = 1_000;

/**
 * Turns OpenCode server events (as relayed by the runner: `{type, properties}`
 * from its `/event` stream, for the runner's session and its child sessions)
 * into agent events.
 *
 * Block ids are derived from OpenCode's ids, so parsing the same events again
 * yields the same ids:
 * - text / reasoning (thinking): the part id;
 * - tool_use: the tool call id (`callID`, the part id without one); its tool_result: `<call id>:result`;
 * - subagent: `<call id>:subagent` for a `task` call (its `subagentId` is the call id);
 * - the session system block: `init:<session id>`; compaction: `compaction:<part id>`; errors: `error:<n>`.
 *
 * Ordering: a text or reasoning part starts a block when it first appears,
 * streams `message.part.delta`s (or the `delta` of older `message.part.updated`
 * events) as `block_delta`, and completes when the part has `time.end`. A
 * tool call starts as `pending` with `input: {}`, gets `block_update {input,
 * status: "running"}`, and when it settles the tool_result block is emitted,
 * then `block_update {status}` and `block_complete`. A bash call with a
 * non-zero exit code counts as an error, as Claude Code reports it. Events of
 * a child session carry the `subagentId` of the task call that started it;
 * those that arrive before the call names its child session are held back
 * and parsed once it does. User parts (the prompt) are not rendered.
 *
 * When the main session (the first session seen without a parent) goes idle
 * after being busy, open blocks are completed and `usage` (the sum of every
 * step of the turn, subagents included) follows. `MessageAbortedError`
 * (an interrupt) yields no error block.
 *
 * Unknown event and part types are ignored (OpenCode adds them often); input
 * that is not an event, or a known event without its required fields,
 * yields an `error` block.
 */
export function createOpenCodeParser(context: ParserContext = {}): AgentOutputParser {
  const blocks = new BlockTracker(context);
  /** Role of each message by id: parts of user messages are not rendered. */
  const roles = new Map<string, string>();
  /** Model of each assistant message by id. */
  const models = new Map<string, string>();
  /** Parent of each child session; the main session has none. */
  const parents = new Map<string, string>();
  /** The task call (subagent id) that runs each child session. */
  const subagentOf = new Map<string, string>();
  const buffered = new Map<string, unknown[]>();
  const countedSteps = new Set<string>();
  let mainSession: string | undefined;
  let turnActive = false;
  let usage = emptyUsage();

  const malformed = (message: string, events: AgentEvent[]) =>
    blocks.error(message, "MALFORMED_MESSAGE", events);

  const adoptMain = (sessionId: string, info: Json | undefined, events: AgentEvent[]) => {
    if (mainSession !== undefined) return;
    mainSession = sessionId;
    events.push({ kind: "native_session", nativeSessionId: sessionId });
    const version = info && typeof info.version === "string" ? ` ${info.version}` : "";
    const model =
      info && isObject(info.model) && typeof info.model.id === "string" ? info.model.id : undefined;
    blocks.emitWhole(
      {
        type: "system",
        id: `init:${sessionId}`,
        timestamp: blocks.stamp(),
        subtype: "init",
        content: `OpenCode${version} session ${sessionId}${model ? ` (model ${model})` : ""}`,
        ...(info ? { metadata: pick(info, ["directory", "title", "version", "model", "agent"]) } : {}),
      },
      events,
    );
  };

  /**
   * Where an event of `sessionId` belongs: the main session (`subagentId`
   * undefined), a linked child session, or `"defer"` for a child session not
   * yet linked to its task call.
   */
  const ownerOf = (sessionId: string | undefined): { subagentId?: string } | "defer" => {
    if (sessionId === undefined) return {};
    if (mainSession === undefined && !parents.has(sessionId)) return {};
    const subagentId = subagentOf.get(sessionId);
    if (subagentId) return { subagentId };
    return parents.has(sessionId) ? "defer" : {};
  };

  const defer = (sessionId: string, event: unknown): void => {
    const list = buffered.get(sessionId) ?? [];
    if (list.length < MAX_BUFFERED_EVENTS) list.push(event);
    buffered.set(sessionId, list);
  };

  const link = (childSession: string, subagentId: string, events: AgentEvent[]) => {
    if (subagentOf.has(childSession)) return;
    subagentOf.set(childSession, subagentId);
    const waiting = buffered.get(childSession);
    buffered.delete(childSession);
    for (const event of waiting ?? []) events.push(...parseEvent(event));
  };

  const onSession = (properties: Json, events: AgentEvent[]) => {
    const info = properties.info;
    if (!isObject(info) || typeof info.id !== "string") {
      malformed("session event without session info", events);
      return;
    }
    if (typeof info.parentID === "string") parents.set(info.id, info.parentID);
    else adoptMain(info.id, info, events);
  };

  const onMessage = (properties: Json, events: AgentEvent[]) => {
    const info = properties.info;
    if (!isObject(info) || typeof info.id !== "string") {
      malformed("message event without message info", events);
      return;
    }
    if (typeof info.role === "string") roles.set(info.id, info.role);
    if (typeof info.modelID === "string") models.set(info.id, info.modelID);
  };

  const onPart = (properties: Json, event: unknown, events: AgentEvent[]) => {
    const part = properties.part;
    if (!isObject(part) || typeof part.id !== "string" || typeof part.type !== "string") {
      malformed("part event without a part", events);
      return;
    }
    const sessionId = stringOf(part.sessionID) ?? stringOf(properties.sessionID);
    const owner = ownerOf(sessionId);
    if (owner === "defer") {
      defer(sessionId as string, event);
      return;
    }
    if (sessionId && !parents.has(sessionId)) adoptMain(sessionId, undefined, events);
    const base = () => ({
      timestamp: blocks.stamp(),
      ...(owner.subagentId ? { subagentId: owner.subagentId } : {}),
    });
    const messageId = stringOf(part.messageID);
    if (part.type === "text" || part.type === "reasoning") {
      if (messageId && roles.get(messageId) === "user") return;
      if (blocks.isCompleted(part.id)) return;
      const text = stringOf(part.text) ?? "";
      if (!blocks.isOpen(part.id)) {
        const model = messageId ? models.get(messageId) : undefined;
        blocks.start(
          part.type === "text"
            ? { ...base(), type: "assistant_text", id: part.id, content: text, ...(model ? { model } : {}) }
            : { ...base(), type: "thinking", id: part.id, content: text },
          events,
        );
      } else if (typeof properties.delta === "string") {
        blocks.appendDelta(part.id, properties.delta, events);
      }
      if (isObject(part.time) && typeof part.time.end === "number")
        blocks.complete(part.id, events, { content: text });
    } else if (part.type === "tool") {
      onTool(part, owner.subagentId, base, events);
    } else if (part.type === "step-finish") {
      if (countedSteps.has(part.id)) return;
      countedSteps.add(part.id);
      addUsage(usage, part);
    } else if (part.type === "compaction") {
      blocks.emitWhole(
        {
          ...base(),
          type: "system",
          id: `compaction:${part.id}`,
          subtype: "compact_boundary",
          content: "Conversation compacted",
        },
        events,
      );
    }
  };

  const onTool = (
    part: Json,
    parentSubagent: string | undefined,
    base: () => { timestamp: string; subagentId?: string },
    events: AgentEvent[],
  ) => {
    const callId = stringOf(part.callID) ?? (part.id as string);
    if (blocks.isCompleted(callId)) return;
    const state = isObject(part.state) ? part.state : {};
    const status = stringOf(state.status) ?? "pending";
    const input = isObject(state.input) ? state.input : {};
    const toolName = stringOf(part.tool) ?? "unknown";
    if (!blocks.isOpen(callId)) {
      blocks.start(
        {
          ...base(),
          type: "tool_use",
          id: callId,
          toolUseId: callId,
          toolName,
          input: status === "pending" ? {} : input,
          status: status === "pending" ? "pending" : "running",
        },
        events,
      );
    } else if (status !== "pending" && (blocks.get(callId) as ToolUseBlock).status === "pending") {
      blocks.update(callId, { input, status: "running" }, events);
    }
    if (toolName === SUBAGENT_TOOL && status !== "pending") {
      blocks.startSubagent(
        { toolUseId: callId, input, defaultName: "general", parentSubagentId: parentSubagent },
        events,
      );
      const metadata = isObject(state.metadata) ? state.metadata : {};
      const child = stringOf(metadata.sessionId);
      if (child) link(child, callId, events);
    }
    if (status !== "completed" && status !== "error") return;
    const output = status === "error" ? (stringOf(state.error) ?? "error") : (stringOf(state.output) ?? "");
    const metadata = isObject(state.metadata) ? state.metadata : {};
    const failed = status === "error" || (typeof metadata.exit === "number" && metadata.exit !== 0);
    blocks.settleTool(
      {
        ...base(),
        type: "tool_result",
        id: `${callId}:result`,
        toolUseId: callId,
        content: output,
        ...(failed ? { isError: true } : {}),
      },
      events,
      () => taskResult(output),
    );
  };

  const onDelta = (properties: Json, events: AgentEvent[]) => {
    if (typeof properties.partID !== "string" || typeof properties.delta !== "string") {
      malformed("part delta without a part id or delta", events);
      return;
    }
    const owner = ownerOf(stringOf(properties.sessionID));
    if (owner === "defer") return; // the part's final update carries the whole text
    if (properties.field === undefined || properties.field === "text") {
      blocks.appendDelta(properties.partID, properties.delta, events);
    }
  };

  const onError = (properties: Json, events: AgentEvent[]) => {
    const error = isObject(properties.error) ? properties.error : {};
    const name = stringOf(error.name) ?? "UnknownError";
    const data = isObject(error.data) ? error.data : {};
    const message = stringOf(data.message) ?? stringOf(error.message) ?? name;
    const sessionId = stringOf(properties.sessionID);
    if (name === "MessageAbortedError") return;
    const owner = ownerOf(sessionId);
    blocks.error(message, name, events, { subagentId: owner === "defer" ? undefined : owner.subagentId });
  };

  const onStatus = (type: string, properties: Json, events: AgentEvent[]) => {
    const sessionId = stringOf(properties.sessionID);
    if (sessionId === undefined) {
      malformed(`${type} without a session id`, events);
      return;
    }
    if (!parents.has(sessionId)) adoptMain(sessionId, undefined, events);
    if (sessionId !== mainSession) return;
    const status =
      type === "session.idle"
        ? "idle"
        : stringOf(isObject(properties.status) ? properties.status.type : undefined);
    if (status === "busy" || status === "retry") turnActive = true;
    else if (status === "idle" && turnActive) finishTurn(events);
  };

  const finishTurn = (events: AgentEvent[]) => {
    turnActive = false;
    events.push(...flushOpen());
    events.push({ kind: "usage", usage, estimated: true });
    usage = emptyUsage();
  };

  const flushOpen = (): AgentEvent[] => {
    const events: AgentEvent[] = [];
    // Held-back events of child sessions never linked are parsed as they are, without a subagent id.
    for (const [session, waiting] of [...buffered]) {
      buffered.delete(session);
      parents.delete(session);
      for (const event of waiting) events.push(...parseEvent(event));
    }
    blocks.closeAll(events);
    return events;
  };

  const parseEvent = (event: unknown): AgentEvent[] => {
    const events: AgentEvent[] = [];
    try {
      if (!isObject(event) || typeof event.type !== "string") {
        malformed("agent message is not an event with a type", events);
        return events;
      }
      const properties = event.properties;
      if (!isObject(properties)) {
        malformed(`${event.type} event without properties`, events);
        return events;
      }
      switch (event.type) {
        case "session.created":
        case "session.updated":
          onSession(properties, events);
          break;
        case "message.updated":
          onMessage(properties, events);
          break;
        case "message.part.updated":
          onPart(properties, event, events);
          break;
        case "message.part.delta":
          onDelta(properties, events);
          break;
        case "session.error":
          onError(properties, events);
          break;
        case "session.status":
        case "session.idle":
          onStatus(event.type, properties, events);
          break;
        // Diffs, file and plugin notices, todos and the like carry nothing a client renders.
      }
    } catch (error) {
      blocks.error(`cannot parse agent message: ${String(error)}`, "PARSE_FAILED", events);
    }
    return events;
  };

  return { parse: parseEvent, flush: flushOpen };
}

/** Adds one step's tokens and cost; reasoning tokens are billed as output. */
function addUsage(usage: Usage, step: Json): void {
  const tokens = isObject(step.tokens) ? step.tokens : {};
  const cache = isObject(tokens.cache) ? tokens.cache : {};
  usage.inputTokens += nonNegative(tokens.input);
  usage.outputTokens += nonNegative(tokens.output) + nonNegative(tokens.reasoning);
  usage.cacheReadTokens += nonNegative(cache.read);
  usage.cacheCreationTokens += nonNegative(cache.write);
  usage.costUsd += nonNegative(step.cost);
}

/** The subagent's report inside the task tool's `<task_result>` wrapper, else the whole output. */
function taskResult(output: string): string {
  return /<task_result>\n?([\s\S]*?)\n?<\/task_result>/.exec(output)?.[1] ?? output;
}
