import { Kysely, PostgresDialect, sql } from "kysely";
import { z } from "zod";
import { validateInput } from "../../profiles/validate-input.js";
import type { BuiltInPersistenceAdapter } from "../built-in-persistence-adapter.js";
import type { SqlDatabase } from "../sql/sql-database.js";
import { migrateSqlDatabase } from "../sql/sql-migrations.js";
import { createSqlPersistenceAdapter, type SessionWriteFence } from "../sql/sql-persistence-adapter.js";

const optionsSchema = z.object({
  connectionString: z.string().min(1),
  schema: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, "lower-case letters, digits and '_' only, not starting with a digit")
    .optional(),
  maxConnections: z.number().int().min(2).default(10),
  fence: z.custom<SessionWriteFence>((value) => typeof value === "function").optional(),
});

export interface PostgresPersistenceAdapterOptions {
  /** e.g. `postgres://user@host:5432/db`. */
  connectionString: string;
  /**
   * Schema holding the tables; created at `init()` if missing.
   * @default the connection's search path (normally `public`)
   */
  schema?: string;
  /**
   * Pool size; at least 2, as migration holds one connection for its lock while it migrates on another.
   * @default 10
   */
  maxConnections?: number;
  /**
   * Checks every write of a session's data inside its transaction (cluster
   * mode: the node's fencing token, see `ClusterOwnership.fence`).
   * @default none: writes are not fenced
   */
  fence?: SessionWriteFence;
}

/**
 * PostgreSQL storage. No connection is opened, and the `pg` driver is not
 * even loaded, before `init()`, which creates the schema if needed and
 * migrates it while holding a session-level `pg_advisory_lock` keyed by the
 * schema name, so several servers may start at once against one database. Throws `VALIDATION_FAILED` on invalid
 * options; `init()` rejects with `PERSISTENCE_FAILED` when the database is
 * unreachable.
 */
export function createPostgresPersistenceAdapter(
  options: PostgresPersistenceAdapterOptions,
): BuiltInPersistenceAdapter {
  const { connectionString, schema, maxConnections, fence } = validateInput(
    optionsSchema,
    options,
    "PostgreSQL persistence options",
  );
  const root = new Kysely<SqlDatabase>({
    dialect: new PostgresDialect({
      pool: async () => {
        const { default: pg } = await import("pg");
        const pool = new pg.Pool({ connectionString, max: maxConnections });
        // The database ending an idle connection (restart, failover, administrator) drops it from the pool;
        // the next query opens another, and a query that fails says so. Unheard, it would end the process.
        pool.on("error", () => undefined);
        return pool;
      },
    }),
  });
  const db = schema === undefined ? root : root.withSchema(schema);

  async function migrate(): Promise<void> {
    const lockKey = `agent-runtime:migrations:${schema ?? ""}`;
    await root.connection().execute(async (lockConnection) => {
      await sql`select pg_advisory_lock(hashtext(${lockKey}))`.execute(lockConnection);
      try {
        if (schema !== undefined) await root.schema.createSchema(schema).ifNotExists().execute();
        await migrateSqlDatabase(db, {
          dialect: "postgres",
          ...(schema === undefined ? {} : { migrationTableSchema: schema }),
        });
      } finally {
        await sql`select pg_advisory_unlock(hashtext(${lockKey}))`.execute(lockConnection);
      }
    });
  }

  return createSqlPersistenceAdapter({ label: "postgres", db, migrate, ...(fence ? { fence } : {}) });
}
