import type { Block, SessionData, SessionEvent } from "@agent-runtime/protocol";
import { isMainBlock } from "@agent-runtime/protocol";

/**
 * What a client rebuilds from the wire: blocks in the order they started,
 * from an optional snapshot plus the events after it. Used to check that a
 * resuming client ends with exactly the server's blocks.
 */
export class BlockReplica {
  private readonly blocks = new Map<string, Block>();

  /** Replaces everything with a `session:snapshot`'s blocks. */
  reset(snapshot: SessionData): void {
    this.blocks.clear();
    for (const block of snapshot.blocks) this.blocks.set(block.id, block);
  }

  apply(event: SessionEvent): void {
    switch (event.type) {
      case "session:block:start":
        this.blocks.set(event.block.id, event.block);
        return;
      case "session:block:delta": {
        const block = this.blocks.get(event.blockId);
        if (block && "content" in block && typeof block.content === "string") {
          this.blocks.set(event.blockId, { ...block, content: block.content + event.delta } as Block);
        }
        return;
      }
      case "session:block:update": {
        const block = this.blocks.get(event.blockId);
        if (block) this.blocks.set(event.blockId, { ...block, ...event.updates } as Block);
        return;
      }
      case "session:block:complete":
        this.blocks.set(event.blockId, event.block);
        return;
      default:
        return;
    }
  }

  /** Main-conversation blocks, as `GET /sessions/:id` lists them. */
  mainBlocks(): Block[] {
    return [...this.blocks.values()].filter(isMainBlock);
  }
}
