import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { createPostgresPersistenceAdapter } from "../../src/persistence/postgres/postgres-persistence-adapter.js";
import type { SqlDatabase } from "../../src/persistence/sql/sql-database.js";
import { migrateSqlDatabase } from "../../src/persistence/sql/sql-migrations.js";
import {
  runPersistenceAdapterContract,
  sessionRecordFixture,
} from "../../src/testing/persistence-contract.js";
import { runBuiltInAdapterChecks, seedProfiles } from "./built-in-adapter-checks.js";
import {
  createLinguisticDatabase,
  dropDatabase,
  dropSchema,
  postgresUrl,
  skipPostgres,
  uniqueSchemaName,
  withClient,
} from "./postgres-test-schema.js";
import { expectPreTenantSessionsOfNoTenant, seedPreTenantSessions } from "./tenant-upgrade.js";
import { expectUpgradedTextFiles, seedTextWorkspaceFiles } from "./text-file-upgrade.js";

if (skipPostgres) {
  describe.skip("postgres persistence (skipped: AGENT_RUNTIME_SKIP_POSTGRES=1)", () => {
    it("needs PostgreSQL", () => {});
  });
} else {
  const contractSchema = uniqueSchemaName("contract");
  runPersistenceAdapterContract({
    name: `postgres (schema ${contractSchema})`,
    createAdapter: async () =>
      createPostgresPersistenceAdapter({ connectionString: postgresUrl, schema: contractSchema }),
    seedProfiles,
    cleanup: () => dropSchema(contractSchema),
  });

  const linguisticDatabase = uniqueSchemaName("collation");
  let linguisticUrl: Promise<string> | undefined;
  runPersistenceAdapterContract({
    name: `postgres (database ${linguisticDatabase}, ICU en-US collation, default schema)`,
    createAdapter: async () => {
      linguisticUrl ??= createLinguisticDatabase(linguisticDatabase);
      return createPostgresPersistenceAdapter({ connectionString: await linguisticUrl });
    },
    seedProfiles,
    cleanup: () => dropDatabase(linguisticDatabase),
  });

  const checksSchema = uniqueSchemaName("checks");
  runBuiltInAdapterChecks("postgres", async () =>
    createPostgresPersistenceAdapter({ connectionString: postgresUrl, schema: checksSchema }),
  );

  describe("postgres adapter", () => {
    const schemas: string[] = [checksSchema];
    afterAll(async () => {
      for (const schema of schemas) await dropSchema(schema);
    });

    it("lets several adapters initialise a fresh schema at the same time", async () => {
      const schema = uniqueSchemaName("race");
      schemas.push(schema);
      const adapters = Array.from({ length: 4 }, () =>
        createPostgresPersistenceAdapter({ connectionString: postgresUrl, schema }),
      );
      try {
        await Promise.all(adapters.map((adapter) => adapter.init()));
        const record = sessionRecordFixture();
        await adapters[0]!.createSession(record);
        for (const adapter of adapters) expect(await adapter.loadSession(record.sessionId)).toEqual(record);
        const applied = await withClient((client) =>
          client.query(`select name from ${client.escapeIdentifier(schema)}.agent_runtime_migration`),
        );
        expect(applied.rows.map((row) => row.name)).toEqual([
          "0001_initial",
          "0002_transcript_chunks",
          "0003_stored_file_bytes",
          "0004_stored_file_links",
          "0005_session_tenants",
          "0006_session_leases",
          "0007_tenant_usage",
          "0008_audit_log",
        ]);
      } finally {
        await Promise.all(adapters.map((adapter) => adapter.close()));
      }
    });

    it("keeps schemas apart and cascades deletes through foreign keys", async () => {
      const [a, b] = [uniqueSchemaName("a"), uniqueSchemaName("b")];
      schemas.push(a, b);
      const first = createPostgresPersistenceAdapter({ connectionString: postgresUrl, schema: a });
      const second = createPostgresPersistenceAdapter({ connectionString: postgresUrl, schema: b });
      try {
        await first.init();
        await second.init();
        const record = sessionRecordFixture();
        await first.createSession(record);
        await first.saveTranscript(record.sessionId, "t");
        expect(await second.loadSession(record.sessionId)).toBeNull();
        await first.deleteSession(record.sessionId);
        const left = await withClient((client) =>
          client.query(`select count(*)::int as n from ${client.escapeIdentifier(a)}.transcript_chunks`),
        );
        expect(left.rows[0].n).toBe(0);
      } finally {
        await first.close();
        await second.close();
      }
    });

    it("upgrades text workspace files (0002) to bytes", async () => {
      const schema = uniqueSchemaName("upgrade");
      schemas.push(schema);
      const root = new Kysely<SqlDatabase>({
        dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: postgresUrl, max: 2 }) }),
      });
      let sessionId: string;
      try {
        await root.schema.createSchema(schema).execute();
        sessionId = await seedTextWorkspaceFiles(root.withSchema(schema), {
          dialect: "postgres",
          migrationTableSchema: schema,
        });
      } finally {
        await root.destroy();
      }
      const adapter = createPostgresPersistenceAdapter({ connectionString: postgresUrl, schema });
      try {
        await adapter.init();
        await expectUpgradedTextFiles(adapter, sessionId);
      } finally {
        await adapter.close();
      }
    });

    it("upgrades sessions stored before tenants (0004) to sessions of no tenant, and back", async () => {
      const schema = uniqueSchemaName("tenants");
      schemas.push(schema);
      const root = new Kysely<SqlDatabase>({
        dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: postgresUrl, max: 2 }) }),
      });
      let sessionIds: string[];
      try {
        await root.schema.createSchema(schema).execute();
        sessionIds = await seedPreTenantSessions(root.withSchema(schema), {
          dialect: "postgres",
          migrationTableSchema: schema,
        });
      } finally {
        await root.destroy();
      }
      const adapter = createPostgresPersistenceAdapter({ connectionString: postgresUrl, schema });
      try {
        await adapter.init();
        await expectPreTenantSessionsOfNoTenant(adapter, sessionIds);
      } finally {
        await adapter.close();
      }
      const back = new Kysely<SqlDatabase>({
        dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: postgresUrl, max: 2 }) }),
      });
      try {
        await migrateSqlDatabase(back.withSchema(schema), {
          dialect: "postgres",
          migrationTableSchema: schema,
          upTo: "0004_stored_file_links",
        });
      } finally {
        await back.destroy();
      }
      const columns = await withClient((client) =>
        client.query(
          "select column_name from information_schema.columns where table_schema = $1 and table_name = 'sessions'",
          [schema],
        ),
      );
      expect(columns.rows.map((row) => row.column_name)).not.toContain("tenant_id");
      const left = await withClient((client) =>
        client.query(`select count(*)::int as n from ${client.escapeIdentifier(schema)}.sessions`),
      );
      expect(left.rows[0].n).toBe(3);
    });

    it("fails with PERSISTENCE_FAILED naming the row when stored data is corrupt", async () => {
      const schema = uniqueSchemaName("corrupt");
      schemas.push(schema);
      const adapter = createPostgresPersistenceAdapter({ connectionString: postgresUrl, schema });
      try {
        await adapter.init();
        await adapter.saveAgentProfile({ id: "broken", name: "Broken" });
        await withClient((client) =>
          client.query(
            `update ${client.escapeIdentifier(schema)}.agent_profiles set json = $1 where id = $2`,
            ['{"id":"broken","name":7}', "broken"],
          ),
        );
        await expect(adapter.loadAgentProfile("broken")).rejects.toMatchObject({
          code: "PERSISTENCE_FAILED",
          message: expect.stringMatching(/stored agent profile "broken" is corrupt: name: /),
        });
      } finally {
        await adapter.close();
      }
    });

    it("rejects init() with PERSISTENCE_FAILED when the server is unreachable", async () => {
      const adapter = createPostgresPersistenceAdapter({
        connectionString: "postgres://postgres@127.0.0.1:1/test",
        schema: uniqueSchemaName("unreachable"),
      });
      try {
        await expect(adapter.init()).rejects.toMatchObject({ code: "PERSISTENCE_FAILED" });
      } finally {
        await adapter.close();
      }
    });

    it("rejects schema names that are not plain identifiers", () => {
      expect(() =>
        createPostgresPersistenceAdapter({ connectionString: postgresUrl, schema: 'x"; drop table y; --' }),
      ).toThrow(/PostgreSQL persistence options: schema: /);
    });
  });
}
