import { type Kysely, type Migration, Migrator, sql } from "kysely";
import { errorMessage, RuntimeError } from "../../errors.js";
import type { SqlDatabase } from "./sql-database.js";

/** Both transcript layouts, as migration 0002 moves rows between them. */
interface TranscriptTables {
  transcripts: { session_id: string; text: string };
  transcript_chunks: { session_id: string; seq: number; text: string };
}

/**
 * Schema history, oldest first. Entries are append-only: never edit a
 * migration that has shipped; add a new one. Keys sort in run order.
 */
const migrations: Record<string, Migration> = {
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
};

export interface MigrateSqlDatabaseOptions {
  /** Schema holding the migration bookkeeping tables (PostgreSQL only). */
  migrationTableSchema?: string;
  /** Stop after this migration (tests of upgrades from an older schema). @default the latest */
  upTo?: string;
}

/**
 * Applies every pending migration. Safe to call on an up-to-date database
 * (no-op). Concurrent callers on one database must be serialised by the
 * caller (the PostgreSQL adapter holds an advisory lock). Throws
 * `PERSISTENCE_FAILED` naming the failing migration.
 */
export async function migrateSqlDatabase(db: Kysely<SqlDatabase>, options: MigrateSqlDatabaseOptions = {}) {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
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
