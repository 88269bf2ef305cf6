import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type MockModel, startMockModel } from "@agent-runtime/mock-model";
import type { EventsResponse } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createPostgresPersistenceAdapter,
  createSqlitePersistenceAdapter,
  type PersistenceAdapter,
} from "../../src/index.js";
import { postgresUrl, skipPostgres, withClient } from "../persistence/postgres-test-schema.js";
import { startFixtureSession } from "../support/fixture-session.js";
import { restClient } from "../support/rest.js";
import { sandboxPids } from "../support/sandbox-processes.js";
import { type ServerProcess, startServerProcess } from "../support/server-process.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { bashReply, createWorkspaceFixtures, fixtureRules } from "../support/workspace-fixtures.js";
import {
  expectedView,
  hashesInSandbox,
  hashesViaApi,
  sandboxPaths,
  sizesInIndex,
  viewedPaths,
} from "../support/workspace-probe.js";

/**
 * Workspace durability across a crash (issue 14): `agent-runtime serve` in
 * its own process (SQLite, and PostgreSQL; real sandboxes, the CLI's default 30 s sync
 * interval) is killed with SIGKILL mid-turn, right after the agent changed
 * the workspace (whether or not its watcher reported it yet), and started again on the same data folder. Files written
 * before the crash are in the index and byte-identical (through the API and
 * in the next sandbox), a file deleted before it stays deleted, the turn that
 * was running is closed with a `SERVER_RESTARTED` error, and the next
 * message works. Failed checks are soft, so one run shows all of them.
 */
const fixtures = createWorkspaceFixtures();
const CRASH_PROMPT = "Change the fixtures and keep working";
/** What the crashing turn changes: a new copy of the random bytes, and a line appended to the UTF-8 file. */
const changed = new Map(fixtures.files)
  .set("late/copy.bin", fixtures.files.get("random.bin")!)
  .set("notes/utf8.txt", Buffer.concat([fixtures.files.get("notes/utf8.txt")!, Buffer.from("v2\n")]));
const afterCrash = { ...fixtures, files: changed };
const expected = expectedView(afterCrash);
const paths = viewedPaths(afterCrash);

/** Where the server process stores: SQLite in its data folder, or a PostgreSQL database of the test's own. */
interface Store {
  readonly name: string;
  readonly skip: boolean;
  /** `serve` flags that select it. */
  readonly args: () => Promise<string[]>;
  /** An adapter reading what the (killed) server stored. */
  readonly reader: (dataDir: string) => PersistenceAdapter;
  readonly drop?: () => Promise<void>;
}

const database = `agent_runtime_crash_${process.pid}_${randomBytes(4).toString("hex")}`;
const databaseUrl = postgresUrl.replace(/\/[^/]*$/, `/${database}`);
const stores: Store[] = [
  {
    name: "SQLite",
    skip: false,
    args: async () => [],
    reader: (dataDir) => createSqlitePersistenceAdapter({ filename: join(dataDir, "agent-runtime.sqlite") }),
  },
  {
    name: "PostgreSQL",
    skip: skipPostgres,
    args: async () => {
      await withClient((client) => client.query(`create database ${client.escapeIdentifier(database)}`));
      return ["--database", databaseUrl];
    },
    reader: () => createPostgresPersistenceAdapter({ connectionString: databaseUrl }),
    drop: () =>
      withClient((client) =>
        client.query(`drop database if exists ${client.escapeIdentifier(database)} with (force)`),
      ),
  },
];

describe.each(stores)("workspace durability across a SIGKILL of the server mid-turn, on $name", (store) => {
  let mock: MockModel;
  let dataDir: string;
  let server: ServerProcess | undefined;
  let sessionId: string | undefined;
  let args: string[] = [];

  beforeAll(async () => {
    mock = await startMockModel({
      script: {
        rules: [
          ...fixtureRules(fixtures),
          {
            name: "crash",
            match: { prompt: CRASH_PROMPT },
            replies: [
              bashReply("mkdir -p late && cp random.bin late/copy.bin && printf 'v2\\n' >> notes/utf8.txt"),
              { steps: [`Working ${"and working ".repeat(2_000)}done.`], chunkDelayMs: 20, chunkSize: 4 },
            ],
          },
        ],
      },
    });
    dataDir = await mkdtemp(join(tmpdir(), "agent-runtime-test-"));
  });
  afterAll(async () => {
    await server?.kill("SIGTERM");
    // Sandbox processes a killed server left behind (they die with it; this is a safety net).
    for (const pid of sessionId ? sandboxPids(`session-${sessionId}`) : []) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Gone meanwhile.
      }
    }
    await mock?.close();
    await rm(dataDir, { recursive: true, force: true });
    if (!store.skip) await store.drop?.();
  });

  it.skipIf(store.skip)(
    "keeps every file written before the crash, closes the crashed turn, and the next message works",
    async () => {
      args = await store.args();
      server = await startServerProcess({ dataDir, modelUrl: mock.url, args });
      const session = await startFixtureSession(server.url, fixtures);
      sessionId = session.sessionId;
      const { recorder } = session;
      const from = recorder.events.at(-1)!.seq;
      expect((await restClient(server.url).send(sessionId, CRASH_PROMPT)).status).toBe(202);
      const wrote = await recorder.waitFor(
        (e) => e.seq > from && e.type === "session:block:complete" && e.block.type === "tool_result",
        60_000,
      );
      await recorder.waitFor((e) => e.seq > wrote.seq && e.type === "session:block:delta", 30_000);
      expect(recorder.events.some((e) => e.seq > from && e.type === "session:turn:completed")).toBe(false);
      await server.kill("SIGKILL");
      recorder.close();

      const storedLastSeq = await storedSessionLastSeq(store.reader(dataDir), sessionId);
      server = await startServerProcess({ dataDir, modelUrl: mock.url, args });
      const { url } = server;

      // The crashed turn is closed, as events after the stored cursor and in the session's blocks.
      const replay = await fetch(`${url}/sessions/${sessionId}/events?after=${storedLastSeq}`);
      const events =
        replay.status === 200 ? ((await replay.json()) as EventsResponse).events : `HTTP ${replay.status}`;
      expect.soft(events, "events after the stored cursor").toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            type: "session:block:complete",
            block: expect.objectContaining({ type: "error", code: "SERVER_RESTARTED" }),
          }),
          expect.objectContaining({ type: "session:turn:completed", stopReason: "error" }),
        ]),
      );
      const data = await restClient(url).session(sessionId);
      expect
        .soft(
          data.blocks.flatMap((b) => (b.type === "error" ? [b.code] : [])),
          "error blocks of the session",
        )
        .toContain("SERVER_RESTARTED");
      expect.soft(data.runtime.busy, "busy after the restart").toBe(false);

      // Loading the crashed session starts its sandbox, which kept the workspace, and re-scans it.
      await expect
        .poll(() => sizesInIndex(url, sessionId, paths), { timeout: 30_000, interval: 250 })
        .toEqual(expected.sizes);
      await expect
        .poll(() => hashesViaApi(url, sessionId, paths), { timeout: 30_000, interval: 500 })
        .toEqual(expected.hashes);
      const next = new SocketRecorder(url);
      try {
        await next.join(sessionId);
        expect
          .soft(
            await hashesInSandbox(url, next, sessionId, sandboxPaths(afterCrash)),
            "next message, in its sandbox",
          )
          .toEqual({ stopReason: "end_turn", errors: [], hashes: expected.inSandbox });
      } finally {
        next.close();
      }
      expect.soft(await sizesInIndex(url, sessionId, paths), "index, next sandbox").toEqual(expected.sizes);
    },
  );
});

/** The `lastSeq` the crashed server had stored for the session (read through a second connection). */
async function storedSessionLastSeq(reader: PersistenceAdapter, sessionId: string): Promise<number> {
  await reader.init?.();
  try {
    return (await reader.loadSession(sessionId))?.lastSeq ?? 0;
  } finally {
    await reader.close?.();
  }
}
