import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { setTimeout as delay } from "node:timers/promises";
import type { WorkspaceFile } from "@agent-runtime/protocol";
import { describe, expect, it } from "vitest";
import { invalidPath } from "../../src/confined-path.js";
import type { WorkspaceFileReader } from "../../src/core/workspace-file-reader.js";
import { RuntimeError } from "../../src/errors.js";
import { bytesFileReader } from "../../src/sandboxes/bytes-file-reader.js";
import {
  OMITTED_ENTRY_NAME,
  type OmittedFile,
  workspaceArchive,
} from "../../src/transport/http/workspace-archive.js";
import { untarGz } from "./untar.js";

const file = (path: string): WorkspaceFile => ({ path, size: 0, modifiedAt: "2024-05-01T12:00:00.000Z" });
const opener = (contents: (path: string) => Uint8Array) => async (path: string) =>
  bytesFileReader(contents(path));
const unlimited = Number.MAX_SAFE_INTEGER;

/**
 * The archive itself, over an index and an opener (issues 14 and 15): every
 * name comes out exactly as it went in, files stream in with bounded
 * memory, and a file left out is named with its reason in a last entry.
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
    const omitted: OmittedFile[] = [];
    const archive = workspaceArchive({
      files: names.map(file),
      open: opener((path) => contents.get(path)!),
      maxFileBytes: unlimited,
      onOmitted: (entry) => omitted.push(entry),
    });
    const entries = await untarGz(new Uint8Array(await buffer(archive)));
    expect(entries.map((entry) => entry.name)).toEqual(names);
    for (const entry of entries) {
      expect(entry.type, entry.name).toBe("file");
      expect(entry.content.equals(contents.get(entry.name)!), entry.name).toBe(true);
    }
    expect(omitted).toEqual([]);
  });

  it("leaves out what is too large, not a regular file or gone, and names each in a last entry", async () => {
    const omitted: OmittedFile[] = [];
    const archive = workspaceArchive({
      files: ["a.txt", "big.bin", "fifo", "gone.txt", "z.txt"].map(file),
      open: async (path) => {
        if (path === "fifo") throw invalidPath(`/workspace/${path}`, "is not a regular file");
        if (path === "gone.txt") throw new RuntimeError("FILE_NOT_FOUND", `No file at /workspace/${path}`);
        return bytesFileReader(path === "big.bin" ? new Uint8Array(101) : Buffer.from(path));
      },
      maxFileBytes: 100,
      onOmitted: (entry) => omitted.push(entry),
    });
    const entries = await untarGz(new Uint8Array(await buffer(archive)));
    expect(entries.map((entry) => entry.name)).toEqual(["a.txt", "z.txt", OMITTED_ENTRY_NAME]);
    expect(entries[1]!.content.toString()).toBe("z.txt");
    const expected = [
      { path: "big.bin", size: 101, reason: "101 bytes, over the 100-byte limit of one file" },
      { path: "fifo", reason: expect.stringContaining("is not a regular file") },
      { path: "gone.txt", reason: expect.stringContaining("No file at") },
    ];
    expect(omitted).toEqual(expected);
    expect(JSON.parse(entries[2]!.content.toString("utf8"))).toEqual({ omitted: expected });
  });

  it("reads a file only as fast as the archive is consumed, and stops reading when it is destroyed", async () => {
    // Incompressible (a random block longer than gzip's window), so output keeps pace with input.
    const block = randomBytes(64 * 1024);
    let produced = 0;
    let released = false;
    const endless: WorkspaceFileReader = {
      size: 2 ** 40,
      read: () =>
        Readable.from(
          (async function* () {
            try {
              for (;;) {
                produced += block.length;
                yield block;
              }
            } finally {
              released = true;
            }
          })(),
          { objectMode: false },
        ),
      close: async () => undefined,
    };
    const archive = workspaceArchive({
      files: [file("endless.bin")],
      open: async () => endless,
      maxFileBytes: unlimited,
      onOmitted: () => undefined,
    });
    let consumed = 0;
    for await (const chunk of archive) {
      consumed += (chunk as Buffer).length;
      if (consumed >= 4 * 1024 * 1024) break;
    }
    // `break` destroyed the archive; before that, a paused consumer held the reading back.
    await delay(100);
    expect(produced).toBeLessThan(consumed + 4 * 1024 * 1024);
    expect(released).toBe(true);
  });

  it("fails the stream on any other open or read error, so an incomplete archive never looks complete", async () => {
    const failingOpen = workspaceArchive({
      files: ["a.txt", "b.txt"].map(file),
      open: async (path) => {
        if (path === "b.txt") throw Object.assign(new Error("EIO: i/o error"), { code: "EIO" });
        return bytesFileReader(Buffer.from(path));
      },
      maxFileBytes: unlimited,
      onOmitted: () => undefined,
    });
    await expect(buffer(failingOpen)).rejects.toThrow("EIO");

    const failingRead = workspaceArchive({
      files: [file("a.txt")],
      open: async () => ({
        size: 10,
        read: () =>
          Readable.from(
            (async function* () {
              yield Buffer.from("12345");
              throw new RuntimeError("CONFLICT", "File a.txt changed while it was read (5 of 10 bytes)");
            })(),
            { objectMode: false },
          ),
        close: async () => undefined,
      }),
      maxFileBytes: unlimited,
      onOmitted: () => undefined,
    });
    await expect(buffer(failingRead)).rejects.toThrow("changed while it was read");
  });
});
