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

/**
 * Creates database `name` with a linguistic default collation (ICU `en-US`,
 * where "B" sorts after "b" and "～" before "a"), as many installations have,
 * unlike the test database. Resolves to its URL.
 */
export async function createLinguisticDatabase(name: string): Promise<string> {
  await withClient((client) =>
    client.query(
      `create database ${client.escapeIdentifier(name)} template template0 encoding 'UTF8' locale_provider icu icu_locale 'en-US' locale 'C.UTF-8'`,
    ),
  );
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropDatabase(name: string): Promise<void> {
  await withClient((client) =>
    client.query(`drop database if exists ${client.escapeIdentifier(name)} with (force)`),
  );
}
