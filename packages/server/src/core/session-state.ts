import { randomUUID } from "node:crypto";
import {
  type Block,
  belongsToSubagent,
  type ErrorCode,
  isMainBlock,
  mergeBlockUpdate,
  type RuntimeState,
  type SessionEventInput,
  type SessionRecord,
  type Subagent,
  type SubagentBlock,
  type WorkspaceFile,
} from "@agent-runtime/protocol";
import type { AgentEvent } from "../agents/agent-architecture.js";
import type { StoredFileInfo } from "../persistence/persistence-adapter.js";
import { storedFileInfo } from "../persistence/stored-file.js";
import { addUsage } from "./usage.js";

interface OrderedBlock {
  readonly order: number;
  block: Block;
}

/**
 * Everything one session holds in memory: its stored record, its blocks in
 * start order (completed and in flight), the workspace file index and
 * subagents, plus what changed since the last sync. Data only; it is
 * changed by the reducers below (`applyAgentEvent`, `applyFileEvent`,
 * `addBlock`), which do no I/O and return the events to emit.
 */
export class SessionState {
  record: SessionRecord;
  /** What clients see of the session's live state (sandbox, turn, queue). */
  runtime: RuntimeState;
  /** The record changed since it was last stored. */
  recordDirty = false;
  /** The agent wrote to its transcript since it was last stored. */
  transcriptDirty = false;
  readonly files = new Map<string, WorkspaceFile>();
  /** What persistence holds of each workspace file (its hash spares rewriting unchanged content). */
  readonly storedFiles = new Map<string, StoredFileInfo>();
  readonly changedFiles = new Set<string>();
  readonly deletedFiles = new Set<string>();
  readonly subagents = new Map<string, Subagent>();
  private readonly blocks = new Map<string, OrderedBlock>();
  private readonly inflight = new Set<string>();
  private readonly dirtyBlocks = new Set<string>();
  /** Ids of the blocks the current agent process reported (see `agentRestarted`). */
  private readonly agentBlockIds = new Set<string>();
  private nextOrder = 0;

  constructor(
    record: SessionRecord,
    restored?: { blocks: readonly Block[]; files: readonly StoredFileInfo[] },
  ) {
    this.record = record;
    this.runtime = {
      isLoaded: true,
      sandboxStatus:
        restored && (record.nativeSessionId || restored.files.length > 0) ? "terminated" : "pending",
      busy: false,
      queuedMessages: [],
      lastActivityAt: record.updatedAt,
    };
    for (const block of restored?.blocks ?? []) {
      this.blocks.set(block.id, { order: this.nextOrder++, block });
      if (block.type === "subagent") this.subagents.set(block.subagentId, subagentFromBlock(block));
    }
    for (const stored of restored?.files ?? []) {
      const { path, size, modifiedAt, linkTarget } = stored;
      this.files.set(path, { path, size, modifiedAt, ...(linkTarget === undefined ? {} : { linkTarget }) });
      this.storedFiles.set(path, storedFileInfo(stored));
    }
  }

  /** Replaces the record (it is immutable) and marks it for the next sync. */
  patchRecord(patch: Partial<SessionRecord>): void {
    this.record = { ...this.record, ...patch };
    this.recordDirty = true;
  }

  /** Notes activity without telling clients (it shows in the next status). */
  touch(now = new Date()): void {
    this.runtime = { ...this.runtime, lastActivityAt: now.toISOString() };
  }

  /** A new agent process runs: blocks it reports again (a resumed agent repeats some) are settled ones. */
  agentRestarted(): void {
    this.agentBlockIds.clear();
  }

  has(blockId: string): boolean {
    return this.blocks.has(blockId);
  }

  /** Main-conversation blocks in start order, completed and in flight. */
  mainBlocks(): Block[] {
    return this.sorted().filter(isMainBlock);
  }

  subagentBlocks(subagentId: string): Block[] {
    return this.sorted().filter((block) => belongsToSubagent(block, subagentId));
  }

  sortedFiles(): WorkspaceFile[] {
    return [...this.files.values()].sort((a, b) => a.path.localeCompare(b.path));
  }

  /** Completed blocks changed since the last `markBlocksSynced`, with their order. */
  pendingBlocks(): Array<{ order: number; block: Block }> {
    const pending: Array<{ order: number; block: Block }> = [];
    for (const id of this.dirtyBlocks) {
      const entry = this.blocks.get(id);
      if (entry && !this.inflight.has(id)) pending.push({ order: entry.order, block: entry.block });
    }
    return pending.sort((a, b) => a.order - b.order);
  }

  /** Forgets dirtiness of exactly the blocks that were written, unless they changed again since. */
  markBlocksSynced(written: ReadonlyArray<{ block: Block }>): void {
    for (const { block } of written) {
      if (this.blocks.get(block.id)?.block === block) this.dirtyBlocks.delete(block.id);
    }
  }

  /** @internal Reducer access. */
  startBlock(block: Block): void {
    const existing = this.blocks.get(block.id);
    if (existing) existing.block = block;
    else this.blocks.set(block.id, { order: this.nextOrder++, block });
    this.inflight.add(block.id);
  }

  /** @internal Reducer access. Appends streamed text; false for unknown or text-less blocks. */
  appendDelta(blockId: string, delta: string): boolean {
    const entry = this.blocks.get(blockId);
    if (!entry || !("content" in entry.block) || typeof entry.block.content !== "string") return false;
    entry.block = { ...entry.block, content: entry.block.content + delta } as Block;
    return true;
  }

  /** @internal Reducer access. */
  updateBlock(blockId: string, updates: Partial<Block>): boolean {
    const entry = this.blocks.get(blockId);
    if (!entry) return false;
    entry.block = mergeBlockUpdate(entry.block, updates);
    if (!this.inflight.has(blockId)) this.dirtyBlocks.add(blockId);
    return true;
  }

  /** @internal Reducer access. */
  completeBlock(block: Block): void {
    const entry = this.blocks.get(block.id);
    if (entry) entry.block = block;
    else this.blocks.set(block.id, { order: this.nextOrder++, block });
    this.inflight.delete(block.id);
    this.dirtyBlocks.add(block.id);
  }

  /**
   * True for a block completed before the current agent process started:
   * block ids are stable, so a resumed agent that reports it again (e.g. its
   * init message) must not replace what the session holds. Otherwise the
   * block is remembered as the current process's.
   */
  settles(blockId: string): boolean {
    const settled =
      this.blocks.has(blockId) && !this.inflight.has(blockId) && !this.agentBlockIds.has(blockId);
    if (!settled) this.agentBlockIds.add(blockId);
    return settled;
  }

  /** Every block in start order: entries are only ever added (with the next `order`) or changed in place, so the map's order is theirs. */
  private sorted(): Block[] {
    return Array.from(this.blocks.values(), (entry) => entry.block);
  }
}

export function subagentFromBlock(block: SubagentBlock): Subagent {
  return {
    id: block.subagentId,
    name: block.name,
    status: block.status,
    ...(block.description === undefined ? {} : { description: block.description }),
    startedAt: block.timestamp,
  };
}

/** Changes the live state (`undefined` removes a field) and returns the status event that tells clients. */
export function setRuntime(
  state: SessionState,
  patch: Partial<RuntimeState>,
  now = new Date(),
): SessionEventInput {
  const next: RuntimeState = { ...state.runtime, ...patch, lastActivityAt: now.toISOString() };
  for (const key of Object.keys(next) as Array<keyof RuntimeState>) {
    if (next[key] === undefined) delete next[key];
  }
  state.runtime = next;
  return { type: "session:status", runtime: { ...next } };
}

/** Adds a block that is complete at once (a user message, an error); returns its events. */
export function addBlock(state: SessionState, block: Block): SessionEventInput[] {
  state.startBlock(block);
  state.completeBlock(block);
  return [
    { type: "session:block:start", block },
    { type: "session:block:complete", blockId: block.id, block },
  ];
}

/** An `error` event plus, unless `withBlock` is false, an error block saying the same. */
export function reportError(
  state: SessionState,
  code: ErrorCode,
  message: string,
  options: { withBlock?: boolean; now?: Date } = {},
): SessionEventInput[] {
  const events: SessionEventInput[] = [{ type: "error", code, message }];
  if (options.withBlock === false) return events;
  const block: Block = {
    type: "error",
    id: `error-${randomUUID()}`,
    timestamp: (options.now ?? new Date()).toISOString(),
    message,
    code,
  };
  return [...events, ...addBlock(state, block)];
}

/**
 * Applies what the agent's parser made of its output to the session state
 * and returns the events that tell clients about it. No I/O.
 */
export function applyAgentEvent(
  state: SessionState,
  event: AgentEvent,
  now = new Date(),
): SessionEventInput[] {
  switch (event.kind) {
    case "block_start":
      if (state.settles(event.block.id)) return [];
      state.startBlock(event.block);
      return [{ type: "session:block:start", block: event.block }];
    case "block_delta":
      return state.appendDelta(event.blockId, event.delta)
        ? [{ type: "session:block:delta", blockId: event.blockId, delta: event.delta }]
        : [];
    case "block_update":
      return state.updateBlock(event.blockId, event.updates)
        ? [{ type: "session:block:update", blockId: event.blockId, updates: event.updates }]
        : [];
    case "block_complete": {
      const { block } = event;
      if (state.settles(block.id)) return [];
      const events: SessionEventInput[] = [];
      if (!state.has(block.id)) {
        state.startBlock(block);
        events.push({ type: "session:block:start", block });
      }
      state.completeBlock(block);
      events.push({ type: "session:block:complete", blockId: block.id, block });
      const known = block.type === "subagent" ? state.subagents.get(block.subagentId) : undefined;
      if (block.type === "subagent" && known && known.status !== block.status) {
        state.subagents.set(block.subagentId, { ...known, status: block.status });
      }
      return events;
    }
    case "subagent_discovered":
      state.subagents.set(event.subagent.id, event.subagent);
      return [{ type: "session:subagent:discovered", subagent: event.subagent }];
    case "subagent_completed": {
      const subagent = state.subagents.get(event.subagentId);
      if (subagent) {
        state.subagents.set(event.subagentId, {
          ...subagent,
          status: event.status,
          completedAt: now.toISOString(),
        });
      }
      return [{ type: "session:subagent:completed", subagentId: event.subagentId, status: event.status }];
    }
    case "usage":
      state.patchRecord({ usage: addUsage(state.record.usage, event.usage) });
      return [
        {
          type: "session:metadata:update",
          usage: state.record.usage,
          turnUsage: event.usage,
          estimated: event.estimated,
        },
      ];
    case "native_session":
      if (state.record.nativeSessionId !== event.nativeSessionId) {
        state.patchRecord({ nativeSessionId: event.nativeSessionId });
      }
      return [];
  }
}
