import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  dropDatabase,
  postgresUrl,
  skipPostgres,
  uniqueSchemaName,
  withClient,
} from "./postgres-test-schema.js";

const execFileAsync = promisify(execFile);
const serverDist = fileURLToPath(new URL("../../dist/index.js", import.meta.url));

/**
 * PostgreSQL ending the adapter's idle connections (a restart, a failover,
 * an administrator) is an error of those connections, not of the server: the
 * process keeps running and the next query opens a new one. Run in a process
 * of its own, where an unhandled pool error would end it.
 */
describe.skipIf(skipPostgres)("PostgreSQL adapter when the database ends its connections", () => {
  // A database of its own: the test ends every connection to it, and no one else's.
  const name = uniqueSchemaName("connection_loss");
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  beforeAll(async () => {
    await withClient((client) => client.query(`create database ${client.escapeIdentifier(name)}`));
  });
  afterAll(async () => {
    await dropDatabase(name);
  });

  it("survives the loss of its idle connections and reconnects", async () => {
    const script = `
      import { createPostgresPersistenceAdapter } from ${JSON.stringify(serverDist)};
      import pg from "pg";
      const adapter = createPostgresPersistenceAdapter({ connectionString: ${JSON.stringify(url.toString())} });
      await adapter.init();
      await adapter.listSessions({ limit: 1 });
      const admin = new pg.Client({ connectionString: ${JSON.stringify(postgresUrl)} });
      await admin.connect();
      await admin.query("select pg_terminate_backend(pid) from pg_stat_activity where datname = $1", [${JSON.stringify(name)}]);
      await admin.end();
      await new Promise((resolve) => setTimeout(resolve, 300));
      const sessions = await adapter.listSessions({ limit: 1 });
      await adapter.close();
      console.log("alive", sessions.length);
    `;
    const { stdout } = await execFileAsync(process.execPath, ["--input-type=module", "-e", script], {
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
      timeout: 30_000,
    });
    expect(stdout.trim()).toBe("alive 0");
  });
});
