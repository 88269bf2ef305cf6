import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { extract } from "tar-stream";
import { describe, expect, it } from "vitest";
import { bytesFileReader } from "../../sandboxes/bytes-file-reader.js";
import { OMITTED_ENTRY_NAME, type OmittedFile, workspaceArchive } from "./workspace-archive.js";

/** Every entry of a gzipped tar: name, type, link target and text. */
async function entriesOf(archive: Readable) {
  const entries: Array<{ name: string; type: string; linkname?: string; text: string }> = [];
  const unpack = extract();
  archive.pipe(createGunzip()).pipe(unpack);
  for await (const entry of unpack) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    const { name, type, linkname } = entry.header;
    entries.push({
      name,
      type: type ?? "file",
      ...(linkname ? { linkname } : {}),
      text: Buffer.concat(chunks).toString(),
    });
  }
  return entries;
}

describe("workspaceArchive", () => {
  it("archives links as links and leaves out, naming it, a file indexed below a link", async () => {
    const modifiedAt = new Date().toISOString();
    const omitted: OmittedFile[] = [];
    const archive = workspaceArchive({
      files: [
        { path: "a", size: 4, modifiedAt, linkTarget: "/etc" },
        { path: "a/passwd", size: 6, modifiedAt },
        { path: "b.txt", size: 1, modifiedAt },
      ],
      open: async (path) => bytesFileReader(new TextEncoder().encode(path === "b.txt" ? "b" : "pwned!")),
      maxFileBytes: 1024,
      onOmitted: (file) => omitted.push(file),
    });
    const entries = await entriesOf(archive);
    expect(entries.map(({ name, type, linkname }) => [name, type, linkname])).toEqual([
      ["a", "symlink", "/etc"],
      ["b.txt", "file", undefined],
      [OMITTED_ENTRY_NAME, "file", undefined],
    ]);
    expect(omitted).toEqual([{ path: "a/passwd", reason: "below the symbolic link a" }]);
  });
});
