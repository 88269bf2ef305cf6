import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { Kysely, SqliteDialect } from "kysely";
import { z } from "zod";
import { validateInput } from "../../profiles/validate-input.js";
import type { BuiltInPersistenceAdapter } from "../built-in-persistence-adapter.js";
import type { SqlDatabase } from "../sql/sql-database.js";
import { migrateSqlDatabase } from "../sql/sql-migrations.js";
import { createSqlPersistenceAdapter } from "../sql/sql-persistence-adapter.js";

const optionsSchema = z.object({
  filename: z.string().min(1),
  busyTimeoutMs: z.number().int().nonnegative().default(5_000),
});

export interface SqlitePersistenceAdapterOptions {
  /** Database file; missing parent folders are created at `init()`. `:memory:` keeps it in memory. */
  filename: string;
  /**
   * How long a write waits for another process's lock before failing.
   * @default 5000
   */
  busyTimeoutMs?: number;
}

/**
 * The embedded default: one SQLite file (WAL journal, foreign keys on,
 * `busy_timeout` set), migrated to the latest schema at `init()`. Nothing is
 * opened, and the `better-sqlite3` driver is not even loaded, before `init()`. Throws `VALIDATION_FAILED` on invalid options.
 * Several adapters (or processes) may open the same file; writes serialise.
 */
export function createSqlitePersistenceAdapter(
  options: SqlitePersistenceAdapterOptions,
): BuiltInPersistenceAdapter {
  const { filename, busyTimeoutMs } = validateInput(optionsSchema, options, "SQLite persistence options");
  const db = new Kysely<SqlDatabase>({
    dialect: new SqliteDialect({
      database: async () => {
        if (filename !== ":memory:") await mkdir(dirname(filename), { recursive: true });
        const { default: Database } = await import("better-sqlite3");
        const database = new Database(filename, { timeout: busyTimeoutMs });
        database.pragma("journal_mode = WAL");
        database.pragma("foreign_keys = ON");
        return database;
      },
    }),
  });
  return createSqlPersistenceAdapter({
    label: "sqlite",
    db,
    migrate: () => migrateSqlDatabase(db, { dialect: "sqlite" }),
  });
}
