import { mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { Kysely, SqliteDialect, sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SqlDatabase } from "../../src/persistence/sql/sql-database.js";
import { migrateSqlDatabase } from "../../src/persistence/sql/sql-migrations.js";
import { createSqlitePersistenceAdapter } from "../../src/persistence/sqlite/sqlite-persistence-adapter.js";
import {
  runPersistenceAdapterContract,
  sessionRecordFixture,
} from "../../src/testing/persistence-contract.js";
import { runBuiltInAdapterChecks, seedProfiles } from "./built-in-adapter-checks.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "agent-runtime-sqlite-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

runPersistenceAdapterContract({
  name: "sqlite",
  createAdapter: async () =>
    createSqlitePersistenceAdapter({ filename: join(dir, "contract", "runtime.db") }),
  seedProfiles,
});

runBuiltInAdapterChecks("sqlite", async () =>
  createSqlitePersistenceAdapter({ filename: join(dir, "built-in", "runtime.db") }),
);

describe("sqlite adapter", () => {
  it("creates missing folders, uses WAL, and keeps data for a new adapter on the same file", async () => {
    const filename = join(dir, "nested", "deeper", "reopen.db");
    const first = createSqlitePersistenceAdapter({ filename });
    await first.init();
    const record = sessionRecordFixture({ title: "persisted" });
    await first.createSession(record);
    await first.saveBlocks(record.sessionId, [
      { order: 0, block: { type: "user_message", id: "b", timestamp: record.createdAt, content: "hi" } },
    ]);
    await first.saveTranscript(record.sessionId, "transcript");
    await first.saveWorkspaceFile(record.sessionId, { path: "a.txt", content: "A" });
    await first.saveAgentProfile({ id: "kept", name: "Kept" });
    await first.close();

    const raw = new Database(filename, { readonly: true });
    expect(raw.pragma("journal_mode", { simple: true })).toBe("wal");
    raw.close();

    const second = createSqlitePersistenceAdapter({ filename });
    await second.init();
    expect(await second.loadSession(record.sessionId)).toEqual(record);
    expect(await second.loadBlocks(record.sessionId)).toHaveLength(1);
    expect(await second.loadTranscript(record.sessionId)).toBe("transcript");
    expect(await second.listWorkspaceFiles(record.sessionId)).toEqual([{ path: "a.txt", content: "A" }]);
    expect((await second.loadAgentProfile("kept"))?.name).toBe("Kept");
    await second.close();
  });

  it("upgrades a database with whole-text transcripts (0001) to transcript chunks, keeping them", async () => {
    const filename = join(dir, "upgrade", "runtime.db");
    await mkdir(join(dir, "upgrade"), { recursive: true });
    const old = new Kysely<SqlDatabase>({ dialect: new SqliteDialect({ database: new Database(filename) }) });
    await migrateSqlDatabase(old, { upTo: "0001_initial" });
    const record = sessionRecordFixture();
    await sql`insert into sessions (id, record, created_at, updated_at) values (${record.sessionId}, ${JSON.stringify(record)}, ${record.createdAt}, ${record.updatedAt})`.execute(
      old,
    );
    await sql`insert into transcripts (session_id, text) values (${record.sessionId}, ${"line 1\n"})`.execute(
      old,
    );
    await old.destroy();

    const adapter = createSqlitePersistenceAdapter({ filename });
    await adapter.init();
    expect(await adapter.loadTranscript(record.sessionId)).toBe("line 1\n");
    await adapter.appendTranscript(record.sessionId, "line 2\n");
    expect(await adapter.loadTranscript(record.sessionId)).toBe("line 1\nline 2\n");
    await adapter.close();
  });

  it("opens nothing before init()", async () => {
    const filename = join(dir, "lazy", "never.db");
    const adapter = createSqlitePersistenceAdapter({ filename });
    await adapter.close();
    await expect(stat(filename)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("fails with PERSISTENCE_FAILED naming the row when stored data is corrupt", async () => {
    const filename = join(dir, "corrupt.db");
    const adapter = createSqlitePersistenceAdapter({ filename });
    await adapter.init();
    const record = sessionRecordFixture();
    await adapter.createSession(record);
    await adapter.saveBlocks(record.sessionId, [
      { order: 0, block: { type: "user_message", id: "b1", timestamp: record.createdAt, content: "hi" } },
    ]);

    const raw = new Database(filename);
    raw.prepare("update sessions set record = ? where id = ?").run("{not json", record.sessionId);
    raw
      .prepare("update blocks set json = ? where block_id = ?")
      .run('{"type":"user_message","id":"b1"}', "b1");
    raw.close();

    await expect(adapter.loadSession(record.sessionId)).rejects.toMatchObject({
      code: "PERSISTENCE_FAILED",
      message: expect.stringContaining(`stored session "${record.sessionId}" is corrupt: invalid JSON`),
    });
    await expect(adapter.listSessions()).rejects.toMatchObject({ code: "PERSISTENCE_FAILED" });
    await expect(adapter.loadBlocks(record.sessionId)).rejects.toMatchObject({
      code: "PERSISTENCE_FAILED",
      message: expect.stringMatching(/stored block "b1" .* is corrupt: timestamp: .*; content: /),
    });
    await adapter.close();
  });

  it("rejects invalid options with VALIDATION_FAILED", () => {
    expect(() => createSqlitePersistenceAdapter({ filename: "" })).toThrow(
      /SQLite persistence options: filename/,
    );
  });
});
