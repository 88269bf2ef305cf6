import type { Kysely } from "kysely";
import { expect } from "vitest";
import type { BuiltInPersistenceAdapter } from "../../src/persistence/built-in-persistence-adapter.js";
import type { SqlDatabase } from "../../src/persistence/sql/sql-database.js";
import { migrateSqlDatabase, type SqlDialect } from "../../src/persistence/sql/sql-migrations.js";
import { sessionRecordFixture, storedFileFixture } from "../../src/testing/persistence-contract.js";

/** The tables of schema 0002 that hold a session's workspace files as text. */
interface TextFileTables {
  sessions: { id: string; record: string; created_at: string; updated_at: string };
  workspace_files: { session_id: string; path: string; content: string };
}

/**
 * Files as schema 0002 stored them: Unicode, empty, one longer than a
 * storage chunk, and more of them than one conversion batch.
 */
const textFiles: ReadonlyArray<{ path: string; content: string }> = [
  { path: "notes/héllo 😀.md", content: "déjà vu 🚀 数据\r\n\u0007end" },
  { path: "empty.txt", content: "" },
  { path: "large.txt", content: "0123456789abcdef".repeat(160 * 1024) },
  ...Array.from({ length: 150 }, (_, index) => ({
    path: `many/file-${index}.txt`,
    content: `file ${index}`,
  })),
];

/**
 * Migrates `db` (a fresh database) to schema 0002 and stores a session with
 * `textFiles` in it, as a server of that version did. Resolves to the session's id.
 */
export async function seedTextWorkspaceFiles(
  db: Kysely<SqlDatabase>,
  options: { dialect: SqlDialect; migrationTableSchema?: string },
): Promise<string> {
  await migrateSqlDatabase(db, { ...options, upTo: "0002_transcript_chunks" });
  const old = db as unknown as Kysely<TextFileTables>;
  const record = sessionRecordFixture();
  await old
    .insertInto("sessions")
    .values({
      id: record.sessionId,
      record: JSON.stringify(record),
      created_at: record.createdAt,
      updated_at: record.updatedAt,
    })
    .execute();
  for (const file of textFiles) {
    await old
      .insertInto("workspace_files")
      .values({ session_id: record.sessionId, ...file })
      .execute();
  }
  return record.sessionId;
}

/**
 * Checks that an adapter opened on the database `seedTextWorkspaceFiles`
 * filled lists and loads those files as their UTF-8 bytes, with their size
 * and SHA-256, and the epoch as their unknown modification time.
 */
export async function expectUpgradedTextFiles(
  adapter: BuiltInPersistenceAdapter,
  sessionId: string,
): Promise<void> {
  const expected = textFiles
    .map((file) => storedFileFixture(file.path, file.content, "1970-01-01T00:00:00.000Z"))
    .sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  expect(await adapter.listWorkspaceFiles(sessionId)).toEqual(
    expected.map(({ content: _content, ...info }) => info),
  );
  for (const file of expected) {
    const loaded = await adapter.loadWorkspaceFile(sessionId, file.path);
    expect(loaded && Buffer.from(loaded).equals(file.content), `content of "${file.path}"`).toBe(true);
  }
}
