import type { Block, Subagent, SubagentBlock, WorkspaceFile } from "@agent-runtime/protocol";

interface OrderedBlock {
  readonly order: number;
  block: Block;
}

/** True when `block` is part of the run of subagent `subagentId` (not the subagent's own block). */
export function belongsToSubagent(block: Block, subagentId: string): boolean {
  return block.type === "subagent" ? block.parentSubagentId === subagentId : block.subagentId === subagentId;
}

/** True when `block` belongs to the main conversation. */
export function isMainBlock(block: Block): boolean {
  return block.type === "subagent" ? block.parentSubagentId === undefined : block.subagentId === undefined;
}

/**
 * The in-memory state of one session's conversation: blocks in start order
 * (completed and in flight), the workspace file index and subagents, plus
 * what changed since the last sync. Pure data; no I/O.
 */
export class SessionState {
  private readonly blocks = new Map<string, OrderedBlock>();
  private readonly inflight = new Set<string>();
  private nextOrder = 0;
  private readonly dirtyBlocks = new Set<string>();
  readonly files = new Map<string, WorkspaceFile>();
  readonly changedFiles = new Set<string>();
  readonly deletedFiles = new Set<string>();
  readonly subagents = new Map<string, Subagent>();

  /** Restores completed blocks loaded from persistence (in their stored order). */
  restoreBlocks(blocks: readonly Block[]): void {
    for (const block of blocks) {
      this.blocks.set(block.id, { order: this.nextOrder++, block });
      if (block.type === "subagent") this.subagents.set(block.subagentId, subagentFromBlock(block));
    }
  }

  has(blockId: string): boolean {
    return this.blocks.has(blockId);
  }

  isInflight(blockId: string): boolean {
    return this.inflight.has(blockId);
  }

  get(blockId: string): Block | undefined {
    return this.blocks.get(blockId)?.block;
  }

  start(block: Block): void {
    const existing = this.blocks.get(block.id);
    if (existing) {
      existing.block = block;
    } else {
      this.blocks.set(block.id, { order: this.nextOrder++, block });
    }
    this.inflight.add(block.id);
  }

  /** Appends streamed text to a block's `content`; returns false for unknown or text-less blocks. */
  appendDelta(blockId: string, delta: string): boolean {
    const entry = this.blocks.get(blockId);
    if (!entry || !("content" in entry.block) || typeof entry.block.content !== "string") return false;
    entry.block = { ...entry.block, content: entry.block.content + delta } as Block;
    return true;
  }

  update(blockId: string, updates: Partial<Block>): Block | undefined {
    const entry = this.blocks.get(blockId);
    if (!entry) return undefined;
    entry.block = { ...entry.block, ...updates, id: entry.block.id, type: entry.block.type } as Block;
    if (!this.inflight.has(blockId)) this.dirtyBlocks.add(blockId);
    return entry.block;
  }

  complete(block: Block): void {
    const entry = this.blocks.get(block.id);
    if (entry) entry.block = block;
    else this.blocks.set(block.id, { order: this.nextOrder++, block });
    this.inflight.delete(block.id);
    this.dirtyBlocks.add(block.id);
  }

  inflightIds(): string[] {
    return [...this.inflight];
  }

  /** Main-conversation blocks in start order, completed and in flight. */
  mainBlocks(): Block[] {
    return this.sorted().filter(isMainBlock);
  }

  subagentBlocks(subagentId: string): Block[] {
    return this.sorted().filter((block) => belongsToSubagent(block, subagentId));
  }

  /** Completed blocks changed since the last `markSynced`, with their order. */
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

  get hasPendingBlocks(): boolean {
    return this.dirtyBlocks.size > 0;
  }

  private sorted(): Block[] {
    return [...this.blocks.values()].sort((a, b) => a.order - b.order).map((entry) => entry.block);
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
