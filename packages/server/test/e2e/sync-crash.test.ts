import { createHash, randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type MockModel, startMockModel } from "@agent-runtime/mock-model";
import type { Block } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSqlitePersistenceAdapter } from "../../src/index.js";
import { waitUntil } from "../support/fixture-session.js";
import { unmountAllBelow } from "../support/mounts.js";
import { restClient } from "../support/rest.js";
import { sandboxPids } from "../support/sandbox-processes.js";
import { type ServerProcess, startServerProcess } from "../support/server-process.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import {
  ABSENT,
  fileUrl,
  hashesViaApi,
  putTextFile,
  runTurn,
  sizesInIndex,
} from "../support/workspace-probe.js";

/**
 * `POST /sessions/:id/sync` answers once what the session holds is durable:
 * `agent-runtime serve` in its own process (SQLite, real sandboxes, the
 * CLI's 30 s sync interval, so no periodic sync runs meanwhile) is killed
 * with SIGKILL the moment the sync answered 200, right after the workspace
 * changed through the API (a new binary file, a rewritten one, a deleted
 * one) and a turn added to the transcript. The database then holds every
 * byte of it, and a server started again on the same database, with a fresh
 * sandbox folder (so nothing can come from the killed server's sandbox
 * disk), serves the same files and blocks and the agent resumes its
 * conversation from the stored transcript.
 */

const WORD = `word-${randomBytes(6).toString("hex")}`;
const LATE = randomBytes(1024 * 1024);
const NOTES_V2 = "second version, written through the API after the last turn\n";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describe("sync durability across a SIGKILL right after the 200", () => {
  let mock: MockModel;
  let root: string;
  let server: ServerProcess | undefined;
  let sessionId: string | undefined;

  beforeAll(async () => {
    mock = await startMockModel({
      script: {
        rules: [
          {
            name: "write",
            match: { prompt: "Write the files" },
            replies: [
              {
                tool: "Bash",
                input: {
                  command: "printf 'first\\n' > notes.txt && printf 'bye\\n' > gone.txt",
                  description: "Write",
                },
              },
              "Written.",
            ],
          },
          { name: "remember", match: { prompt: "Remember the word" }, reply: "Remembered." },
          { name: "recall", match: { prompt: "What was the word" }, reply: "I recall it." },
        ],
      },
    });
    root = await mkdtemp(join(tmpdir(), "agent-runtime-sync-crash-"));
    // Sandboxes run as other users, which must be able to pass through it to their data folders.
    await chmod(root, 0o711);
  });

  afterAll(async () => {
    await server?.kill("SIGTERM");
    // Sandbox processes the killed server left behind (they die with it; this is a safety net).
    for (const pid of sessionId ? sandboxPids(`session-${sessionId}`) : []) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Gone meanwhile.
      }
    }
    await mock?.close();
    // The killed server's sandbox disk stays mounted (a server started on its folder would clean it up).
    if (root) unmountAllBelow(root);
    await rm(root, { recursive: true, force: true });
  });

  it("keeps every byte the sync covered: workspace files and transcript, read back from the database and through a restarted server", async () => {
    const database = join(root, "agent-runtime.sqlite");
    const first = join(root, "first");
    const second = join(root, "second");
    await mkdir(first);
    await mkdir(second);
    const args = ["--database", database];
    server = await startServerProcess({ dataDir: first, modelUrl: mock.url, args });
    const { url } = server;
    const id = await restClient(url).createSession();
    sessionId = id;
    const recorder = new SocketRecorder(url);
    await recorder.join(id, 0);
    expect((await runTurn(url, recorder, id, "Write the files")).stopReason).toBe("end_turn");
    expect((await runTurn(url, recorder, id, `Remember the word ${WORD}`)).stopReason).toBe("end_turn");

    // After the last turn (and its own sync), the workspace changes through the API while the sandbox runs.
    const put = await fetch(fileUrl(url, id, "late.bin"), {
      method: "PUT",
      headers: { "content-type": "application/octet-stream" },
      body: LATE,
    });
    expect(put.status).toBe(204);
    await putTextFile(url, id, "notes.txt", NOTES_V2);
    expect((await fetch(fileUrl(url, id, "gone.txt"), { method: "DELETE" })).status).toBe(204);
    const paths = ["late.bin", "notes.txt", "gone.txt"];
    const expectedSizes = {
      "late.bin": LATE.length,
      "notes.txt": Buffer.byteLength(NOTES_V2),
      "gone.txt": ABSENT,
    };
    await waitUntil(
      async () => JSON.stringify(await sizesInIndex(url, id, paths)) === JSON.stringify(expectedSizes),
    );
    const before = await restClient(url).session(id);
    expect(before.runtime.sandboxStatus).toBe("running");

    const synced = await fetch(`${url}/sessions/${id}/sync`, { method: "POST" });
    expect(synced.status).toBe(200);
    await server.kill("SIGKILL");
    server = undefined;
    recorder.close();

    // What the database holds, read by a connection of the test's own.
    const reader = createSqlitePersistenceAdapter({ filename: database });
    await reader.init?.();
    try {
      expect(sha256((await reader.loadWorkspaceFile(id, "late.bin")) ?? new Uint8Array())).toBe(sha256(LATE));
      expect(
        Buffer.from((await reader.loadWorkspaceFile(id, "notes.txt")) ?? new Uint8Array()).toString(),
      ).toBe(NOTES_V2);
      expect(await reader.loadWorkspaceFile(id, "gone.txt")).toBeNull();
      expect(await reader.loadTranscript(id)).toContain(WORD);
      expect(blockIds(await reader.loadBlocks(id))).toEqual(blockIds(before.blocks));
      expect((await reader.loadSession(id))?.lastSeq).toBeGreaterThanOrEqual(before.lastSeq);
    } finally {
      await reader.close?.();
    }

    // A server on the same database, with no sandbox disk of the first one to fall back on.
    server = await startServerProcess({ dataDir: second, modelUrl: mock.url, args });
    const restarted = server.url;
    const after = await restClient(restarted).session(id);
    expect(after.blocks).toEqual(before.blocks);
    expect(await hashesViaApi(restarted, id, paths)).toEqual({
      "late.bin": sha256(LATE),
      "notes.txt": sha256(Buffer.from(NOTES_V2)),
      "gone.txt": ABSENT,
    });
    const next = new SocketRecorder(restarted);
    try {
      await next.join(id);
      const recalled = await runTurn(restarted, next, id, "What was the word?");
      expect(recalled.stopReason).toBe("end_turn");
    } finally {
      next.close();
    }
    // The agent resumed from the stored transcript: the model is sent the earlier turn with its word.
    const recall = mock.requests.filter((request) => request.matched === "recall");
    expect(recall.length).toBeGreaterThan(0);
    expect(JSON.stringify(recall[0]?.messages)).toContain(WORD);
    expect(await hashesViaApi(restarted, id, paths)).toEqual({
      "late.bin": sha256(LATE),
      "notes.txt": sha256(Buffer.from(NOTES_V2)),
      "gone.txt": ABSENT,
    });
  }, 240_000);
});

function blockIds(blocks: readonly Block[]): string[] {
  return blocks.map((block) => block.id);
}
