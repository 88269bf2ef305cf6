import {
  type AgentProfile,
  agentProfileSchema,
  auditRecordSchema,
  type Block,
  blockSchema,
  type SessionRecord,
  sessionRecordSchema,
  type TenantUsageTotals,
} from "@agent-runtime/protocol";
import type { Kysely, Transaction } from "kysely";
import { z } from "zod";
import { errorMessage, RuntimeError } from "../../errors.js";
import { validateInput } from "../../profiles/validate-input.js";
import type { BuiltInPersistenceAdapter } from "../built-in-persistence-adapter.js";
import { conflictingSessionError, sessionNotFoundError } from "../persistence-errors.js";
import { parseStoredJson, validateStoredValue } from "./parse-stored-json.js";
import type { SqlDatabase, TenantUsageTable } from "./sql-database.js";
import { tenantUsageColumns } from "./sql-migrations.js";

/** Rows per multi-row INSERT: far below SQLite's and PostgreSQL's bound-parameter limits. */
const insertChunkSize = 200;

/**
 * Content bytes per `stored_file_chunks` row: what one statement moves, so
 * the drivers' own copies (PostgreSQL returns `bytea` as hex text) stay this
 * small whatever the file's size.
 */
const fileChunkBytes = 1024 * 1024;

const storedFileInfoSchema = z.object({
  path: z.string(),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  modifiedAt: z.string(),
  linkTarget: z.string().min(1).optional(),
});

export interface SqlPersistenceAdapterOptions {
  /** Names the backend in error messages, e.g. `sqlite`. */
  label: string;
  /** Built without I/O; the first query connects. */
  db: Kysely<SqlDatabase>;
  /** Creates or upgrades the schema; called by `init()` (again only if the previous attempt failed). */
  migrate: () => Promise<void>;
  /**
   * Runs first in the transaction of every write for a session (creating,
   * updating or deleting it, its blocks, transcript and workspace files) and
   * throws to refuse the write (cluster mode: `LEASE_LOST` when this node no
   * longer owns the session, see `ClusterOwnership.fence`). Absent: writes
   * are not fenced.
   */
  fence?: SessionWriteFence;
}

/** Checks, inside a write's transaction, that the write may happen; throws to refuse it. */
export type SessionWriteFence = (trx: Transaction<SqlDatabase>, sessionId: string) => Promise<void>;

/**
 * The query code of the SQLite and PostgreSQL adapters (kysely query builder
 * only: no SQL text is built from input). Each write is one statement or one
 * transaction, so a failed call leaves nothing half-written. Every failure
 * surfaces as a `RuntimeError`: the semantic ones of `BuiltInPersistenceAdapter`
 * or `PERSISTENCE_FAILED` wrapping the driver's error.
 */
export function createSqlPersistenceAdapter(
  options: SqlPersistenceAdapterOptions,
): BuiltInPersistenceAdapter {
  const { label, db, fence } = options;
  let initialised: Promise<void> | undefined;

  /** A write for `sessionId` in one transaction, fenced first when a fence is set. */
  function sessionTransaction<T>(sessionId: string, work: (trx: Transaction<SqlDatabase>) => Promise<T>) {
    return db.transaction().execute(async (trx) => {
      await fence?.(trx, sessionId);
      return work(trx);
    });
  }

  /** A one-statement write for `sessionId`: on its own without a fence, else in a fenced transaction. */
  function sessionWrite<T>(sessionId: string, work: (query: Kysely<SqlDatabase>) => Promise<T>) {
    return fence === undefined ? work(db) : sessionTransaction(sessionId, work);
  }

  async function run<T>(operation: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (RuntimeError.is(error)) throw error;
      throw new RuntimeError("PERSISTENCE_FAILED", `${label}: ${operation} failed: ${errorMessage(error)}`, {
        cause: error,
      });
    }
  }

  async function assertSessionExists(trx: Transaction<SqlDatabase>, sessionId: string): Promise<void> {
    const row = await trx.selectFrom("sessions").select("id").where("id", "=", sessionId).executeTakeFirst();
    if (!row) throw sessionNotFoundError(sessionId);
  }

  function toSession(row: { id: string; record: string }): SessionRecord {
    return parseStoredJson(sessionRecordSchema, row.record, `${label}: stored session "${row.id}"`);
  }

  function toProfile(row: { id: string; json: string }): AgentProfile {
    return parseStoredJson(agentProfileSchema, row.json, `${label}: stored agent profile "${row.id}"`);
  }

  return {
    init() {
      initialised ??= run("migration", options.migrate).catch((error: unknown) => {
        initialised = undefined;
        throw error;
      });
      return initialised;
    },

    close() {
      return run("close", () => db.destroy());
    },

    listSessions({ limit, after, tenantId }) {
      return run("listSessions", async () => {
        const rows = await db
          .selectFrom("sessions")
          .select(["id", "record"])
          .$if(tenantId !== undefined, (query) => query.where("tenant_id", "=", tenantId!))
          .$if(after !== undefined, (query) =>
            query.where((eb) =>
              eb.or([
                eb("updated_at", "<", after!.updatedAt),
                eb.and([eb("updated_at", "=", after!.updatedAt), eb("id", ">", after!.sessionId)]),
              ]),
            ),
          )
          .orderBy("updated_at", "desc")
          .orderBy("id", "asc")
          .limit(limit)
          .execute();
        return rows.map(toSession);
      });
    },

    loadSession(sessionId) {
      return run("loadSession", async () => {
        const row = await db
          .selectFrom("sessions")
          .select(["id", "record"])
          .where("id", "=", sessionId)
          .executeTakeFirst();
        return row ? toSession(row) : null;
      });
    },

    createSession(record) {
      return run("createSession", () =>
        sessionWrite(record.sessionId, async (db) => {
          const json = JSON.stringify(record);
          const inserted = await db
            .insertInto("sessions")
            .values({
              id: record.sessionId,
              tenant_id: record.tenantId ?? null,
              record: json,
              created_at: record.createdAt,
              updated_at: record.updatedAt,
            })
            .onConflict((conflict) => conflict.column("id").doNothing())
            .executeTakeFirst();
          if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0) return;
          const existing = await db
            .selectFrom("sessions")
            .select("record")
            .where("id", "=", record.sessionId)
            .executeTakeFirst();
          if (existing?.record !== json) throw conflictingSessionError(record.sessionId);
        }),
      );
    },

    updateSession(record) {
      return run("updateSession", () =>
        sessionWrite(record.sessionId, async (db) => {
          const updated = await db
            .updateTable("sessions")
            .set({ record: JSON.stringify(record), updated_at: record.updatedAt })
            .where("id", "=", record.sessionId)
            .executeTakeFirst();
          if (Number(updated.numUpdatedRows) === 0) throw sessionNotFoundError(record.sessionId);
        }),
      );
    },

    deleteSession(sessionId) {
      return run("deleteSession", () =>
        sessionWrite(sessionId, async (db) => {
          await db.deleteFrom("sessions").where("id", "=", sessionId).execute();
        }),
      );
    },

    saveBlocks(sessionId, blocks) {
      return run("saveBlocks", async () => {
        if (blocks.length === 0) return;
        const rows = lastWriteWins(
          blocks.map(({ order, block }) => ({
            session_id: sessionId,
            block_id: block.id,
            ord: order,
            json: JSON.stringify(block),
          })),
          (row) => row.block_id,
        );
        await sessionTransaction(sessionId, async (trx) => {
          await assertSessionExists(trx, sessionId);
          for (let start = 0; start < rows.length; start += insertChunkSize) {
            await trx
              .insertInto("blocks")
              .values(rows.slice(start, start + insertChunkSize))
              .onConflict((conflict) =>
                conflict.columns(["session_id", "block_id"]).doUpdateSet((eb) => ({
                  ord: eb.ref("excluded.ord"),
                  json: eb.ref("excluded.json"),
                })),
              )
              .execute();
          }
        });
      });
    },

    loadBlocks(sessionId) {
      return run("loadBlocks", async () => {
        const rows = await db
          .selectFrom("blocks")
          .select(["block_id", "json"])
          .where("session_id", "=", sessionId)
          .orderBy("ord", "asc")
          .orderBy("block_id", "asc")
          .execute();
        return rows.map(
          (row): Block =>
            parseStoredJson(
              blockSchema,
              row.json,
              `${label}: stored block "${row.block_id}" of session "${sessionId}"`,
            ),
        );
      });
    },

    saveTranscript(sessionId, transcript) {
      return run("saveTranscript", () =>
        sessionTransaction(sessionId, async (trx) => {
          await assertSessionExists(trx, sessionId);
          await trx.deleteFrom("transcript_chunks").where("session_id", "=", sessionId).execute();
          await trx
            .insertInto("transcript_chunks")
            .values({ session_id: sessionId, seq: 0, text: transcript })
            .execute();
        }),
      );
    },

    appendTranscript(sessionId, text) {
      return run("appendTranscript", () =>
        sessionTransaction(sessionId, async (trx) => {
          await assertSessionExists(trx, sessionId);
          const last = await trx
            .selectFrom("transcript_chunks")
            .select((eb) => eb.fn.max("seq").as("seq"))
            .where("session_id", "=", sessionId)
            .executeTakeFirst();
          const seq = last?.seq === null || last?.seq === undefined ? 0 : Number(last.seq) + 1;
          await trx.insertInto("transcript_chunks").values({ session_id: sessionId, seq, text }).execute();
        }),
      );
    },

    loadTranscript(sessionId) {
      return run("loadTranscript", async () => {
        const chunks = await db
          .selectFrom("transcript_chunks")
          .select("text")
          .where("session_id", "=", sessionId)
          .orderBy("seq")
          .execute();
        return chunks.length === 0 ? null : chunks.map((chunk) => chunk.text).join("");
      });
    },

    saveWorkspaceFile(sessionId, file) {
      return run("saveWorkspaceFile", () =>
        sessionTransaction(sessionId, async (trx) => {
          await assertSessionExists(trx, sessionId);
          const key = { session_id: sessionId, path: file.path };
          await trx
            .insertInto("stored_files")
            .values({
              ...key,
              size: file.size,
              sha256: file.sha256,
              modified_at: file.modifiedAt,
              link_target: file.linkTarget ?? null,
            })
            .onConflict((conflict) =>
              conflict.columns(["session_id", "path"]).doUpdateSet((eb) => ({
                size: eb.ref("excluded.size"),
                sha256: eb.ref("excluded.sha256"),
                modified_at: eb.ref("excluded.modified_at"),
                link_target: eb.ref("excluded.link_target"),
              })),
            )
            .execute();
          await trx
            .deleteFrom("stored_file_chunks")
            .where("session_id", "=", sessionId)
            .where("path", "=", file.path)
            .execute();
          // A Buffer view of the caller's bytes: drivers bind Buffers as binary, without copying them in JS.
          const content = Buffer.from(file.content.buffer, file.content.byteOffset, file.content.byteLength);
          for (let seq = 0; seq * fileChunkBytes < content.length; seq++) {
            const start = seq * fileChunkBytes;
            await trx
              .insertInto("stored_file_chunks")
              .values({ ...key, seq, bytes: content.subarray(start, start + fileChunkBytes) })
              .execute();
          }
        }),
      );
    },

    deleteWorkspaceFile(sessionId, path) {
      return run("deleteWorkspaceFile", () =>
        sessionWrite(sessionId, async (db) => {
          await db
            .deleteFrom("stored_files")
            .where("session_id", "=", sessionId)
            .where("path", "=", path)
            .execute();
        }),
      );
    },

    listWorkspaceFiles(sessionId) {
      return run("listWorkspaceFiles", async () => {
        const rows = await db
          .selectFrom("stored_files")
          .select(["path", "size", "sha256", "modified_at", "link_target"])
          .where("session_id", "=", sessionId)
          .orderBy("path", "asc")
          .execute();
        return rows.map((row) =>
          validateStoredValue(
            storedFileInfoSchema,
            {
              path: row.path,
              size: Number(row.size),
              sha256: row.sha256,
              modifiedAt: row.modified_at,
              ...(row.link_target === null ? {} : { linkTarget: row.link_target }),
            },
            `${label}: stored file "${row.path}" of session "${sessionId}"`,
          ),
        );
      });
    },

    loadWorkspaceFile(sessionId, path) {
      // One chunk per query, in one snapshot: memory holds the content once, plus one chunk.
      return run("loadWorkspaceFile", () =>
        db
          .transaction()
          .setIsolationLevel("repeatable read")
          .execute(async (trx) => {
            const file = await trx
              .selectFrom("stored_files")
              .select("size")
              .where("session_id", "=", sessionId)
              .where("path", "=", path)
              .executeTakeFirst();
            if (!file) return null;
            const content = Buffer.allocUnsafeSlow(Number(file.size));
            let filled = 0;
            for (let seq = 0; filled < content.length; seq++) {
              const chunk = await trx
                .selectFrom("stored_file_chunks")
                .select("bytes")
                .where("session_id", "=", sessionId)
                .where("path", "=", path)
                .where("seq", "=", seq)
                .executeTakeFirst();
              if (!chunk || chunk.bytes.length === 0 || chunk.bytes.length > content.length - filled) {
                throw new RuntimeError(
                  "PERSISTENCE_FAILED",
                  `${label}: stored file "${path}" of session "${sessionId}" is corrupt: its chunks do not add up to its size (${content.length} bytes)`,
                );
              }
              content.set(chunk.bytes, filled);
              filled += chunk.bytes.length;
            }
            return content;
          }),
      );
    },

    loadWorkspaceFileRange(sessionId, path, start, maxBytes) {
      // One chunk at most: the one holding `start` (every chunk but the last holds `fileChunkBytes`).
      return run("loadWorkspaceFileRange", () =>
        db
          .transaction()
          .setIsolationLevel("repeatable read")
          .execute(async (trx) => {
            const file = await trx
              .selectFrom("stored_files")
              .select(["size", "sha256"])
              .where("session_id", "=", sessionId)
              .where("path", "=", path)
              .executeTakeFirst();
            if (!file) return null;
            const size = Number(file.size);
            const found = { size, sha256: file.sha256 };
            if (start >= size || maxBytes <= 0) return { ...found, bytes: new Uint8Array() };
            const seq = Math.floor(start / fileChunkBytes);
            const chunk = await trx
              .selectFrom("stored_file_chunks")
              .select("bytes")
              .where("session_id", "=", sessionId)
              .where("path", "=", path)
              .where("seq", "=", seq)
              .executeTakeFirst();
            const chunkEnd = Math.min(size, (seq + 1) * fileChunkBytes);
            if (chunk?.bytes.length !== chunkEnd - seq * fileChunkBytes) {
              throw new RuntimeError(
                "PERSISTENCE_FAILED",
                `${label}: stored file "${path}" of session "${sessionId}" is corrupt: chunk ${seq} is not ${fileChunkBytes} bytes or the file's end`,
              );
            }
            const offset = start - seq * fileChunkBytes;
            return { ...found, bytes: chunk.bytes.subarray(offset, offset + maxBytes) };
          }),
      );
    },

    addTenantUsage(tenantId, delta) {
      return run("addTenantUsage", async () => {
        const row = { tenant_id: tenantId, ...usageRow(delta) };
        await db
          .insertInto("tenant_usage")
          .values(row)
          .onConflict((conflict) =>
            conflict
              .column("tenant_id")
              .doUpdateSet((eb) =>
                Object.fromEntries(
                  tenantUsageColumns.map((name) => [
                    name,
                    eb(`tenant_usage.${name}`, "+", eb.ref(`excluded.${name}`)),
                  ]),
                ),
              ),
          )
          .execute();
      });
    },

    appendAuditRecords(records) {
      return run("appendAuditRecords", async () => {
        for (let start = 0; start < records.length; start += insertChunkSize) {
          const rows = records.slice(start, start + insertChunkSize).map((record) => ({
            id: record.id,
            at: record.at,
            tenant_id: record.tenantId ?? null,
            session_id: record.sessionId ?? null,
            record: JSON.stringify(record),
          }));
          await db
            .insertInto("audit_log")
            .values(rows)
            .onConflict((conflict) => conflict.column("id").doNothing())
            .execute();
        }
      });
    },

    listAuditRecords({ limit, after, tenantId, sessionId }) {
      return run("listAuditRecords", async () => {
        let query = db.selectFrom("audit_log").select(["id", "record"]);
        if (tenantId !== undefined) query = query.where("tenant_id", "=", tenantId);
        if (sessionId !== undefined) query = query.where("session_id", "=", sessionId);
        if (after !== undefined)
          query = query.where((eb) =>
            eb.or([eb("at", "<", after.at), eb.and([eb("at", "=", after.at), eb("id", "<", after.id)])]),
          );
        const rows = await query.orderBy("at", "desc").orderBy("id", "desc").limit(limit).execute();
        return rows.map((row) =>
          parseStoredJson(auditRecordSchema, row.record, `${label}: stored audit record "${row.id}"`),
        );
      });
    },

    pruneAuditRecords(before) {
      return run("pruneAuditRecords", async () => {
        const result = await db
          .deleteFrom("audit_log")
          .where("at", "<", before.toISOString())
          .executeTakeFirst();
        return Number(result.numDeletedRows);
      });
    },

    loadTenantUsage(tenantId) {
      return run("loadTenantUsage", async () => {
        const row = await db
          .selectFrom("tenant_usage")
          .selectAll()
          .where("tenant_id", "=", tenantId)
          .executeTakeFirst();
        return row ? usageTotals(row) : null;
      });
    },

    listAgentProfiles() {
      return run("listAgentProfiles", async () => {
        const rows = await db
          .selectFrom("agent_profiles")
          .select(["id", "json"])
          .orderBy("id", "asc")
          .execute();
        return rows.map(toProfile);
      });
    },

    loadAgentProfile(id) {
      return run("loadAgentProfile", async () => {
        const row = await db
          .selectFrom("agent_profiles")
          .select(["id", "json"])
          .where("id", "=", id)
          .executeTakeFirst();
        return row ? toProfile(row) : null;
      });
    },

    async saveAgentProfile(input) {
      const profile = validateInput(agentProfileSchema, input, "agent profile");
      return await run("saveAgentProfile", async () => {
        await db
          .insertInto("agent_profiles")
          .values({ id: profile.id, json: JSON.stringify(profile) })
          .onConflict((conflict) =>
            conflict.column("id").doUpdateSet((eb) => ({ json: eb.ref("excluded.json") })),
          )
          .execute();
        return profile;
      });
    },
  };
}

/**
 * One upsert statement may not touch the same key twice (PostgreSQL rejects
 * it), so within a call the last entry for a key wins, as it would with
 * separate statements.
 */
function lastWriteWins<T>(rows: T[], key: (row: T) => string): T[] {
  return [...new Map(rows.map((row) => [key(row), row])).values()];
}

function usageRow(totals: TenantUsageTotals): Omit<TenantUsageTable, "tenant_id"> {
  return {
    input_tokens: totals.inputTokens,
    output_tokens: totals.outputTokens,
    cache_read_tokens: totals.cacheReadTokens,
    cache_creation_tokens: totals.cacheCreationTokens,
    cost_usd: totals.costUsd,
    sandbox_seconds: totals.sandboxSeconds,
  };
}

function usageTotals(row: TenantUsageTable): TenantUsageTotals {
  return {
    inputTokens: Number(row.input_tokens),
    outputTokens: Number(row.output_tokens),
    cacheReadTokens: Number(row.cache_read_tokens),
    cacheCreationTokens: Number(row.cache_creation_tokens),
    costUsd: Number(row.cost_usd),
    sandboxSeconds: Number(row.sandbox_seconds),
  };
}
