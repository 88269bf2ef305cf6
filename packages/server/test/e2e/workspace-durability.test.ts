import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type MockModel, startMockModel } from "@agent-runtime/mock-model";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresPersistenceAdapter, type PersistenceAdapter } from "../../src/index.js";
import {
  dropSchema,
  postgresUrl,
  skipPostgres,
  uniqueSchemaName,
} from "../persistence/postgres-test-schema.js";
import { startFixtureSession } from "../support/fixture-session.js";
import { restClient } from "../support/rest.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer } from "../support/test-server.js";
import {
  createWorkspaceFixtures,
  fixtureRules,
  type ShellTool,
  sha256,
} from "../support/workspace-fixtures.js";
import {
  expectedView,
  hashesInArchive,
  hashesInSandbox,
  hashesViaApi,
  linkTargetsInArchive,
  linkTargetsInIndex,
  sandboxPaths,
  sizesInIndex,
  viewedPaths,
} from "../support/workspace-probe.js";

/**
 * Workspace durability (issue 14) with the real agent, real sandboxes and
 * real storage: every file of the round-trip table (random binary, 3 MB and
 * 50 MB files, UTF-8, a 224-byte name, odd names, nested folders, an empty
 * file, a file written through the API, symbolic links in and out of the
 * workspace, a deleted file) comes back byte for
 * byte, in the index, through the files API and the workspace archive while
 * no sandbox runs, and in the next sandbox as the agent reads it, after (a) an idle teardown and
 * (b) a graceful restart on the same data, on SQLite and on PostgreSQL, with
 * Claude Code and with OpenCode.
 * Failed checks are soft, so one run shows every view that differs.
 */
const fixtures = createWorkspaceFixtures();
const expected = expectedView(fixtures);
const paths = viewedPaths(fixtures);

interface Backend {
  readonly name: string;
  /** The agent that writes and reads the files. */
  readonly agent: { readonly architecture: "claude-agent-sdk" | "opencode"; readonly shell: ShellTool };
  readonly skip: boolean;
  /** A new adapter over this backend's store (one per server start). */
  readonly persistence: (schema: string) => PersistenceAdapter | undefined;
  /** Removes what the tests stored. */
  readonly drop?: (schema: string) => Promise<void>;
}

const claudeCode = { architecture: "claude-agent-sdk", shell: "Bash" } as const;
const openCode = { architecture: "opencode", shell: "bash" } as const;

/** Claude Code on both stores; OpenCode on SQLite (what is stored does not depend on the agent). */
const backends: Backend[] = [
  { name: "SQLite with Claude Code", agent: claudeCode, skip: false, persistence: () => undefined },
  { name: "SQLite with OpenCode", agent: openCode, skip: false, persistence: () => undefined },
  {
    name: "PostgreSQL with Claude Code",
    agent: claudeCode,
    skip: skipPostgres,
    persistence: (schema) => createPostgresPersistenceAdapter({ connectionString: postgresUrl, schema }),
    drop: dropSchema,
  },
];

describe.each(backends)("workspace durability on $name", (backend) => {
  let mock: MockModel;
  const schema = uniqueSchemaName("durability");
  const storage = () => {
    const persistence = backend.persistence(schema);
    return persistence ? { persistence } : {};
  };

  beforeAll(async () => {
    mock = await startMockModel({ script: { rules: fixtureRules(fixtures, backend.agent.shell) } });
  });
  afterAll(async () => {
    await mock?.close();
    if (!backend.skip) await backend.drop?.(schema);
  });

  /** Every view of the workspace (the index again once the next sandbox runs); the sandbox view runs a turn. */
  async function expectDurable(url: string, sessionId: string) {
    expect.soft(await sizesInIndex(url, sessionId, paths), "index").toEqual(expected.sizes);
    expect
      .soft(await linkTargetsInIndex(url, sessionId, fixtures.links.keys()), "links in the index")
      .toEqual(expected.linkTargets);
    expect
      .soft(await linkTargetsInArchive(url, sessionId, fixtures.links.keys()), "links in the archive")
      .toEqual(expected.linkTargets);
    expect.soft(await hashesViaApi(url, sessionId, paths), "files API, no sandbox").toEqual(expected.hashes);
    expect.soft(await hashesInArchive(url, sessionId, paths), "archive, no sandbox").toEqual(expected.hashes);
    const recorder = new SocketRecorder(url);
    try {
      await recorder.join(sessionId);
      expect
        .soft(await hashesInSandbox(url, recorder, sessionId, sandboxPaths(fixtures)), "next sandbox")
        .toEqual({ stopReason: "end_turn", errors: [], hashes: expected.inSandbox });
    } finally {
      recorder.close();
    }
    expect.soft(await sizesInIndex(url, sessionId, paths), "index, next sandbox").toEqual(expected.sizes);
  }

  it.skipIf(backend.skip)("(a) after an idle teardown every file is byte-identical", async () => {
    const server = await startTestServer({ mock, idleTimeoutMs: 3_000, ...storage() });
    try {
      const { sessionId, recorder, writtenHashes } = await startFixtureSession(server.url, fixtures, {
        architecture: backend.agent.architecture,
      });
      expect(writtenHashes).toEqual({
        ...expected.inSandbox,
        [fixtures.deleted.path]: sha256(fixtures.deleted.content),
      });
      await recorder.waitFor(
        (e) => e.type === "session:status" && e.runtime.sandboxStatus === "terminated",
        30_000,
      );
      recorder.close();
      expect((await restClient(server.url).session(sessionId)).runtime.sandboxId).toBeUndefined();
      await expectDurable(server.url, sessionId);
    } finally {
      await server.dispose();
    }
  });

  it.skipIf(backend.skip)(
    "(b) after a graceful restart on the same data every file is byte-identical",
    async () => {
      const dataDir = await mkdtemp(join(tmpdir(), "agent-runtime-test-"));
      const first = await startTestServer({ mock, dataDir, ...storage() });
      const { sessionId, recorder } = await startFixtureSession(first.url, fixtures, {
        architecture: backend.agent.architecture,
      }).catch(async (error: unknown) => {
        await first.dispose();
        throw error;
      });
      recorder.close();
      await first.stop();
      const second = await startTestServer({ mock, dataDir, ...storage() });
      try {
        await expectDurable(second.url, sessionId);
      } finally {
        await second.dispose();
      }
    },
  );
});
