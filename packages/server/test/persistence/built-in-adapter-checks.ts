import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import type { BuiltInPersistenceAdapter } from "../../src/persistence/built-in-persistence-adapter.js";
import { sessionRecordFixture, storedFileFixture } from "../../src/testing/persistence-contract.js";

/** Seeds profiles through the built-in adapters' `saveAgentProfile`. */
export async function seedProfiles(
  adapter: BuiltInPersistenceAdapter,
  profiles: Parameters<BuiltInPersistenceAdapter["saveAgentProfile"]>[0][],
): Promise<void> {
  for (const profile of profiles) await adapter.saveAgentProfile(profile);
}

/** What `BuiltInPersistenceAdapter` promises beyond the interface contract. */
export function runBuiltInAdapterChecks(
  name: string,
  createAdapter: () => Promise<BuiltInPersistenceAdapter>,
) {
  describe(`built-in adapter semantics: ${name}`, () => {
    const open: BuiltInPersistenceAdapter[] = [];
    async function adapter() {
      const created = await createAdapter();
      open.push(created);
      await created.init();
      return created;
    }
    afterEach(async () => {
      for (const created of open.splice(0)) await created.close();
    });

    it("declares every optional capability of the interface, so the contract's optional cases run for it", async () => {
      const store = await adapter();
      for (const capability of [
        "addTenantUsage",
        "loadTenantUsage",
        "appendAuditRecords",
        "listAuditRecords",
        "pruneAuditRecords",
      ] as const)
        expect(typeof store[capability], capability).toBe("function");
    });

    it("rejects createSession with a different record under an existing id (CONFLICT)", async () => {
      const store = await adapter();
      const record = sessionRecordFixture();
      await store.createSession(record);
      await expect(store.createSession({ ...record, title: "other" })).rejects.toMatchObject({
        code: "CONFLICT",
      });
      expect(await store.loadSession(record.sessionId)).toEqual(record);
    });

    it("rejects writes for a session that does not exist (SESSION_NOT_FOUND)", async () => {
      const store = await adapter();
      const record = sessionRecordFixture();
      const block = { type: "user_message" as const, id: "b", timestamp: record.createdAt, content: "x" };
      await expect(store.updateSession(record)).rejects.toMatchObject({ code: "SESSION_NOT_FOUND" });
      await expect(store.saveBlocks(record.sessionId, [{ order: 0, block }])).rejects.toMatchObject({
        code: "SESSION_NOT_FOUND",
      });
      await expect(store.saveTranscript(record.sessionId, "t")).rejects.toMatchObject({
        code: "SESSION_NOT_FOUND",
      });
      await expect(
        store.saveWorkspaceFile(record.sessionId, storedFileFixture("a", "")),
      ).rejects.toMatchObject({
        code: "SESSION_NOT_FOUND",
      });
      expect(await store.loadSession(record.sessionId)).toBeNull();
    });

    it("keeps the last entry when one saveBlocks call repeats an id", async () => {
      const store = await adapter();
      const record = sessionRecordFixture();
      await store.createSession(record);
      const block = (content: string) => ({
        type: "user_message" as const,
        id: "b",
        timestamp: record.createdAt,
        content,
      });
      await store.saveBlocks(record.sessionId, [
        { order: 0, block: block("first") },
        { order: 1, block: block("second") },
      ]);
      expect(await store.loadBlocks(record.sessionId)).toEqual([block("second")]);
    });

    it("saves a batch larger than one INSERT statement", async () => {
      const store = await adapter();
      const record = sessionRecordFixture();
      await store.createSession(record);
      const blocks = Array.from({ length: 1_050 }, (_, order) => ({
        order,
        block: {
          type: "assistant_text" as const,
          id: `b${order}`,
          timestamp: record.createdAt,
          content: `${order}`,
        },
      }));
      await store.saveBlocks(record.sessionId, blocks);
      expect((await store.loadBlocks(record.sessionId)).map((block) => block.id)).toEqual(
        blocks.map(({ block }) => block.id),
      );
    });

    it("validates profiles in saveAgentProfile and applies defaults", async () => {
      const store = await adapter();
      const id = `p-${randomUUID()}`;
      const saved = await store.saveAgentProfile({ id, name: "P" });
      expect(saved).toMatchObject({ id, name: "P", skills: [], env: {}, dependencies: { npm: [], pip: [] } });
      expect(await store.loadAgentProfile(id)).toEqual(saved);
      await store.saveAgentProfile({ ...saved, name: "P2" });
      expect((await store.loadAgentProfile(id))?.name).toBe("P2");

      const invalid = store.saveAgentProfile({ id, name: 42 } as unknown as { id: string; name: string });
      await expect(invalid).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
      await expect(invalid).rejects.toThrow(/name: .*expected string/);
      expect((await store.loadAgentProfile(id))?.name).toBe("P2");
    });
  });
}
