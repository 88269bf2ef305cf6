import { buffer } from "node:stream/consumers";
import type { WorkspaceFile } from "@agent-runtime/protocol";
import { describe, expect, it } from "vitest";
import { invalidPath } from "../../src/confined-path.js";
import { RuntimeError } from "../../src/errors.js";
import { workspaceArchive } from "../../src/transport/http/workspace-archive.js";
import { untarGz } from "./untar.js";

const file = (path: string): WorkspaceFile => ({ path, size: 0, modifiedAt: "2024-05-01T12:00:00.000Z" });

/**
 * The archive itself, over an index and a reader (issue 14): every name
 * comes out exactly as it went in, and a file left out is reported with its
 * reason.
 */
describe("workspace archive", () => {
  it("holds every name Linux accepts, byte for byte", async () => {
    const names = [
      `${"n".repeat(220)}.txt`,
      "a".repeat(255),
      "日".repeat(85),
      "ünïcødé ✓ 🦀.txt",
      "line\nbreak.txt",
      "back\\slash.txt",
      "..\\..\\etc\\passwd",
      "-rf",
      "trailing space ",
      `${"d".repeat(255)}/${"e".repeat(255)}/${"f".repeat(255)}/${"g".repeat(255)}`,
      `${"short/".repeat(30)}file`,
    ];
    const contents = new Map(names.map((name, index) => [name, Buffer.from(`${index}:${name}`)]));
    const skipped: string[] = [];
    const archive = workspaceArchive({
      files: names.map(file),
      read: async (path) => contents.get(path)!,
      onSkipped: (path) => skipped.push(path),
    });
    const entries = await untarGz(new Uint8Array(await buffer(archive)));
    expect(entries.map((entry) => entry.name)).toEqual(names);
    for (const entry of entries) {
      expect(entry.type, entry.name).toBe("file");
      expect(entry.content.equals(contents.get(entry.name)!), entry.name).toBe(true);
    }
    expect(skipped).toEqual([]);
  });

  it("leaves out what is not a regular file or is gone, and reports each with its reason", async () => {
    const skipped: Array<{ path: string; reason: string }> = [];
    const archive = workspaceArchive({
      files: ["a.txt", "fifo", "gone.txt", "z.txt"].map(file),
      read: async (path) => {
        if (path === "fifo") throw invalidPath(`/workspace/${path}`, "is not a regular file");
        if (path === "gone.txt") throw new RuntimeError("FILE_NOT_FOUND", `No file at /workspace/${path}`);
        return Buffer.from(path);
      },
      onSkipped: (path, reason) => skipped.push({ path, reason }),
    });
    const entries = await untarGz(new Uint8Array(await buffer(archive)));
    expect(entries.map((entry) => [entry.name, entry.content.toString()])).toEqual([
      ["a.txt", "a.txt"],
      ["z.txt", "z.txt"],
    ]);
    expect(skipped).toEqual([
      { path: "fifo", reason: expect.stringContaining("is not a regular file") },
      { path: "gone.txt", reason: expect.stringContaining("No file at") },
    ]);
  });

  it("fails the stream on any other read error, so an incomplete archive never looks complete", async () => {
    const archive = workspaceArchive({
      files: ["a.txt", "b.txt"].map(file),
      read: async (path) => {
        if (path === "b.txt") throw Object.assign(new Error("EIO: i/o error"), { code: "EIO" });
        return Buffer.from(path);
      },
      onSkipped: () => undefined,
    });
    await expect(buffer(archive)).rejects.toThrow("EIO");
  });
});
