import { randomBytes, randomUUID } from "node:crypto";
import type { AgentProfile, AuditRecord, Block, SessionRecord } from "@agent-runtime/protocol";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type {
  PersistenceAdapter,
  SessionListPosition,
  StoredFile,
  StoredFileInfo,
} from "../persistence/persistence-adapter.js";
import { contentHash, storedFile, storedFileInfo, storedLink } from "../persistence/stored-file.js";

export interface PersistenceAdapterContractOptions<A extends PersistenceAdapter> {
  /** Names the `describe` block. */
  name: string;
  /**
   * Called once per test. The suite calls `init()` on the result and `close()`
   * after the test. Adapters may share storage between tests: the suite uses
   * fresh ids and never assumes an empty store.
   */
  createAdapter: () => Promise<A>;
  /**
   * Stores profiles so that `listAgentProfiles` / `loadAgentProfile` return
   * them (saving profiles is not part of `PersistenceAdapter`). Without it the
   * profile round-trip tests are skipped, saying why.
   */
  seedProfiles?: (adapter: A, profiles: AgentProfile[]) => Promise<void>;
  /** Called once after the last test (e.g. to drop a database schema). */
  cleanup?: () => Promise<void>;
}

/**
 * The behaviour every `PersistenceAdapter` must have, as a vitest suite. Call
 * it at the top level of a test file:
 *
 * ```ts
 * runPersistenceAdapterContract({ name: "my adapter", createAdapter: async () => createMyAdapter() });
 * ```
 *
 * It checks only what the interface documents; built-in adapters promise more
 * (see `BuiltInPersistenceAdapter`) and test that separately. Workspace files
 * are checked byte for byte (every byte value, invalid UTF-8, empty files)
 * up to a 50 MB file, so the adapter's storage must accept that size.
 */
export function runPersistenceAdapterContract<A extends PersistenceAdapter>(
  options: PersistenceAdapterContractOptions<A>,
): void {
  describe(`PersistenceAdapter contract: ${options.name}`, () => {
    const open: A[] = [];

    async function adapter(): Promise<A> {
      const created = await options.createAdapter();
      open.push(created);
      await created.init?.();
      return created;
    }

    afterEach(async () => {
      for (const created of open.splice(0)) await created.close?.();
    });

    afterAll(async () => {
      await options.cleanup?.();
    });

    describe("sessions", () => {
      it("round-trips a record with every optional field", async () => {
        const store = await adapter();
        const record = sessionRecordFixture({
          nativeSessionId: "native-1",
          title: "A title",
          sessionOptions: { model: "claude-test", permissions: { mode: "ask", tools: ["Bash", "Write"] } },
        });
        await store.createSession(record);
        expect(await store.loadSession(record.sessionId)).toEqual(record);
      });

      it("treats a repeated createSession with the same record as a no-op", async () => {
        const store = await adapter();
        const record = sessionRecordFixture();
        await store.createSession(record);
        await store.createSession(record);
        expect(await store.loadSession(record.sessionId)).toEqual(record);
        expect(ownSessions(await listAll(store), [record])).toHaveLength(1);
      });

      it("lists sessions newest updatedAt first", async () => {
        const store = await adapter();
        const older = sessionRecordFixture({ updatedAt: "2024-01-01T00:00:00.000Z" });
        const newest = sessionRecordFixture({ updatedAt: "2024-03-01T00:00:00.000Z" });
        const middle = sessionRecordFixture({ updatedAt: "2024-02-01T00:00:00.000Z" });
        for (const record of [older, newest, middle]) await store.createSession(record);
        const mine = [older, newest, middle];
        expect(ownSessions(await listAll(store), mine)).toEqual([newest, middle, older]);

        const touched = { ...older, updatedAt: "2024-04-01T00:00:00.000Z" };
        await store.updateSession(touched);
        expect(ownSessions(await listAll(store), mine)).toEqual([touched, newest, middle]);
      });

      it("lists a page at a time: at most `limit`, after `after`, each session once, in order", async () => {
        const store = await adapter();
        // Three share one updatedAt, so the order among them is by sessionId.
        const times = ["2023-05-01", "2023-05-02", "2023-05-02", "2023-05-02", "2023-05-03", "2023-05-04"];
        const mine = times.map((day) => sessionRecordFixture({ updatedAt: `${day}T00:00:00.000Z` }));
        for (const record of mine) await store.createSession(record);

        const whole = await store.listSessions({ limit: 1_000_000 });
        for (const [index, record] of whole.entries()) {
          const next = whole[index + 1];
          if (next) expect(next.updatedAt <= record.updatedAt, "newest updatedAt first").toBe(true);
        }
        for (const limit of [1, 2, 5]) {
          const pages: SessionRecord[][] = [];
          let after: SessionListPosition | undefined;
          do {
            const page = await store.listSessions({ limit, ...(after ? { after } : {}) });
            expect(page.length).toBeLessThanOrEqual(limit);
            pages.push(page);
            after = page.length === limit ? page.at(-1) : undefined;
          } while (after);
          const paged = pages.flat();
          expect(
            paged.map((r) => r.sessionId),
            `limit ${limit}`,
          ).toEqual(whole.map((r) => r.sessionId));
        }
        // From a position, whether or not a session is stored there.
        const [, second, third] = ownSessions(whole, mine);
        const afterSecond = await store.listSessions({ limit: 1_000_000, after: second! });
        expect(afterSecond.map((r) => r.sessionId)).toEqual(
          whole.slice(whole.findIndex((r) => r.sessionId === second!.sessionId) + 1).map((r) => r.sessionId),
        );
        expect(ownSessions(afterSecond, mine)[0]).toEqual(third);
        const gone = { updatedAt: "2023-05-02T00:00:00.000Z", sessionId: "" };
        expect(ownSessions(await store.listSessions({ limit: 1_000_000, after: gone }), mine)).toEqual(
          ownSessions(whole, mine).slice(2),
        );
      });

      it("lists only the sessions of `tenantId` when it is set, a page at a time", async () => {
        const store = await adapter();
        const tenant = `tenant-${randomUUID()}`;
        const days = ["2022-07-01", "2022-07-02", "2022-07-02", "2022-07-03"];
        const theirs = days.map((day) =>
          sessionRecordFixture({ tenantId: tenant, updatedAt: `${day}T00:00:00.000Z` }),
        );
        const others = [
          sessionRecordFixture({ tenantId: `other-${randomUUID()}`, updatedAt: "2022-07-02T00:00:00.000Z" }),
          sessionRecordFixture({ updatedAt: "2022-07-02T00:00:00.000Z" }),
        ];
        for (const record of [...theirs, ...others]) await store.createSession(record);
        expect(await store.loadSession(theirs[0]!.sessionId)).toEqual(theirs[0]);

        const whole = await store.listSessions({ limit: 1_000_000, tenantId: tenant });
        expect(whole.map((r) => r.sessionId).sort()).toEqual(theirs.map((r) => r.sessionId).sort());
        const paged: SessionRecord[] = [];
        let after: SessionListPosition | undefined;
        do {
          const page = await store.listSessions({ limit: 1, tenantId: tenant, ...(after ? { after } : {}) });
          paged.push(...page);
          after = page.at(-1);
        } while (after);
        expect(paged).toEqual(whole);
        expect(ownSessions(await listAll(store), [...theirs, ...others])).toHaveLength(6);
      });

      it("replaces the whole record on updateSession", async () => {
        const store = await adapter();
        const record = sessionRecordFixture({ title: "before", nativeSessionId: "native" });
        await store.createSession(record);
        const { title: _title, ...withoutTitle } = record;
        const updated: SessionRecord = {
          ...withoutTitle,
          updatedAt: "2030-01-01T00:00:00.000Z",
          lastSeq: 42,
          usage: {
            inputTokens: 10,
            outputTokens: 20,
            cacheReadTokens: 3,
            cacheCreationTokens: 4,
            costUsd: 0.5,
          },
        };
        await store.updateSession(updated);
        const loaded = await store.loadSession(record.sessionId);
        expect(loaded).toEqual(updated);
        expect(loaded).not.toHaveProperty("title");
      });

      it("returns copies: mutating inputs or results leaves stored state unchanged", async () => {
        const store = await adapter();
        const record = sessionRecordFixture({ title: "original" });
        const snapshot = structuredClone(record);
        await store.createSession(record);
        record.title = "mutated input";
        const loaded = await store.loadSession(record.sessionId);
        loaded!.title = "mutated result";
        loaded!.usage.inputTokens = 999;
        expect(await store.loadSession(record.sessionId)).toEqual(snapshot);

        const block = textBlock("b1", "original");
        await store.saveBlocks(record.sessionId, [{ order: 0, block }]);
        block.content = "mutated input";
        const [loadedBlock] = await store.loadBlocks(record.sessionId);
        (loadedBlock as { content: string }).content = "mutated result";
        expect(await store.loadBlocks(record.sessionId)).toEqual([textBlock("b1", "original")]);

        const file = storedFileFixture("copied.bin", Uint8Array.from([1, 2, 3]));
        await store.saveWorkspaceFile(record.sessionId, file);
        file.content.fill(9);
        (await store.loadWorkspaceFile(record.sessionId, "copied.bin"))!.fill(8);
        expect(hex(await store.loadWorkspaceFile(record.sessionId, "copied.bin"))).toBe("010203");
      });
    });

    describe("unknown ids", () => {
      it("reads as null or empty, never throws", async () => {
        const store = await adapter();
        const missing = `missing-${randomUUID()}`;
        expect(await store.loadSession(missing)).toBeNull();
        expect(await store.loadBlocks(missing)).toEqual([]);
        expect(await store.loadTranscript(missing)).toBeNull();
        expect(await store.listWorkspaceFiles(missing)).toEqual([]);
        expect(await store.loadWorkspaceFile(missing, "a.txt")).toBeNull();
        expect(await store.loadAgentProfile(missing)).toBeNull();
      });

      it("treats deleting an unknown session or file as a no-op", async () => {
        const store = await adapter();
        await store.deleteSession(`missing-${randomUUID()}`);
        const record = await createdSession(store);
        await store.deleteWorkspaceFile(record.sessionId, "never-written.txt");
        await store.deleteWorkspaceFile(`missing-${randomUUID()}`, "never-written.txt");
      });
    });

    describe("blocks", () => {
      it("round-trips every block type, sorted by order rather than save order", async () => {
        const store = await adapter();
        const { sessionId } = await createdSession(store);
        const blocks = allBlockTypes();
        const shuffled = blocks.map((block, order) => ({ order, block })).reverse();
        await store.saveBlocks(sessionId, shuffled);
        expect(await store.loadBlocks(sessionId)).toEqual(blocks);
      });

      it("adds incremental saves to earlier ones", async () => {
        const store = await adapter();
        const { sessionId } = await createdSession(store);
        await store.saveBlocks(sessionId, [
          { order: 0, block: textBlock("b0", "zero") },
          { order: 1, block: textBlock("b1", "one") },
        ]);
        await store.saveBlocks(sessionId, [{ order: 2, block: textBlock("b2", "two") }]);
        await store.saveBlocks(sessionId, []);
        expect(await store.loadBlocks(sessionId)).toEqual([
          textBlock("b0", "zero"),
          textBlock("b1", "one"),
          textBlock("b2", "two"),
        ]);
      });

      it("replaces a re-saved block (content and order) by id", async () => {
        const store = await adapter();
        const { sessionId } = await createdSession(store);
        await store.saveBlocks(sessionId, [
          { order: 0, block: textBlock("a", "first") },
          { order: 1, block: toolUseBlock("t", "running") },
          { order: 2, block: textBlock("c", "third") },
        ]);
        await store.saveBlocks(sessionId, [
          { order: 1, block: toolUseBlock("t", "success") },
          { order: 3, block: textBlock("a", "moved last") },
        ]);
        expect(await store.loadBlocks(sessionId)).toEqual([
          toolUseBlock("t", "success"),
          textBlock("c", "third"),
          textBlock("a", "moved last"),
        ]);
      });

      it("is idempotent when the same sync is retried", async () => {
        const store = await adapter();
        const { sessionId } = await createdSession(store);
        const batch = allBlockTypes().map((block, order) => ({ order, block }));
        await store.saveBlocks(sessionId, batch);
        await store.saveBlocks(sessionId, batch);
        await store.saveTranscript(sessionId, "transcript");
        await store.saveTranscript(sessionId, "transcript");
        const file = storedFileFixture("a.txt", "a");
        await store.saveWorkspaceFile(sessionId, file);
        await store.saveWorkspaceFile(sessionId, file);
        expect(await store.loadBlocks(sessionId)).toEqual(batch.map(({ block }) => block));
        expect(await store.loadTranscript(sessionId)).toBe("transcript");
        expect(await store.listWorkspaceFiles(sessionId)).toEqual([storedFileInfo(file)]);
        await expectContent(store, sessionId, file);
      });

      it("keeps blocks of different sessions apart", async () => {
        const store = await adapter();
        const first = await createdSession(store);
        const second = await createdSession(store);
        await store.saveBlocks(first.sessionId, [{ order: 0, block: textBlock("same-id", "first") }]);
        await store.saveBlocks(second.sessionId, [{ order: 0, block: textBlock("same-id", "second") }]);
        expect(await store.loadBlocks(first.sessionId)).toEqual([textBlock("same-id", "first")]);
        expect(await store.loadBlocks(second.sessionId)).toEqual([textBlock("same-id", "second")]);
      });
    });

    describe("text fidelity", () => {
      it("stores unicode and control characters unchanged everywhere", async () => {
        const store = await adapter();
        const record = sessionRecordFixture({ title: tricky });
        await store.createSession(record);
        const blocks: Block[] = [
          textBlock("u1", tricky),
          { ...toolUseBlock("u2", "success"), input: { [tricky]: [tricky, { deep: tricky }] } },
        ];
        await store.saveBlocks(
          record.sessionId,
          blocks.map((block, order) => ({ order, block })),
        );
        await store.saveTranscript(record.sessionId, tricky);
        const file = storedFileFixture("目录/emoji-😀 file.txt", tricky);
        await store.saveWorkspaceFile(record.sessionId, file);

        expect(await store.loadSession(record.sessionId)).toEqual(record);
        expect(await store.loadBlocks(record.sessionId)).toEqual(blocks);
        expect(await store.loadTranscript(record.sessionId)).toBe(tricky);
        expect(await store.listWorkspaceFiles(record.sessionId)).toEqual([storedFileInfo(file)]);
        expect(
          new TextDecoder().decode((await store.loadWorkspaceFile(record.sessionId, file.path)) ?? undefined),
        ).toBe(tricky);
      });

      it("stores a 10 MB transcript and replaces it with a shorter one", async () => {
        const store = await adapter();
        const { sessionId } = await createdSession(store);
        const line = `${JSON.stringify({ type: "assistant", text: "déjà vu 🚀 数据" })}\n`;
        const large = line.repeat(Math.ceil((10 * 1024 * 1024) / line.length));
        await store.saveTranscript(sessionId, large);
        const loaded = await store.loadTranscript(sessionId);
        expect(loaded?.length).toBe(large.length);
        expect(loaded === large).toBe(true);
        await store.saveTranscript(sessionId, "short");
        expect(await store.loadTranscript(sessionId)).toBe("short");
      }, 60_000);

      it("appends to a transcript when the adapter declares appendTranscript", async (context) => {
        const store = await adapter();
        if (!store.appendTranscript) {
          context.skip("the adapter does not declare the optional appendTranscript");
          return;
        }
        const { sessionId } = await createdSession(store);
        await store.appendTranscript(sessionId, "first line\n");
        expect(await store.loadTranscript(sessionId)).toBe("first line\n");
        await store.saveTranscript(sessionId, "line 1 🚀\n");
        await store.appendTranscript(sessionId, "line 2 数据\n");
        await store.appendTranscript(sessionId, "");
        expect(await store.loadTranscript(sessionId)).toBe("line 1 🚀\nline 2 数据\n");
      });
    });

    describe("tenant usage", () => {
      const delta = (n: number) => ({
        inputTokens: 1000 * n,
        outputTokens: 100 * n,
        cacheReadTokens: 10 * n,
        cacheCreationTokens: n,
        costUsd: 0.125 * n,
        sandboxSeconds: 1.5 * n,
      });

      it("adds deltas to a tenant's totals when the adapter declares addTenantUsage, apart from other tenants and kept when sessions go", async (context) => {
        const store = await adapter();
        if (!store.addTenantUsage || !store.loadTenantUsage) {
          context.skip("the adapter does not declare the optional addTenantUsage and loadTenantUsage");
          return;
        }
        const tenant = `tenant-${randomUUID()}`;
        const other = `tenant-${randomUUID()}`;
        expect(await store.loadTenantUsage(tenant)).toBeNull();
        await store.addTenantUsage(tenant, delta(1));
        await store.addTenantUsage(tenant, delta(2));
        await store.addTenantUsage(other, delta(10));
        expect(await store.loadTenantUsage(tenant)).toEqual(delta(3));
        const session = sessionRecordFixture({ tenantId: tenant });
        await store.createSession(session);
        await store.deleteSession(session.sessionId);
        expect(await store.loadTenantUsage(tenant)).toEqual(delta(3));
        expect(await store.loadTenantUsage(other)).toEqual(delta(10));
        // Concurrent additions all count.
        await Promise.all(Array.from({ length: 20 }, () => store.addTenantUsage!(other, delta(1))));
        expect(await store.loadTenantUsage(other)).toEqual(delta(30));
      });
    });

    describe("audit trail", () => {
      const auditRecord = (tenantId: string | undefined, sessionId: string, at: string): AuditRecord => ({
        id: randomUUID(),
        at,
        requestId: randomUUID(),
        ...(tenantId === undefined ? {} : { tenantId }),
        role: tenantId === undefined ? "admin" : "tenant",
        keyId: "key-digest",
        action: "session.message",
        method: "POST",
        route: "/sessions/:id/messages",
        sessionId,
        outcome: "success",
        status: 202,
      });

      it("stores audit records when the adapter declares appendAuditRecords: newest first, paged, by tenant and session, each id once, kept when sessions go", async (context) => {
        const store = await adapter();
        if (!store.appendAuditRecords || !store.listAuditRecords) {
          context.skip("the adapter does not declare the optional appendAuditRecords and listAuditRecords");
          return;
        }
        const tenant = `tenant-${randomUUID()}`;
        const other = `tenant-${randomUUID()}`;
        const session = sessionRecordFixture({ tenantId: tenant });
        await store.createSession(session);
        // Two records share a time: their ids order them.
        const times = ["2030-01-01T00:00:01.000Z", "2030-01-01T00:00:02.000Z", "2030-01-01T00:00:02.000Z"];
        const mine = times.map((at) => auditRecord(tenant, session.sessionId, at));
        const theirs = auditRecord(other, randomUUID(), "2030-01-01T00:00:03.000Z");
        await store.appendAuditRecords([mine[0]!, theirs]);
        await store.appendAuditRecords([mine[1]!, mine[2]!, mine[0]!]);
        const newestFirst = [...mine].sort((a, b) =>
          a.at === b.at ? (a.id < b.id ? 1 : -1) : a.at < b.at ? 1 : -1,
        );
        expect(await store.listAuditRecords({ limit: 10, tenantId: tenant })).toEqual(newestFirst);
        expect(await store.listAuditRecords({ limit: 10, sessionId: session.sessionId })).toEqual(
          newestFirst,
        );
        expect(await store.listAuditRecords({ limit: 10, tenantId: other })).toEqual([theirs]);
        const paged: AuditRecord[] = [];
        let after: { at: string; id: string } | undefined;
        for (;;) {
          const page = await store.listAuditRecords({
            limit: 2,
            tenantId: tenant,
            ...(after ? { after } : {}),
          });
          paged.push(...page);
          const last = page.at(-1);
          if (!last || page.length < 2) break;
          after = { at: last.at, id: last.id };
        }
        expect(paged).toEqual(newestFirst);
        await store.deleteSession(session.sessionId);
        expect(await store.listAuditRecords({ limit: 10, tenantId: tenant })).toHaveLength(3);
      });

      it("prunes audit records older than a time when the adapter declares pruneAuditRecords, and keeps the rest", async (context) => {
        const store = await adapter();
        if (!store.appendAuditRecords || !store.listAuditRecords || !store.pruneAuditRecords) {
          context.skip("the adapter does not declare the optional pruneAuditRecords");
          return;
        }
        const tenant = `tenant-${randomUUID()}`;
        const sessionId = randomUUID();
        const old = auditRecord(tenant, sessionId, "1999-01-01T00:00:00.000Z");
        const edge = auditRecord(tenant, sessionId, "1999-01-02T00:00:00.000Z");
        const kept = auditRecord(tenant, sessionId, "2030-01-01T00:00:00.000Z");
        await store.appendAuditRecords([old, edge, kept]);
        // Records exactly at the bound stay; only older ones go.
        expect(await store.pruneAuditRecords(new Date("1999-01-02T00:00:00.000Z"))).toBeGreaterThanOrEqual(1);
        expect(await store.listAuditRecords({ limit: 10, tenantId: tenant })).toEqual([kept, edge]);
        expect(await store.pruneAuditRecords(new Date("1999-01-02T00:00:00.000Z"))).toBe(0);
      });
    });

    describe("concurrency", () => {
      it("handles many sessions written at the same time", async () => {
        const store = await adapter();
        const records = Array.from({ length: 30 }, (_, index) =>
          sessionRecordFixture({
            title: `session ${index}`,
            updatedAt: new Date(Date.UTC(2025, 0, 1, 0, 0, index)).toISOString(),
          }),
        );
        await Promise.all(
          records.map(async (record, index) => {
            // Calls for one session stay in order, as the runtime makes them; sessions overlap.
            await store.createSession(record);
            await store.saveBlocks(
              record.sessionId,
              Array.from({ length: 5 }, (_, order) => ({
                order,
                block: textBlock(`b${order}`, `${index}:${order}`),
              })),
            );
            await store.saveTranscript(record.sessionId, `transcript ${index}`);
            await store.saveWorkspaceFile(record.sessionId, storedFileFixture("index.txt", String(index)));
            await store.updateSession({ ...record, lastSeq: index + 1 });
          }),
        );
        for (const [index, record] of records.entries()) {
          expect(await store.loadSession(record.sessionId)).toEqual({ ...record, lastSeq: index + 1 });
          expect(
            (await store.loadBlocks(record.sessionId)).map((block) => (block as { content: string }).content),
          ).toEqual(Array.from({ length: 5 }, (_, order) => `${index}:${order}`));
          expect(await store.loadTranscript(record.sessionId)).toBe(`transcript ${index}`);
          await expectContent(store, record.sessionId, storedFileFixture("index.txt", String(index)));
        }
        expect(ownSessions(await listAll(store), records).map((record) => record.title)).toEqual(
          records.map((record) => record.title).reverse(),
        );
      }, 60_000);
    });

    describe("deleteSession", () => {
      it("removes the record, blocks, transcript and files, and only those of that session", async () => {
        const store = await adapter();
        const doomed = await createdSession(store);
        const kept = await createdSession(store);
        for (const { sessionId } of [doomed, kept]) {
          await store.saveBlocks(sessionId, [{ order: 0, block: textBlock("b", sessionId) }]);
          await store.saveTranscript(sessionId, sessionId);
          await store.saveWorkspaceFile(sessionId, storedFileFixture("f.txt", sessionId));
        }
        await store.deleteSession(doomed.sessionId);

        expect(await store.loadSession(doomed.sessionId)).toBeNull();
        expect(await store.loadBlocks(doomed.sessionId)).toEqual([]);
        expect(await store.loadTranscript(doomed.sessionId)).toBeNull();
        expect(await store.listWorkspaceFiles(doomed.sessionId)).toEqual([]);
        expect(await store.loadWorkspaceFile(doomed.sessionId, "f.txt")).toBeNull();
        expect(ownSessions(await listAll(store), [doomed, kept])).toEqual([kept]);

        expect(await store.loadSession(kept.sessionId)).toEqual(kept);
        expect(await store.loadBlocks(kept.sessionId)).toEqual([textBlock("b", kept.sessionId)]);
        expect(await store.loadTranscript(kept.sessionId)).toBe(kept.sessionId);
        await expectContent(store, kept.sessionId, storedFileFixture("f.txt", kept.sessionId));
      });

      it("is idempotent, and a re-created session starts empty", async () => {
        const store = await adapter();
        const record = await createdSession(store);
        await store.saveBlocks(record.sessionId, [{ order: 0, block: textBlock("b", "old") }]);
        await store.saveTranscript(record.sessionId, "old");
        await store.saveWorkspaceFile(record.sessionId, storedFileFixture("old.txt", "old"));
        await store.deleteSession(record.sessionId);
        await store.deleteSession(record.sessionId);

        await store.createSession(record);
        expect(await store.loadSession(record.sessionId)).toEqual(record);
        expect(await store.loadBlocks(record.sessionId)).toEqual([]);
        expect(await store.loadTranscript(record.sessionId)).toBeNull();
        expect(await store.listWorkspaceFiles(record.sessionId)).toEqual([]);
        expect(await store.loadWorkspaceFile(record.sessionId, "old.txt")).toBeNull();
      });
    });

    describe("workspace files", () => {
      it("round-trips binary content byte for byte, with its metadata", async () => {
        const store = await adapter();
        const { sessionId } = await createdSession(store);
        const files = [
          storedFileFixture(
            "bytes/all-256.bin",
            Uint8Array.from({ length: 512 }, (_, index) => index % 256),
          ),
          storedFileFixture("bytes/random.bin", randomBytes(256 * 1024), "2025-02-03T04:05:06.789Z"),
          storedFileFixture("bytes/invalid-utf8.bin", invalidUtf8),
          storedFileFixture(
            "bytes/bom-crlf.txt",
            Uint8Array.from([0xef, 0xbb, 0xbf, 0x61, 0x0d, 0x0a, 0x62]),
          ),
          storedFileFixture("bytes/empty.bin", new Uint8Array(0)),
        ];
        for (const file of files) await store.saveWorkspaceFile(sessionId, file);

        for (const file of files) await expectContent(store, sessionId, file);
        expect(await store.listWorkspaceFiles(sessionId)).toEqual(sortedByPath(files.map(storedFileInfo)));
      });

      it("round-trips a 50 MB file byte-identical", async () => {
        const store = await adapter();
        const { sessionId } = await createdSession(store);
        const file = storedFileFixture("large/random.bin", randomBytes(50 * 1024 * 1024));
        await store.saveWorkspaceFile(sessionId, file);
        await expectContent(store, sessionId, file);
        expect(await store.listWorkspaceFiles(sessionId)).toEqual([storedFileInfo(file)]);
      }, 120_000);

      it("round-trips a symbolic link as its target; a file saved over it is a file again", async () => {
        const store = await adapter();
        const { sessionId } = await createdSession(store);
        const links = [
          storedLink("links/relative", "../data/file.txt", "2025-02-03T04:05:06.789Z"),
          storedLink("links/absolute", "/etc/hostname", "2025-02-03T04:05:06.789Z"),
          storedLink("links/odd target", "ünï cødé/\n✓", "2025-02-03T04:05:06.789Z"),
        ];
        for (const link of links) await store.saveWorkspaceFile(sessionId, link);
        expect(await store.listWorkspaceFiles(sessionId)).toEqual(sortedByPath(links.map(storedFileInfo)));
        for (const link of links) await expectContent(store, sessionId, link);

        const file = storedFileFixture("links/relative", new Uint8Array([1, 2, 3]));
        await store.saveWorkspaceFile(sessionId, file);
        const listed = await store.listWorkspaceFiles(sessionId);
        expect(listed.find((info) => info.path === "links/relative")).toEqual(storedFileInfo(file));
        expect(listed.find((info) => info.path === "links/relative")).not.toHaveProperty("linkTarget");
      });

      it("lists metadata without content, sorted by path in code point order", async () => {
        const store = await adapter();
        const { sessionId } = await createdSession(store);
        const paths = [
          "😀.txt",
          "b.txt",
          "～.txt",
          "a/b.txt",
          "B.txt",
          "a.txt",
          "é.txt",
          "a-b.txt",
          "a b.txt",
        ];
        const files = paths.map((path, index) =>
          storedFileFixture(path, randomBytes(index), new Date(Date.UTC(2025, 0, index + 1)).toISOString()),
        );
        for (const file of files) await store.saveWorkspaceFile(sessionId, file);

        const listed = await store.listWorkspaceFiles(sessionId);
        for (const entry of listed) expect(entry).not.toHaveProperty("content");
        expect(listed.map((entry) => entry.path)).toEqual([
          "B.txt",
          "a b.txt",
          "a-b.txt",
          "a.txt",
          "a/b.txt",
          "b.txt",
          "é.txt",
          "～.txt",
          "😀.txt",
        ]);
        expect(listed).toEqual(sortedByPath(files.map(storedFileInfo)));
      });

      it("upserts by path: content and metadata are replaced, larger or smaller", async () => {
        const store = await adapter();
        const { sessionId } = await createdSession(store);
        const versions = [
          storedFileFixture("doc.bin", randomBytes(3 * 1024 * 1024 + 1), "2025-01-01T00:00:00.000Z"),
          storedFileFixture("doc.bin", Uint8Array.from([0xff, 0x00]), "2025-01-02T00:00:00.000Z"),
          storedFileFixture("doc.bin", randomBytes(2 * 1024 * 1024 + 7), "2025-01-03T00:00:00.000Z"),
          storedFileFixture("doc.bin", new Uint8Array(0), "2025-01-04T00:00:00.000Z"),
        ];
        for (const version of versions) {
          await store.saveWorkspaceFile(sessionId, version);
          expect(await store.listWorkspaceFiles(sessionId)).toEqual([storedFileInfo(version)]);
          await expectContent(store, sessionId, version);
        }
      }, 60_000);

      it("loads null for a path never stored, and after a delete", async () => {
        const store = await adapter();
        const { sessionId } = await createdSession(store);
        const kept = storedFileFixture("kept.txt", "kept");
        const doomed = storedFileFixture("doomed.bin", randomBytes(1024));
        await store.saveWorkspaceFile(sessionId, kept);
        await store.saveWorkspaceFile(sessionId, doomed);
        expect(await store.loadWorkspaceFile(sessionId, "never-written.txt")).toBeNull();
        expect(await store.loadWorkspaceFile(sessionId, "KEPT.TXT")).toBeNull();

        await store.deleteWorkspaceFile(sessionId, doomed.path);
        await store.deleteWorkspaceFile(sessionId, doomed.path);
        expect(await store.loadWorkspaceFile(sessionId, doomed.path)).toBeNull();
        expect(await store.listWorkspaceFiles(sessionId)).toEqual([storedFileInfo(kept)]);
        await expectContent(store, sessionId, kept);

        await store.saveWorkspaceFile(sessionId, doomed);
        await expectContent(store, sessionId, doomed);
      });

      it("loads ranges of a stored file when the adapter declares loadWorkspaceFileRange", async (context) => {
        const store = await adapter();
        const loadRange = store.loadWorkspaceFileRange?.bind(store);
        if (!loadRange) return context.skip("the adapter has no loadWorkspaceFileRange (optional)");
        const { sessionId } = await createdSession(store);
        const file = storedFileFixture("ranges/random.bin", randomBytes(3 * 1024 * 1024 + 5));
        await store.saveWorkspaceFile(sessionId, file);
        /** Reads `count` bytes from `start` in as many calls as the adapter needs. */
        const read = async (start: number, count: number): Promise<Buffer> => {
          const parts: Uint8Array[] = [];
          for (let at = start; at < start + count; ) {
            const part = await loadRange(sessionId, file.path, at, start + count - at);
            expect(part).toMatchObject({ size: file.size, sha256: file.sha256 });
            expect(part!.bytes.byteLength).toBeGreaterThan(0);
            expect(part!.bytes.byteLength).toBeLessThanOrEqual(start + count - at);
            parts.push(part!.bytes);
            at += part!.bytes.byteLength;
          }
          return Buffer.concat(parts);
        };
        const content = Buffer.from(file.content);
        for (const [start, count] of [
          [0, 10],
          [1024 * 1024 - 3, 6],
          [1_000_000, 2_100_000],
          [file.size - 5, 5],
          [0, file.size],
        ] as const) {
          expect(
            (await read(start, count)).equals(content.subarray(start, start + count)),
            `${start}+${count}`,
          ).toBe(true);
        }
        for (const [start, maxBytes] of [
          [file.size, 10],
          [file.size + 100, 10],
          [5, 0],
        ] as const) {
          const part = await loadRange(sessionId, file.path, start, maxBytes);
          expect(part).toMatchObject({ size: file.size, sha256: file.sha256 });
          expect(part!.bytes.byteLength).toBe(0);
        }
        expect(await loadRange(sessionId, "ranges/missing.bin", 0, 10)).toBeNull();
        expect(await loadRange(`never-${randomUUID()}`, file.path, 0, 10)).toBeNull();

        const empty = storedFileFixture("ranges/empty.bin", new Uint8Array(0));
        await store.saveWorkspaceFile(sessionId, empty);
        expect(await loadRange(sessionId, empty.path, 0, 10)).toMatchObject({
          size: 0,
          sha256: empty.sha256,
        });
        const replaced = storedFileFixture(file.path, Uint8Array.from([9, 8, 7]));
        await store.saveWorkspaceFile(sessionId, replaced);
        const part = await loadRange(sessionId, file.path, 0, 10);
        expect(part?.sha256).toBe(replaced.sha256);
        expect(Buffer.from(part!.bytes)).toEqual(Buffer.from([9, 8, 7]));
      }, 60_000);

      it("keeps files of different sessions apart", async () => {
        const store = await adapter();
        const first = await createdSession(store);
        const second = await createdSession(store);
        const mine = storedFileFixture("same.bin", Uint8Array.from([1]));
        const theirs = storedFileFixture("same.bin", Uint8Array.from([2]));
        await store.saveWorkspaceFile(first.sessionId, mine);
        await store.saveWorkspaceFile(second.sessionId, theirs);
        await store.deleteWorkspaceFile(second.sessionId, "same.bin");
        await expectContent(store, first.sessionId, mine);
        expect(await store.listWorkspaceFiles(second.sessionId)).toEqual([]);
      });
    });

    describe("agent profiles", () => {
      const seed = options.seedProfiles;
      const withSeed = seed ? it : it.skip;
      const reason = seed ? "" : " (skipped: no seedProfiles hook given)";

      withSeed(`lists and loads seeded profiles${reason}`, async () => {
        const store = await adapter();
        const suffix = randomUUID();
        const minimal = agentProfile({ id: `minimal-${suffix}`, name: "Minimal" });
        const full = agentProfile({
          id: `full-${suffix}`,
          name: "Full 全部 🧪",
          description: "Uses every field",
          systemPrompt: "Be precise.",
          agentMDFile: "# Memory\n",
          tools: ["Read", "Write"],
          skills: [
            {
              name: "review",
              description: "Reviews code",
              content: "Look for bugs.",
              files: [{ path: "checklist.md", content: "- tests" }],
            },
          ],
          subagents: [
            { name: "tester", description: "Writes tests", prompt: "Write tests.", tools: ["Write"] },
          ],
          commands: [{ name: "explain", description: "Explains", prompt: "Explain $ARGUMENTS" }],
          mcpServers: {
            local: { type: "stdio", command: "node", args: ["server.js"], env: { A: "1" } },
            remote: { type: "http", url: "https://example.com/mcp", headers: {} },
          },
          dependencies: { npm: ["left-pad"], pip: ["requests"] },
          env: { MODE: "test" },
          defaultFiles: [{ path: "notes/todo.md", content: "- [ ] ship" }],
          model: "claude-test",
        });
        await seed!(store, [minimal, full]);

        const listed = (await store.listAgentProfiles()).filter((profile) => profile.id.endsWith(suffix));
        expect(listed.sort((a, b) => a.id.localeCompare(b.id))).toEqual([full, minimal]);
        expect(await store.loadAgentProfile(full.id)).toEqual(full);
        expect(await store.loadAgentProfile(minimal.id)).toEqual(minimal);
        expect(await store.loadAgentProfile(`missing-${suffix}`)).toBeNull();
      });
    });
  });
}

/** Code points that trip naive encoders: astral emoji, CJK, RTL, combining marks, control characters (no NUL). */
const tricky =
  "emoji 😀👩‍👩‍👧‍👦🏳️‍🌈 · CJK 中文字符 日本語 한국어 · RTL مرحبا שלום · combining é ñ · " +
  'controls \u0001\u0007\b\t\n\u000b\f\r\u001b\u001f\u007f\u0085 · quotes \' " ` \\ · json {"a":[1]} · \u2028\u2029 · \uFEFF';

/** A valid `SessionRecord` with a fresh id; `overrides` replace its fields. For adapter tests. */
export function sessionRecordFixture(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    sessionId: `session-${randomUUID()}`,
    agentProfileRef: "default",
    architecture: "claude-agent-sdk",
    sessionOptions: {},
    createdAt: "2024-01-01T00:00:00.000Z",
    updatedAt: "2024-01-01T00:00:00.000Z",
    lastSeq: 0,
    usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0, costUsd: 0 },
    ...overrides,
  };
}

async function createdSession(store: PersistenceAdapter): Promise<SessionRecord> {
  const record = sessionRecordFixture();
  await store.createSession(record);
  return record;
}

/** Every stored session, read 100 at a time. */
async function listAll(store: PersistenceAdapter): Promise<SessionRecord[]> {
  const all: SessionRecord[] = [];
  for (;;) {
    const last = all.at(-1);
    const page = await store.listSessions({ limit: 100, ...(last ? { after: last } : {}) });
    all.push(...page);
    if (page.length < 100) return all;
  }
}

/** The sessions of `mine`, in the order the adapter listed them (storage may hold others). */
function ownSessions(listed: SessionRecord[], mine: SessionRecord[]): SessionRecord[] {
  const ids = new Set(mine.map((record) => record.sessionId));
  return listed.filter((record) => ids.has(record.sessionId));
}

/**
 * A `StoredFile` of `content` (bytes, or text stored as UTF-8) with its size
 * and SHA-256. For adapter tests.
 */
export function storedFileFixture(
  path: string,
  content: Uint8Array | string,
  modifiedAt = timestamp,
): StoredFile {
  return storedFile(path, content, modifiedAt);
}

/** Sorted by code point, which is the order of the paths' UTF-8 bytes. */
function sortedByPath(files: StoredFileInfo[]): StoredFileInfo[] {
  return [...files].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}

/** Checks the stored bytes of `file.path`: in full when small, by length and SHA-256 when large. */
async function expectContent(store: PersistenceAdapter, sessionId: string, file: StoredFile): Promise<void> {
  const loaded = await store.loadWorkspaceFile(sessionId, file.path);
  expect(loaded, `content of "${file.path}"`).toBeInstanceOf(Uint8Array);
  if (file.size <= 4096) {
    expect(hex(loaded), `content of "${file.path}"`).toBe(hex(file.content));
  } else {
    expect(loaded!.length, `size of "${file.path}"`).toBe(file.size);
    expect(contentHash(loaded!), `sha256 of "${file.path}"`).toBe(file.sha256);
  }
}

function hex(bytes: Uint8Array | null): string | null {
  return bytes && Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/**
 * Byte sequences that are not UTF-8: stray continuation bytes, overlong
 * forms, a UTF-16 surrogate, a code point above U+10FFFF, bytes UTF-8 never
 * uses, NUL, and a sequence cut off by the end of the file.
 */
const invalidUtf8 = Uint8Array.from([
  0x80, 0xbf, 0x41, 0xc0, 0xaf, 0xe0, 0x80, 0xaf, 0x00, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80, 0xf5, 0xfe,
  0xff, 0xe2, 0x82, 0x41, 0xf0, 0x9f, 0x98,
]);

const timestamp = "2024-05-06T07:08:09.010Z";

function textBlock(id: string, content: string): Extract<Block, { type: "assistant_text" }> {
  return { type: "assistant_text", id, timestamp, content };
}

function toolUseBlock(id: string, status: "running" | "success"): Extract<Block, { type: "tool_use" }> {
  return {
    type: "tool_use",
    id,
    timestamp,
    toolName: "Write",
    toolUseId: `toolu_${id}`,
    input: { file_path: "a.txt", content: "hello", nested: { list: [1, null, true] } },
    status,
  };
}

function allBlockTypes(): Block[] {
  return [
    { type: "user_message", id: "k-user", timestamp, content: "Hello" },
    { type: "thinking", id: "k-think", timestamp, content: "Let me think" },
    { ...textBlock("k-text", "Hi there"), model: "claude-test" },
    toolUseBlock("k-tool", "success"),
    {
      type: "tool_result",
      id: "k-result",
      timestamp,
      toolUseId: "toolu_k-tool",
      content: "ok",
      isError: false,
      durationMs: 1520,
    },
    {
      type: "system",
      id: "k-system",
      timestamp,
      content: "init",
      subtype: "init",
      metadata: { tools: ["Read"], n: 1 },
    },
    {
      type: "subagent",
      id: "k-sub",
      timestamp,
      subagentId: "toolu_task",
      name: "tester",
      status: "completed",
      prompt: "Write tests",
      description: "Writes tests",
      output: "Done",
      displayName: "Tester",
      summary: "Done",
      durationMs: 4200,
    },
    { type: "assistant_text", id: "k-sub-text", timestamp, content: "inside", subagentId: "toolu_task" },
    { type: "error", id: "k-error", timestamp, message: "Boom", code: "AGENT_FAILED" },
  ];
}

function agentProfile(fields: Partial<AgentProfile> & Pick<AgentProfile, "id" | "name">): AgentProfile {
  return {
    skills: [],
    subagents: [],
    commands: [],
    mcpServers: {},
    dependencies: { npm: [], pip: [] },
    network: { allow: [] },
    env: {},
    defaultFiles: [],
    ...fields,
  };
}
