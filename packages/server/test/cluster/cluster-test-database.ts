import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import type { SqlDatabase } from "../../src/persistence/sql/sql-database.js";
import { migrateSqlDatabase } from "../../src/persistence/sql/sql-migrations.js";
import {
  dropDatabase,
  postgresUrl,
  uniqueSchemaName,
  withClient,
} from "../persistence/postgres-test-schema.js";

/** A database of its own for one test file, migrated to the latest schema. */
export interface ClusterTestDatabase {
  readonly url: string;
  /** A new connection pool on the database, as one node of the cluster has (close it with `destroy()`). */
  connect(): Kysely<SqlDatabase>;
  /** Drops the database and closes every pool `connect()` opened. */
  drop(): Promise<void>;
}

export async function createClusterTestDatabase(purpose: string): Promise<ClusterTestDatabase> {
  const name = uniqueSchemaName(purpose);
  await withClient((client) => client.query(`create database ${client.escapeIdentifier(name)}`));
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  const pools: Kysely<SqlDatabase>[] = [];
  const connect = () => {
    const pool = new pg.Pool({ connectionString: url.toString(), max: 4 });
    // Dropping the database ends the pool's idle connections; that is expected, not an error of the test.
    pool.on("error", () => undefined);
    const db = new Kysely<SqlDatabase>({ dialect: new PostgresDialect({ pool }) });
    pools.push(db);
    return db;
  };
  await migrateSqlDatabase(connect(), { dialect: "postgres" });
  return {
    url: url.toString(),
    connect,
    async drop() {
      // Dropping first ends the pools' connections, so a test that failed with a transaction open cannot hang here.
      await dropDatabase(name);
      await Promise.allSettled(pools.map((db) => db.destroy()));
    },
  };
}
