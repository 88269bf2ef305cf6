import { z } from "zod";
import { blockSchema } from "./blocks.js";

/** Blocks `GET /sessions/:id` includes, and a page of `GET /sessions/:id/blocks` holds, unless asked otherwise. */
export const DEFAULT_BLOCK_PAGE_SIZE = 500;
/** Most blocks one answer holds. */
export const MAX_BLOCK_PAGE_SIZE = 1000;

const blockCursorSchema = z.string().min(1).max(200);

/**
 * `GET /sessions/:id/blocks?before=&after=&limit=`: a page of the main
 * conversation, in start order. `after` (a block id): the `limit` blocks
 * that follow that block; `before`: the `limit` blocks just before it;
 * neither: the first `limit` blocks. Not both. An id that is not a block
 * of the main conversation is `400 VALIDATION_FAILED`.
 */
export const sessionBlocksQuerySchema = z
  .strictObject({
    before: blockCursorSchema.optional(),
    after: blockCursorSchema.optional(),
    limit: z.coerce.number().int().min(1).max(MAX_BLOCK_PAGE_SIZE).default(DEFAULT_BLOCK_PAGE_SIZE),
  })
  .refine((query) => query.before === undefined || query.after === undefined, {
    message: "Give `before` or `after`, not both",
  });
export interface SessionBlocksQuery {
  readonly before?: string;
  readonly after?: string;
  readonly limit?: number;
}

/** A page of a session's main conversation (see `sessionBlocksQuerySchema`). */
export const blockPageSchema = z.object({
  sessionId: z.string(),
  /** The `seq` of the last event the page reflects; later events update it as they do a snapshot. */
  lastSeq: z.number().int().nonnegative(),
  /** In start order. */
  blocks: z.array(blockSchema),
  /** Blocks come before the first one: ask again with `before` = the first block's id. */
  hasMoreBefore: z.boolean(),
  /** Blocks come after the last one: ask again with `after` = the last block's id. */
  hasMoreAfter: z.boolean(),
});
export type BlockPage = z.infer<typeof blockPageSchema>;

/**
 * `GET /sessions/:id?blocksLimit=`: how many of the newest main-conversation
 * blocks the session data includes (`0`: none, metadata only). When more
 * exist, its `hasOlderBlocks` is true and `GET /sessions/:id/blocks?before=`
 * pages back from the first one.
 */
export const sessionQuerySchema = z.strictObject({
  blocksLimit: z.coerce.number().int().min(0).max(MAX_BLOCK_PAGE_SIZE).default(DEFAULT_BLOCK_PAGE_SIZE),
});
export interface SessionQuery {
  readonly blocksLimit?: number;
}
