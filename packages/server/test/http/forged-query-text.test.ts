import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentServer, createAgentRuntime, createAgentServer } from "../../src/index.js";
import { createPostgresPersistenceAdapter } from "../../src/persistence/postgres/postgres-persistence-adapter.js";
import { FakeSandboxProvider } from "../../src/testing/index.js";
import {
  dropSchema,
  postgresUrl,
  skipPostgres,
  uniqueSchemaName,
} from "../persistence/postgres-test-schema.js";

/**
 * Hostile query text against PostgreSQL: a forged page cursor or a filter
 * carrying a NUL character (which PostgreSQL's text cannot hold) is the
 * client's mistake, answered 400 `VALIDATION_FAILED`, never a storage
 * failure.
 */
const ADMIN = "admin-key";
const forged = (fields: unknown) => Buffer.from(JSON.stringify(fields)).toString("base64url");

describe.skipIf(skipPostgres)("forged query text over PostgreSQL", () => {
  const schema = uniqueSchemaName("forged_query");
  let server: AgentServer;
  let url: string;
  beforeAll(async () => {
    const runtime = createAgentRuntime({
      persistence: createPostgresPersistenceAdapter({ connectionString: postgresUrl, schema }),
      sandbox: new FakeSandboxProvider(() => undefined),
      agents: [{ id: "test", name: "Test agent" }],
      logger: pino({ level: "silent" }),
      idleTimeoutMs: 0,
    });
    server = await createAgentServer({ runtime, apiKeys: [ADMIN], rateLimit: false });
    url = await server.listen({ port: 0 });
  });
  afterAll(async () => {
    await server?.close();
    await dropSchema(schema);
  });

  const get = async (path: string) => {
    const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    return { status: response.status, body: (await response.json()) as { error?: { code: string } } };
  };

  it.each([
    ["an audit cursor", `/audit?cursor=${forged(["2026-01-01T00:00:00.000Z\u0000", "x"])}`],
    ["an audit cursor's id", `/audit?cursor=${forged(["2026-01-01T00:00:00.000Z", "\u0000"])}`],
    ["an audit session filter", "/audit?sessionId=a%00b"],
    ["a session list cursor", `/sessions?cursor=${forged(["2026-01-01T00:00:00.000Z", "s\u0000"])}`],
    ["a session id", "/sessions/a%00b"],
    ["a session id of a sub-route", "/sessions/a%00b/blocks"],
  ])("answers 400 for a NUL character in %s", async (_what, path) => {
    const { status, body } = await get(path);
    expect({ status, code: body.error?.code }).toEqual({ status: 400, code: "VALIDATION_FAILED" });
  });

  it("still pages with the cursors it issued", async () => {
    const { status } = await get("/audit?limit=1");
    expect(status).toBe(200);
  });
});
