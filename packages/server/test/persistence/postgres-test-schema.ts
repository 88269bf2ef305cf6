import { randomBytes } from "node:crypto";
import pg from "pg";

/** The database the development and CI machines run (trust auth). */
export const postgresUrl = "postgres://postgres@127.0.0.1:5432/test";

/** Set `AGENT_RUNTIME_SKIP_POSTGRES=1` where no PostgreSQL runs; otherwise a failed connection fails the tests. */
export const skipPostgres = process.env.AGENT_RUNTIME_SKIP_POSTGRES === "1";

/** A schema name no other test run uses. */
export function uniqueSchemaName(purpose: string): string {
  return `agent_runtime_test_${purpose}_${process.pid}_${randomBytes(4).toString("hex")}`;
}

export async function withClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function dropSchema(schema: string): Promise<void> {
  await withClient((client) =>
    client.query(`drop schema if exists ${client.escapeIdentifier(schema)} cascade`),
  );
}
