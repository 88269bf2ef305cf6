import { type Kysely, type Migration, Migrator, sql } from "kysely";
import { errorMessage, RuntimeError } from "../../errors.js";
import { contentHash } from "../stored-file.js";
import type { SqlDatabase } from "./sql-database.js";

/** The SQL backends; a migration creates the column types of the one it runs on. */
export type SqlDialect = "sqlite" | "postgres";

/** Both transcript layouts, as migration 0002 moves rows between them. */
interface TranscriptTables {
  transcripts: { session_id: string; text: string };
  transcript_chunks: { session_id: string; seq: number; text: string };
}

/** Both workspace file layouts, as migration 0003 moves rows between them. */
interface WorkspaceFileTables {
  workspace_files: { session_id: string; path: string; content: string };
  stored_files: { session_id: string; path: string; size: number; sha256: string; modified_at: string };
  stored_file_chunks: { session_id: string; path: string; seq: number; bytes: Uint8Array };
}

/** Files 0003 converts per query, so the conversion's memory does not grow with the table. */
const fileConversionBatch = 100;
/** Chunk size 0003 writes: the SQL adapter's chunk size when 0003 shipped. */
const fileConversionChunkBytes = 1024 * 1024;
/**
 * `modified_at` of the files 0003 converts. Their real time is unknown and,
 * stored as text, their content may be damaged, so the epoch makes any copy
 * found on a disk count as newer than them.
 */
const unknownModifiedAt = "1970-01-01T00:00:00.000Z";

/**
 * Schema history, oldest first. Entries are append-only: never edit a
 * migration that has shipped; add a new one. Keys sort in run order.
 */
const migrations = (dialect: SqlDialect): Record<string, Migration> => ({
  "0001_initial": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("sessions")
        .addColumn("id", "text", (column) => column.primaryKey())
        .addColumn("record", "text", (column) => column.notNull())
        .addColumn("created_at", "text", (column) => column.notNull())
        .addColumn("updated_at", "text", (column) => column.notNull())
        .execute();
      await db.schema.createIndex("sessions_updated_at").on("sessions").column("updated_at").execute();

      await db.schema
        .createTable("blocks")
        .addColumn("session_id", "text", (column) =>
          column.notNull().references("sessions.id").onDelete("cascade"),
        )
        .addColumn("block_id", "text", (column) => column.notNull())
        .addColumn("ord", "integer", (column) => column.notNull())
        .addColumn("json", "text", (column) => column.notNull())
        .addPrimaryKeyConstraint("blocks_pk", ["session_id", "block_id"])
        .execute();
      await db.schema.createIndex("blocks_session_ord").on("blocks").columns(["session_id", "ord"]).execute();

      await db.schema
        .createTable("transcripts")
        .addColumn("session_id", "text", (column) =>
          column.primaryKey().references("sessions.id").onDelete("cascade"),
        )
        .addColumn("text", "text", (column) => column.notNull())
        .execute();

      await db.schema
        .createTable("workspace_files")
        .addColumn("session_id", "text", (column) =>
          column.notNull().references("sessions.id").onDelete("cascade"),
        )
        .addColumn("path", "text", (column) => column.notNull())
        .addColumn("content", "text", (column) => column.notNull())
        .addPrimaryKeyConstraint("workspace_files_pk", ["session_id", "path"])
        .execute();

      await db.schema
        .createTable("agent_profiles")
        .addColumn("id", "text", (column) => column.primaryKey())
        .addColumn("json", "text", (column) => column.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      for (const table of ["agent_profiles", "workspace_files", "transcripts", "blocks", "sessions"]) {
        await db.schema.dropTable(table).ifExists().execute();
      }
    },
  },
  // Transcripts become append-only chunks, so a sync appends what is new instead of rewriting it all.
  "0002_transcript_chunks": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("transcript_chunks")
        .addColumn("session_id", "text", (column) =>
          column.notNull().references("sessions.id").onDelete("cascade"),
        )
        .addColumn("seq", "integer", (column) => column.notNull())
        .addColumn("text", "text", (column) => column.notNull())
        .addPrimaryKeyConstraint("transcript_chunks_pk", ["session_id", "seq"])
        .execute();
      // Through the query builder, so PostgreSQL's schema plugin qualifies both tables.
      const typed = db as Kysely<TranscriptTables>;
      await typed
        .insertInto("transcript_chunks")
        .columns(["session_id", "seq", "text"])
        .expression(typed.selectFrom("transcripts").select(["session_id", sql.lit(0).as("seq"), "text"]))
        .execute();
      await db.schema.dropTable("transcripts").execute();
    },
    async down(db: Kysely<unknown>) {
      // Only single-chunk transcripts survive going back; longer ones would need dialect-specific concatenation.
      await db.schema
        .createTable("transcripts")
        .addColumn("session_id", "text", (column) =>
          column.primaryKey().references("sessions.id").onDelete("cascade"),
        )
        .addColumn("text", "text", (column) => column.notNull())
        .execute();
      const typed = db as Kysely<TranscriptTables>;
      await typed
        .insertInto("transcripts")
        .columns(["session_id", "text"])
        .expression(typed.selectFrom("transcript_chunks").select(["session_id", "text"]).where("seq", "=", 0))
        .execute();
      await db.schema.dropTable("transcript_chunks").execute();
    },
  },
  // Workspace files become bytes (metadata row + content chunks) instead of UTF-8 text, which corrupted binary files.
  "0003_stored_file_bytes": {
    async up(db: Kysely<unknown>) {
      const path = dialect === "postgres" ? sql`text collate "C"` : sql`text`;
      await db.schema
        .createTable("stored_files")
        .addColumn("session_id", "text", (column) =>
          column.notNull().references("sessions.id").onDelete("cascade"),
        )
        .addColumn("path", path, (column) => column.notNull())
        .addColumn("size", "bigint", (column) => column.notNull())
        .addColumn("sha256", "text", (column) => column.notNull())
        .addColumn("modified_at", "text", (column) => column.notNull())
        .addPrimaryKeyConstraint("stored_files_pk", ["session_id", "path"])
        .execute();
      await db.schema
        .createTable("stored_file_chunks")
        .addColumn("session_id", "text", (column) => column.notNull())
        .addColumn("path", path, (column) => column.notNull())
        .addColumn("seq", "integer", (column) => column.notNull())
        .addColumn("bytes", dialect === "postgres" ? "bytea" : "blob", (column) => column.notNull())
        .addPrimaryKeyConstraint("stored_file_chunks_pk", ["session_id", "path", "seq"])
        .addForeignKeyConstraint(
          "stored_file_chunks_file_fk",
          ["session_id", "path"],
          "stored_files",
          ["session_id", "path"],
          (constraint) => constraint.onDelete("cascade"),
        )
        .execute();

      const typed = db as Kysely<WorkspaceFileTables>;
      let after: { session_id: string; path: string } | undefined;
      for (;;) {
        const from = after;
        const rows = await typed
          .selectFrom("workspace_files")
          .select(["session_id", "path", "content"])
          .$if(from !== undefined, (query) =>
            query.where((eb) =>
              eb(eb.refTuple("session_id", "path"), ">", eb.tuple(from!.session_id, from!.path)),
            ),
          )
          .orderBy("session_id")
          .orderBy("path")
          .limit(fileConversionBatch)
          .execute();
        for (const row of rows) {
          const bytes = Buffer.from(row.content, "utf8");
          await typed
            .insertInto("stored_files")
            .values({
              session_id: row.session_id,
              path: row.path,
              size: bytes.length,
              sha256: contentHash(bytes),
              modified_at: unknownModifiedAt,
            })
            .execute();
          for (let seq = 0; seq * fileConversionChunkBytes < bytes.length; seq++) {
            const start = seq * fileConversionChunkBytes;
            await typed
              .insertInto("stored_file_chunks")
              .values({
                session_id: row.session_id,
                path: row.path,
                seq,
                bytes: bytes.subarray(start, start + fileConversionChunkBytes),
              })
              .execute();
          }
        }
        if (rows.length < fileConversionBatch) break;
        after = rows.at(-1);
      }
      await db.schema.dropTable("workspace_files").execute();
    },
    async down(db: Kysely<unknown>) {
      // Going back decodes content as UTF-8, as the text column always did: binary files do not survive it.
      await db.schema
        .createTable("workspace_files")
        .addColumn("session_id", "text", (column) =>
          column.notNull().references("sessions.id").onDelete("cascade"),
        )
        .addColumn("path", "text", (column) => column.notNull())
        .addColumn("content", "text", (column) => column.notNull())
        .addPrimaryKeyConstraint("workspace_files_pk", ["session_id", "path"])
        .execute();
      const typed = db as Kysely<WorkspaceFileTables>;
      const files = await typed.selectFrom("stored_files").select(["session_id", "path"]).execute();
      for (const file of files) {
        const chunks = await typed
          .selectFrom("stored_file_chunks")
          .select("bytes")
          .where("session_id", "=", file.session_id)
          .where("path", "=", file.path)
          .orderBy("seq")
          .execute();
        const content = Buffer.concat(chunks.map((chunk) => chunk.bytes)).toString("utf8");
        await typed
          .insertInto("workspace_files")
          .values({ ...file, content })
          .execute();
      }
      await db.schema.dropTable("stored_file_chunks").execute();
      await db.schema.dropTable("stored_files").execute();
    },
  },
  // Symbolic links are stored as links (their target), not left out of the workspace.
  "0004_stored_file_links": {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable("stored_files").addColumn("link_target", "text").execute();
    },
    async down(db: Kysely<unknown>) {
      // Going back drops the links (their rows would read as files holding the target's text).
      await sql`delete from stored_files where link_target is not null`.execute(db);
      await db.schema.alterTable("stored_files").dropColumn("link_target").execute();
    },
  },
  // Sessions record their tenant; sessions stored before belong to none (only admin keys reach them).
  "0005_session_tenants": {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable("sessions").addColumn("tenant_id", "text").execute();
      await db.schema
        .createIndex("sessions_tenant_updated_at")
        .on("sessions")
        .columns(["tenant_id", "updated_at", "id"])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      // Going back forgets the tenants: every session then answers to every key.
      await db.schema.dropIndex("sessions_tenant_updated_at").execute();
      await db.schema.alterTable("sessions").dropColumn("tenant_id").execute();
    },
  },
  // Cluster mode's fenced session ownership (`cluster/session-leases.ts`); PostgreSQL only, as cluster mode is.
  "0006_session_leases": {
    async up(db: Kysely<unknown>) {
      if (dialect !== "postgres") return;
      // Tokens come from one sequence, so a token is never issued twice, even after a lease row is deleted.
      await db.schema
        .createTable("session_leases")
        .addColumn("session_id", "text", (column) => column.primaryKey())
        .addColumn("node_id", "text", (column) => column.notNull())
        .addColumn("fencing_token", "bigserial", (column) => column.notNull())
        .addColumn("expires_at", "timestamptz", (column) => column.notNull())
        .execute();
      await db.schema
        .createIndex("session_leases_expires_at")
        .on("session_leases")
        .column("expires_at")
        .execute();
    },
    async down(db: Kysely<unknown>) {
      if (dialect !== "postgres") return;
      await db.schema.dropTable("session_leases").execute();
    },
  },
  // Usage totals per tenant (`addTenantUsage`), kept when the tenant's sessions are deleted.
  "0007_tenant_usage": {
    async up(db: Kysely<unknown>) {
      // Floating point on both backends: exact for whole numbers up to 2^53, and cost is fractional.
      const number = dialect === "postgres" ? "double precision" : "real";
      let table = db.schema
        .createTable("tenant_usage")
        .addColumn("tenant_id", "text", (column) => column.primaryKey());
      for (const name of tenantUsageColumns)
        table = table.addColumn(name, number, (column) => column.notNull().defaultTo(0));
      await table.execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable("tenant_usage").execute();
    },
  },
  // The audit trail (`appendAuditRecords`), kept when sessions are deleted; read newest first, by tenant or session.
  "0008_audit_log": {
    async up(db: Kysely<unknown>) {
      // Byte order on both backends, so a page's cursor compares as the memory adapter's does.
      const ordered = dialect === "postgres" ? sql`text collate "C"` : sql`text`;
      await db.schema
        .createTable("audit_log")
        .addColumn("id", ordered, (column) => column.primaryKey())
        .addColumn("at", ordered, (column) => column.notNull())
        .addColumn("tenant_id", "text")
        .addColumn("session_id", "text")
        .addColumn("record", "text", (column) => column.notNull())
        .execute();
      await db.schema.createIndex("audit_log_at").on("audit_log").columns(["at", "id"]).execute();
      await db.schema
        .createIndex("audit_log_tenant_at")
        .on("audit_log")
        .columns(["tenant_id", "at", "id"])
        .execute();
      await db.schema
        .createIndex("audit_log_session_at")
        .on("audit_log")
        .columns(["session_id", "at", "id"])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable("audit_log").execute();
    },
  },
});

/** The counters of `tenant_usage`, one per field of `TenantUsageTotals`. */
export const tenantUsageColumns = [
  "input_tokens",
  "output_tokens",
  "cache_read_tokens",
  "cache_creation_tokens",
  "cost_usd",
  "sandbox_seconds",
] as const;

export interface MigrateSqlDatabaseOptions {
  /** The backend `db` talks to. */
  dialect: SqlDialect;
  /** Schema holding the migration bookkeeping tables (PostgreSQL only). */
  migrationTableSchema?: string;
  /** Stop after this migration (tests of upgrades from an older schema). @default the latest */
  upTo?: string;
}

/**
 * Applies every pending migration, each in a transaction of its own (on
 * PostgreSQL all of them in one), so a failed migration leaves the schema it
 * started from. Safe to call on an up-to-date database (no-op). Concurrent
 * callers on one database must be serialised by the caller (the PostgreSQL
 * adapter holds an advisory lock). Throws `PERSISTENCE_FAILED` naming the
 * failing migration.
 */
export async function migrateSqlDatabase(db: Kysely<SqlDatabase>, options: MigrateSqlDatabaseOptions) {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => atomic(migrations(options.dialect)) },
    migrationTableName: "agent_runtime_migration",
    migrationLockTableName: "agent_runtime_migration_lock",
    ...(options.migrationTableSchema === undefined
      ? {}
      : { migrationTableSchema: options.migrationTableSchema }),
  });
  const { error, results } =
    options.upTo === undefined ? await migrator.migrateToLatest() : await migrator.migrateTo(options.upTo);
  if (error !== undefined) {
    const failed = results?.find((result) => result.status === "Error")?.migrationName;
    throw new RuntimeError(
      "PERSISTENCE_FAILED",
      `database migration${failed === undefined ? "" : ` ${failed}`} failed: ${errorMessage(error)}`,
      { cause: error },
    );
  }
}

/**
 * Runs each step in a transaction where the migrator has not opened one
 * already (it does on PostgreSQL, not on SQLite).
 */
function atomic(steps: Record<string, Migration>): Record<string, Migration> {
  const inTransaction =
    (step: (db: Kysely<unknown>) => Promise<void>) =>
    (db: Kysely<unknown>): Promise<void> =>
      db.isTransaction ? step(db) : db.transaction().execute(step);
  return Object.fromEntries(
    Object.entries(steps).map(([name, { up, down }]) => [
      name,
      { up: inTransaction(up), ...(down ? { down: inTransaction(down) } : {}) },
    ]),
  );
}
