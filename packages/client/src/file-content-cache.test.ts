import { describe, expect, it } from "vitest";
import { FileContentCache } from "./file-content-cache.js";

/** A reader that counts reads and answers what `files` holds at the time of the read. */
function reader(files: Record<string, string>) {
  const reads: string[] = [];
  const read = async (sessionId: string, path: string) => {
    reads.push(`${sessionId}:${path}`);
    const content = files[path];
    if (content === undefined) throw new Error(`no ${path}`);
    return content;
  };
  return { read, reads };
}

describe("FileContentCache", () => {
  it("reads a file once per version and again when its version changes", async () => {
    const files = { "a.txt": "one" };
    const { read, reads } = reader(files);
    const cache = new FileContentCache(read);
    expect(await cache.get("s", "a.txt", "v1")).toBe("one");
    expect(await cache.get("s", "a.txt", "v1")).toBe("one");
    expect(reads).toEqual(["s:a.txt"]);
    files["a.txt"] = "two";
    expect(await cache.get("s", "a.txt", "v2")).toBe("two");
    expect(await cache.get("s", "a.txt", "v2")).toBe("two");
    expect(reads).toEqual(["s:a.txt", "s:a.txt"]);
  });

  it("shares one read between concurrent callers, keeps sessions apart, and never caches an unversioned file", async () => {
    const { read, reads } = reader({ "a.txt": "one" });
    const cache = new FileContentCache(read);
    await Promise.all([cache.get("s", "a.txt", "v1"), cache.get("s", "a.txt", "v1")]);
    await cache.get("t", "a.txt", "v1");
    await cache.get("s", "a.txt", undefined);
    await cache.get("s", "a.txt", undefined);
    expect(reads).toEqual(["s:a.txt", "t:a.txt", "s:a.txt", "s:a.txt"]);
  });

  it("forgets a failed read", async () => {
    const files: Record<string, string> = {};
    const { read, reads } = reader(files);
    const cache = new FileContentCache(read);
    await expect(cache.get("s", "late.txt", "v1")).rejects.toThrow("no late.txt");
    files["late.txt"] = "here";
    expect(await cache.get("s", "late.txt", "v1")).toBe("here");
    expect(reads).toHaveLength(2);
  });

  it("stays within its entry and size bounds, evicting the least recently used", async () => {
    const files = { a: "aaaa", b: "bbbb", c: "cccc", big: "x".repeat(20) };
    const { read, reads } = reader(files);
    const cache = new FileContentCache(read, { maxEntries: 2, maxChars: 10 });
    await cache.get("s", "a", "1");
    await cache.get("s", "b", "1");
    await cache.get("s", "a", "1"); // a is now the most recently used
    await cache.get("s", "c", "1"); // evicts b
    await cache.get("s", "a", "1");
    await cache.get("s", "b", "1");
    expect(reads).toEqual(["s:a", "s:b", "s:c", "s:b"]);
    // Larger than the whole cache: answered, never kept.
    await cache.get("s", "big", "1");
    await cache.get("s", "big", "1");
    expect(reads.filter((r) => r === "s:big")).toHaveLength(2);
    expect(cache.size).toBeLessThanOrEqual(2);
  });

  it("drops a session's entries", async () => {
    const { read, reads } = reader({ a: "1" });
    const cache = new FileContentCache(read);
    await cache.get("s", "a", "1");
    await cache.get("t", "a", "1");
    cache.dropSession("s");
    await cache.get("s", "a", "1");
    await cache.get("t", "a", "1");
    expect(reads).toEqual(["s:a", "t:a", "s:a"]);
  });
});
