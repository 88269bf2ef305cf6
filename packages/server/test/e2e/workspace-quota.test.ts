import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSqlitePersistenceAdapter } from "../../src/index.js";
import { waitUntil } from "../support/fixture-session.js";
import { restClient } from "../support/rest.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import {
  bashReply,
  hashRule,
  repeatedBytesCommand,
  repeatTo,
  sha256,
} from "../support/workspace-fixtures.js";
import { hashesInSandbox, hashesViaApi, runTurn } from "../support/workspace-probe.js";

/**
 * A file past the per-file storage quota is never silently reverted (issue
 * 14): `grow.bin` is stored at 9 bytes, then the agent makes it 2 MiB with a
 * 1 MiB quota, and the sandbox is torn down when idle. The next sandbox
 * (whose disk image survived) still holds the 2 MiB, and the files API
 * serves it too, or else the session was told with `STORAGE_QUOTA` naming
 * the file and the API serves no bytes for it (never an older or partial copy).
 */
const PATH = "grow.bin";
const V1 = Buffer.from("version 1");
const BLOCK = randomBytes(64 * 1024);
const V2 = repeatTo(BLOCK, 2 * 1024 * 1024);

describe("a file over the per-file storage quota", () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({
      idleTimeoutMs: 3_000,
      runtime: { maxPersistedFileBytes: 1024 * 1024 },
      script: {
        rules: [
          {
            name: "v1",
            match: { prompt: "Write version 1" },
            replies: [bashReply(`printf '%s' '${V1.toString("utf8")}' > ${PATH}`), "Written."],
          },
          {
            name: "v2",
            match: { prompt: "Write version 2" },
            replies: [bashReply(repeatedBytesCommand(BLOCK, V2.length, PATH)), "Written."],
          },
          hashRule(),
        ],
      },
    });
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it("is never reverted to its older stored copy after a teardown", async () => {
    const { url } = server;
    const sessionId = await restClient(url).createSession();
    const recorder = new SocketRecorder(url);
    await recorder.join(sessionId, 0);
    try {
      expect((await runTurn(url, recorder, sessionId, "Write version 1")).stopReason).toBe("end_turn");
      await waitUntil(async () => (await storedPaths(server, sessionId)).includes(PATH));
      expect((await runTurn(url, recorder, sessionId, "Write version 2")).stopReason).toBe("end_turn");
      await recorder.waitFor(
        (e) => e.type === "session:status" && e.runtime.sandboxStatus === "terminated",
        30_000,
      );

      const served = (await hashesViaApi(url, sessionId, [PATH]))[PATH];
      const warned = recorder.events.some(
        (e) => e.type === "error" && e.code === "STORAGE_QUOTA" && e.message.includes(PATH),
      );
      if (served !== sha256(V2)) {
        expect.soft(warned, "a STORAGE_QUOTA error naming the file that is not stored").toBe(true);
        expect.soft(served, "the files API serves the newest bytes or none").toMatch(/^(absent|HTTP \d+)$/);
      }
      const inside = await hashesInSandbox(url, recorder, sessionId, [PATH]);
      expect
        .soft(
          { ...inside, errors: inside.errors.filter((error) => !error.startsWith("STORAGE_QUOTA")) },
          "next sandbox",
        )
        .toEqual({ stopReason: "end_turn", errors: [], hashes: { [PATH]: sha256(V2) } });
    } finally {
      recorder.close();
    }
  });
});

/** Paths the server has stored for the session (read through a second connection to its SQLite file). */
async function storedPaths(server: TestServer, sessionId: string): Promise<string[]> {
  const reader = createSqlitePersistenceAdapter({ filename: join(server.dataDir, "agent-runtime.sqlite") });
  await reader.init();
  try {
    return (await reader.listWorkspaceFiles(sessionId)).map((file) => file.path);
  } finally {
    await reader.close();
  }
}
