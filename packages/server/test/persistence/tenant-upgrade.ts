import type { Kysely } from "kysely";
import { expect } from "vitest";
import type { BuiltInPersistenceAdapter } from "../../src/persistence/built-in-persistence-adapter.js";
import type { SqlDatabase } from "../../src/persistence/sql/sql-database.js";
import { migrateSqlDatabase, type SqlDialect } from "../../src/persistence/sql/sql-migrations.js";
import { sessionRecordFixture } from "../../src/testing/persistence-contract.js";

/** The sessions table of schema 0004, before sessions had a tenant. */
interface PreTenantTables {
  sessions: { id: string; record: string; created_at: string; updated_at: string };
}

/**
 * Migrates `db` (a fresh database) to schema 0004 and stores two sessions
 * as a server of that version did. Resolves to their ids.
 */
export async function seedPreTenantSessions(
  db: Kysely<SqlDatabase>,
  options: { dialect: SqlDialect; migrationTableSchema?: string },
): Promise<string[]> {
  await migrateSqlDatabase(db, { ...options, upTo: "0004_stored_file_links" });
  const old = db as unknown as Kysely<PreTenantTables>;
  const records = [sessionRecordFixture(), sessionRecordFixture({ updatedAt: "2024-02-01T00:00:00.000Z" })];
  for (const record of records) {
    await old
      .insertInto("sessions")
      .values({
        id: record.sessionId,
        record: JSON.stringify(record),
        created_at: record.createdAt,
        updated_at: record.updatedAt,
      })
      .execute();
  }
  return records.map((record) => record.sessionId);
}

/**
 * After the upgrade: the sessions stored before belong to no tenant (an
 * admin lists and loads them, a tenant's listing leaves them out), and new
 * sessions record theirs.
 */
export async function expectPreTenantSessionsOfNoTenant(
  adapter: BuiltInPersistenceAdapter,
  sessionIds: readonly string[],
): Promise<void> {
  const everything = await adapter.listSessions({ limit: 1000 });
  expect(everything.map((record) => record.sessionId)).toEqual(expect.arrayContaining([...sessionIds]));
  for (const sessionId of sessionIds)
    expect((await adapter.loadSession(sessionId))?.tenantId).toBeUndefined();
  const tenants = sessionRecordFixture({ tenantId: "acme" });
  await adapter.createSession(tenants);
  expect((await adapter.listSessions({ limit: 1000, tenantId: "acme" })).map((r) => r.sessionId)).toEqual([
    tenants.sessionId,
  ]);
}
