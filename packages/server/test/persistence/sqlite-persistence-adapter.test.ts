import { randomBytes } from "node:crypto";
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
  storedFileFixture,
} from "../../src/testing/persistence-contract.js";
import { runBuiltInAdapterChecks, seedProfiles } from "./built-in-adapter-checks.js";
import { expectPreTenantSessionsOfNoTenant, seedPreTenantSessions } from "./tenant-upgrade.js";
import { expectUpgradedTextFiles, seedTextWorkspaceFiles } from "./text-file-upgrade.js";

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
    const file = storedFileFixture("a.bin", Uint8Array.from([0xff, 0x00, 0x80]));
    await first.saveWorkspaceFile(record.sessionId, file);
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
    expect(await second.listWorkspaceFiles(record.sessionId)).toHaveLength(1);
    expect(await second.loadWorkspaceFile(record.sessionId, "a.bin")).toEqual(Buffer.from(file.content));
    expect((await second.loadAgentProfile("kept"))?.name).toBe("Kept");
    await second.close();
  });

  it("upgrades a database with whole-text transcripts (0001) to transcript chunks, keeping them", async () => {
    const filename = join(dir, "upgrade", "runtime.db");
    await mkdir(join(dir, "upgrade"), { recursive: true });
    const old = new Kysely<SqlDatabase>({ dialect: new SqliteDialect({ database: new Database(filename) }) });
    await migrateSqlDatabase(old, { dialect: "sqlite", upTo: "0001_initial" });
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

  it("upgrades text workspace files (0002) to bytes, and back", async () => {
    const filename = join(dir, "upgrade-files", "runtime.db");
    await mkdir(join(dir, "upgrade-files"), { recursive: true });
    const old = new Kysely<SqlDatabase>({ dialect: new SqliteDialect({ database: new Database(filename) }) });
    const sessionId = await seedTextWorkspaceFiles(old, { dialect: "sqlite" });
    await old.destroy();

    const adapter = createSqlitePersistenceAdapter({ filename });
    await adapter.init();
    await expectUpgradedTextFiles(adapter, sessionId);
    await adapter.saveWorkspaceFile(sessionId, storedFileFixture("notes/héllo 😀.md", "changed"));
    await adapter.close();

    const downgraded = new Database(filename);
    const db = new Kysely<SqlDatabase>({ dialect: new SqliteDialect({ database: downgraded }) });
    await migrateSqlDatabase(db, { dialect: "sqlite", upTo: "0002_transcript_chunks" });
    expect(
      downgraded
        .prepare("select content from workspace_files where session_id = ? and path = ?")
        .get(sessionId, "notes/héllo 😀.md"),
    ).toEqual({ content: "changed" });
    expect(downgraded.prepare("select count(*) as n from workspace_files").get()).toEqual({ n: 153 });
    await db.destroy();
  });

  it("upgrades sessions stored before tenants (0004) to sessions of no tenant, and back", async () => {
    const filename = join(dir, "upgrade-tenants", "runtime.db");
    await mkdir(join(dir, "upgrade-tenants"), { recursive: true });
    const old = new Kysely<SqlDatabase>({ dialect: new SqliteDialect({ database: new Database(filename) }) });
    const sessionIds = await seedPreTenantSessions(old, { dialect: "sqlite" });
    await old.destroy();

    const adapter = createSqlitePersistenceAdapter({ filename });
    await adapter.init();
    await expectPreTenantSessionsOfNoTenant(adapter, sessionIds);
    await adapter.close();

    const downgraded = new Database(filename);
    const db = new Kysely<SqlDatabase>({ dialect: new SqliteDialect({ database: downgraded }) });
    await migrateSqlDatabase(db, { dialect: "sqlite", upTo: "0004_stored_file_links" });
    const columns = downgraded.prepare("select name from pragma_table_info('sessions')").all();
    expect(columns).not.toContainEqual({ name: "tenant_id" });
    expect(downgraded.prepare("select count(*) as n from sessions").get()).toEqual({ n: 3 });
    await db.destroy();
  });

  it("keeps no content of a file that was replaced, deleted, or whose session was deleted", async () => {
    const filename = join(dir, "chunks.db");
    const adapter = createSqlitePersistenceAdapter({ filename });
    await adapter.init();
    const raw = new Database(filename, { readonly: true });
    const stored = () =>
      raw.prepare(
        "select count(*) as chunks, coalesce(sum(length(bytes)), 0) as bytes from stored_file_chunks",
      );
    try {
      const record = sessionRecordFixture();
      await adapter.createSession(record);
      await adapter.saveWorkspaceFile(record.sessionId, storedFileFixture("big.bin", randomBytes(3_500_000)));
      await adapter.saveWorkspaceFile(record.sessionId, storedFileFixture("big.bin", "small"));
      await adapter.saveWorkspaceFile(
        record.sessionId,
        storedFileFixture("other.bin", randomBytes(1_500_000)),
      );
      expect(stored().get()).toEqual({ chunks: 3, bytes: 1_500_005 });

      await adapter.deleteWorkspaceFile(record.sessionId, "other.bin");
      expect(stored().get()).toEqual({ chunks: 1, bytes: 5 });

      await adapter.deleteSession(record.sessionId);
      expect(stored().get()).toEqual({ chunks: 0, bytes: 0 });
    } finally {
      raw.close();
      await adapter.close();
    }
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
    await adapter.saveWorkspaceFile(
      record.sessionId,
      storedFileFixture("chunked.bin", randomBytes(1_500_000)),
    );

    const raw = new Database(filename);
    raw.prepare("update sessions set record = ? where id = ?").run("{not json", record.sessionId);
    raw
      .prepare("update blocks set json = ? where block_id = ?")
      .run('{"type":"user_message","id":"b1"}', "b1");
    raw.prepare("delete from stored_file_chunks where path = ? and seq = 1").run("chunked.bin");
    raw.close();

    await expect(adapter.loadSession(record.sessionId)).rejects.toMatchObject({
      code: "PERSISTENCE_FAILED",
      message: expect.stringContaining(`stored session "${record.sessionId}" is corrupt: invalid JSON`),
    });
    await expect(adapter.listSessions({ limit: 1000 })).rejects.toMatchObject({ code: "PERSISTENCE_FAILED" });
    await expect(adapter.loadBlocks(record.sessionId)).rejects.toMatchObject({
      code: "PERSISTENCE_FAILED",
      message: expect.stringMatching(/stored block "b1" .* is corrupt: timestamp: .*; content: /),
    });
    await expect(adapter.loadWorkspaceFile(record.sessionId, "chunked.bin")).rejects.toMatchObject({
      code: "PERSISTENCE_FAILED",
      message: expect.stringMatching(/stored file "chunked.bin" .* is corrupt: /),
    });

    const metadata = new Database(filename);
    metadata.prepare("update stored_files set sha256 = ? where path = ?").run("not a hash", "chunked.bin");
    metadata.close();
    await expect(adapter.listWorkspaceFiles(record.sessionId)).rejects.toMatchObject({
      code: "PERSISTENCE_FAILED",
      message: expect.stringMatching(/stored file "chunked.bin" .* is corrupt: sha256: /),
    });
    await adapter.close();
  });

  it("rejects invalid options with VALIDATION_FAILED", () => {
    expect(() => createSqlitePersistenceAdapter({ filename: "" })).toThrow(
      /SQLite persistence options: filename/,
    );
  });
});
