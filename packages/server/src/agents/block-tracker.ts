import {
  type Block,
  type ErrorBlock,
  mergeBlockUpdate,
  type SubagentBlock,
  type SubagentStatus,
  type ToolResultBlock,
} from "@agent-runtime/protocol";
import type { AgentEvent, ParserContext } from "./agent-architecture.js";
import { type Json, stringOf } from "./native-json.js";

/**
 * A tool call that launches a subagent. Claude Code's `Agent`/`Task` tool and
 * OpenCode's `task` tool take the same input: `subagent_type`, `description`
 * and `prompt`.
 */
export interface SubagentLaunch {
  /** The launching tool call's id: the subagent's id; its block is `<toolUseId>:subagent`. */
  readonly toolUseId: string;
  readonly input: Json;
  /** The agent's name for its default subagent, used when the input has no `subagent_type`. */
  readonly defaultName: string;
  /** The subagent that made the call, when a subagent launched another. */
  readonly parentSubagentId?: string;
}

/** Where an error block belongs and what names it. */
export interface ErrorOrigin {
  /** A native id of the failed message: the block id becomes `error:<nativeId>`, else `error:<n>`. */
  readonly nativeId?: string;
  readonly subagentId?: string;
}

/**
 * The blocks of one parser: which are open, which completed, and which
 * subagents were launched, with the events that start, update and complete
 * them. Shared by every architecture's parser so they keep the same block
 * lifecycle: a block starts once, completes once, and is never updated after.
 *
 * Every method appends the events it causes to `events`, in order, and never
 * throws. A block id already completed never starts again (`emitWhole`,
 * `startSubagent`); updating, streaming into or completing a block that is
 * not open emits nothing.
 */
export class BlockTracker {
  private readonly open = new Map<string, Block>();
  private readonly completed = new Set<string>();
  private readonly subagents = new Map<string, SubagentBlock>();
  /** When each open tool_use and subagent block started (ms since the epoch), for durations. */
  private readonly startedAt = new Map<string, number>();
  private readonly now: () => Date;
  private serial = 0;

  constructor(context: ParserContext = {}) {
    this.now = context.now ?? (() => new Date());
  }

  /** The current time for a block's `timestamp`. */
  stamp(): string {
    return this.now().toISOString();
  }

  /** 1, 2, 3, …: numbers ids that have no native id (error blocks included), unique within the parser. */
  nextSerial(): number {
    this.serial += 1;
    return this.serial;
  }

  /** The open block `id`, as updated and streamed so far. */
  get(id: string): Block | undefined {
    return this.open.get(id);
  }

  isOpen(id: string): boolean {
    return this.open.has(id);
  }

  isCompleted(id: string): boolean {
    return this.completed.has(id);
  }

  /** Opens `block`; the caller checks it was not seen before (see `emitWhole`). */
  start(block: Block, events: AgentEvent[]): void {
    this.open.set(block.id, block);
    if (block.type === "tool_use" || block.type === "subagent")
      this.startedAt.set(block.id, this.now().getTime());
    events.push({ kind: "block_start", block });
  }

  update(blockId: string, updates: Partial<Block>, events: AgentEvent[]): void {
    const block = this.open.get(blockId);
    if (!block) return;
    this.open.set(blockId, mergeBlockUpdate(block, updates));
    events.push({ kind: "block_update", blockId, updates });
  }

  /** Closes the block; `final` fields (the full text, say) go into the completed block only. */
  complete(blockId: string, events: AgentEvent[], final?: Partial<Block>): void {
    const block = this.open.get(blockId);
    if (!block) return;
    this.open.delete(blockId);
    this.startedAt.delete(blockId);
    this.completed.add(blockId);
    events.push({ kind: "block_complete", block: { ...block, ...final } as Block });
  }

  /** Starts and completes `block` at once, unless its id is open or completed already. */
  emitWhole(block: Block, events: AgentEvent[]): void {
    if (this.completed.has(block.id) || this.open.has(block.id)) return;
    this.start(block, events);
    this.complete(block.id, events);
  }

  /** Streams `delta` into an open text or thinking block. */
  appendDelta(blockId: string, delta: string, events: AgentEvent[]): void {
    const block = this.open.get(blockId);
    if (!block || (block.type !== "assistant_text" && block.type !== "thinking")) return;
    this.open.set(blockId, { ...block, content: block.content + delta });
    events.push({ kind: "block_delta", blockId, delta });
  }

  /** Emits a whole `error` block. */
  error(message: string, code: string, events: AgentEvent[], origin: ErrorOrigin = {}): void {
    const block: ErrorBlock = {
      type: "error",
      id: origin.nativeId !== undefined ? `error:${origin.nativeId}` : `error:${this.nextSerial()}`,
      timestamp: this.stamp(),
      message,
      code,
      ...(origin.subagentId ? { subagentId: origin.subagentId } : {}),
    };
    this.emitWhole(block, events);
  }

  /**
   * Starts the subagent block of a launching tool call and reports the
   * subagent (`subagent_discovered`); a call seen before is ignored.
   */
  startSubagent(launch: SubagentLaunch, events: AgentEvent[]): void {
    const { toolUseId, input } = launch;
    if (this.subagents.has(toolUseId)) return;
    const name = stringOf(input.subagent_type) ?? launch.defaultName;
    const block: SubagentBlock = {
      type: "subagent",
      id: `${toolUseId}:subagent`,
      timestamp: this.stamp(),
      subagentId: toolUseId,
      ...(launch.parentSubagentId ? { parentSubagentId: launch.parentSubagentId } : {}),
      name,
      status: "running",
      ...(typeof input.description === "string" ? { description: input.description } : {}),
      ...(typeof input.prompt === "string" ? { prompt: input.prompt } : {}),
      displayName: displayNameOf(name),
    };
    this.subagents.set(toolUseId, block);
    this.start(block, events);
    events.push({
      kind: "subagent_discovered",
      subagent: {
        id: toolUseId,
        name: block.name,
        status: "running",
        ...(block.description ? { description: block.description } : {}),
        startedAt: block.timestamp,
      },
    });
  }

  /**
   * Settles a tool call with its result: emits `result` whole (with
   * `durationMs` since the tool_use block started, when that block is open),
   * sets the tool_use block's status (`error` when `result.isError`, else
   * `success`) and completes it; when the call launched a subagent, the
   * subagent then ends `failed` or `completed` with `subagentReport()` as its
   * output.
   */
  settleTool(result: ToolResultBlock, events: AgentEvent[], subagentReport: () => string | undefined): void {
    const { toolUseId } = result;
    const durationMs = this.isOpen(toolUseId) ? this.elapsedSince(toolUseId) : undefined;
    this.emitWhole(durationMs === undefined ? result : { ...result, durationMs }, events);
    this.update(toolUseId, { status: result.isError ? "error" : "success" }, events);
    this.complete(toolUseId, events);
    if (this.subagents.has(toolUseId))
      this.endSubagent(toolUseId, result.isError ? "failed" : "completed", subagentReport(), events);
  }

  /**
   * Completes every open block in the order they started (end of turn,
   * interrupt, process exit): a tool call with `status: "error"`, a subagent
   * as `failed`.
   */
  closeAll(events: AgentEvent[]): void {
    for (const [id, block] of [...this.open]) {
      if (block.type === "tool_use") {
        this.update(id, { status: "error" }, events);
        this.complete(id, events);
      } else if (block.type === "subagent") {
        this.endSubagent(block.subagentId, "failed", undefined, events);
      } else {
        this.complete(id, events);
      }
    }
  }

  private endSubagent(
    toolUseId: string,
    status: SubagentStatus,
    output: string | undefined,
    events: AgentEvent[],
  ): void {
    const block = this.subagents.get(toolUseId);
    if (!block || !this.open.has(block.id)) return;
    const summary = output === undefined ? undefined : summaryOf(output);
    const updates: Partial<SubagentBlock> = {
      status,
      ...(output === undefined ? {} : { output }),
      ...(summary === undefined ? {} : { summary }),
      durationMs: this.elapsedSince(block.id),
    };
    this.update(block.id, updates, events);
    this.complete(block.id, events);
    events.push({ kind: "subagent_completed", subagentId: toolUseId, status });
  }

  /** Whole milliseconds since the open block `blockId` started (0 when the clock went back). */
  private elapsedSince(blockId: string): number {
    const started = this.startedAt.get(blockId) ?? this.now().getTime();
    return Math.max(0, Math.round(this.now().getTime() - started));
  }
}

/** The longest `summary`, in characters (UTF-16 code units), ellipsis included. */
const SUMMARY_MAX_LENGTH = 160;

/** A subagent type name for people: separators become spaces, the first letter capital ("code-reviewer" → "Code reviewer"). */
function displayNameOf(name: string): string {
  const words = name.replace(/[-_\s]+/g, " ").trim();
  return words ? words.charAt(0).toUpperCase() + words.slice(1) : name;
}

/**
 * The first non-empty line of a subagent's report, without Markdown heading,
 * list and quote markers, whitespace collapsed, cut to `SUMMARY_MAX_LENGTH`
 * with an ellipsis; undefined when the report has no text.
 */
function summaryOf(output: string): string | undefined {
  // Only the first lines are looked at: a report that starts with this many blank ones has no summary.
  for (const raw of output.split("\n", 100)) {
    const line = raw
      .replace(/^\s*(?:#{1,6}\s+|>\s*|[-*+]\s+|\d+[.)]\s+)*/, "")
      .replace(/\s+/g, " ")
      .trim();
    if (!line) continue;
    if (line.length <= SUMMARY_MAX_LENGTH) return line;
    let end = SUMMARY_MAX_LENGTH - 1;
    // Never split a surrogate pair.
    if (/[\uD800-\uDBFF]/.test(line.charAt(end - 1))) end -= 1;
    return `${line.slice(0, end)}…`;
  }
  return undefined;
}
