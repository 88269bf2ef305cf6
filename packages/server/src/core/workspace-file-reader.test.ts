import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { describe, expect, it } from "vitest";
import { createMemoryPersistenceAdapter } from "../persistence/memory/memory-persistence-adapter.js";
import type { PersistenceAdapter } from "../persistence/persistence-adapter.js";
import { storedFile } from "../persistence/stored-file.js";
import { bytesFileReader } from "../sandboxes/bytes-file-reader.js";
import type { Sandbox } from "../sandboxes/sandbox-provider.js";
import { sessionRecordFixture } from "../testing/persistence-contract.js";
import { openSandboxFile, openStoredFile } from "./workspace-file-reader.js";

const MiB = 1024 * 1024;

async function storeWith(path: string, content: Uint8Array) {
  const store = createMemoryPersistenceAdapter();
  const record = sessionRecordFixture();
  await store.createSession(record);
  const { sessionId } = record;
  await store.saveWorkspaceFile(sessionId, storedFile(path, content, "2025-01-01T00:00:00.000Z"));
  return { store, sessionId };
}

describe("openStoredFile", () => {
  it("streams a stored file, or a range of it, a chunk at a time", async () => {
    const content = randomBytes(3 * MiB + 3);
    const { store, sessionId } = await storeWith("a.bin", content);
    const calls: number[] = [];
    const counting: PersistenceAdapter = {
      ...store,
      loadWorkspaceFileRange: (id, path, start, max) => {
        calls.push(start);
        return store.loadWorkspaceFileRange!(id, path, start, max);
      },
    };
    const reader = await openStoredFile(counting, sessionId, "a.bin");
    expect(reader?.size).toBe(content.length);
    expect((await buffer(reader!.read())).equals(content)).toBe(true);
    expect(calls).toEqual([0, 0, MiB, 2 * MiB, 3 * MiB]);

    const part = await openStoredFile(store, sessionId, "a.bin");
    const range = { start: MiB - 2, end: 2 * MiB + 1 };
    expect((await buffer(part!.read(range))).equals(content.subarray(range.start, range.end + 1))).toBe(true);
    expect(await openStoredFile(store, sessionId, "missing.bin")).toBeNull();
  });

  it("fails the stream when the file is replaced while it is read, never mixing two versions", async () => {
    const { store, sessionId } = await storeWith("a.bin", new Uint8Array(8 * MiB));
    const reader = await openStoredFile(store, sessionId, "a.bin");
    const chunks = reader!.read()[Symbol.asyncIterator]();
    await chunks.next();
    const replacement = new Uint8Array(8 * MiB).fill(1);
    await store.saveWorkspaceFile(sessionId, storedFile("a.bin", replacement, "2025-01-02T00:00:00.000Z"));
    const rest = async () => {
      for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
        expect((next.value as Buffer).includes(1)).toBe(false);
      }
    };
    await expect(rest()).rejects.toMatchObject({ code: "CONFLICT" });
  });

  it("loads the whole file when the adapter cannot read ranges", async () => {
    const content = randomBytes(1000);
    const { store, sessionId } = await storeWith("a.bin", content);
    const { loadWorkspaceFileRange: _, ...wholeOnly } = store;
    const reader = await openStoredFile(wholeOnly, sessionId, "a.bin");
    expect((await buffer(reader!.read({ start: 10, end: 19 }))).equals(content.subarray(10, 20))).toBe(true);
  });
});

describe("openSandboxFile", () => {
  /** The only members `openSandboxFile` uses. */
  const sandboxWith = (members: Pick<Sandbox, "readFile" | "openFile">) => members as Sandbox;

  it("reads through readFile when the provider cannot open files", async () => {
    const sandbox = sandboxWith({ readFile: async () => Buffer.from("hello") });
    const reader = await openSandboxFile(sandbox, "/workspace/a.txt");
    expect(reader.size).toBe(5);
    expect((await buffer(reader.read({ start: 1, end: 3 }))).toString()).toBe("ell");
  });

  it.each([
    ["shorter", Buffer.from("1234")],
    ["longer", Buffer.from("1234567")],
  ])("fails a stream %s than its range, so a changed file never passes for complete", async (_, bytes) => {
    const sandbox = sandboxWith({
      readFile: async () => Buffer.from("12345"),
      openFile: async () => ({
        ...bytesFileReader(Buffer.from("12345")),
        read: () => Readable.from([bytes]),
      }),
    });
    const reader = await openSandboxFile(sandbox, "/workspace/a.txt");
    await expect(buffer(reader.read())).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining("changed while it was read"),
    });
  });
});
