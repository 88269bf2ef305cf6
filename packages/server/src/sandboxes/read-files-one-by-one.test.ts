import { describe, expect, it } from "vitest";
import { createFakeSandboxProvider } from "../testing/fake-sandbox-provider.js";
import { readFilesOneByOne } from "./read-files-one-by-one.js";
import type { SandboxFileRead } from "./sandbox-provider.js";

async function collect(entries: AsyncIterable<SandboxFileRead>): Promise<SandboxFileRead[]> {
  const all: SandboxFileRead[] = [];
  for await (const entry of entries) all.push(entry);
  return all;
}

describe("readFilesOneByOne", () => {
  it("gives each distinct path one entry: content, or the read's RuntimeError (fake sandbox)", async () => {
    const sandbox = await createFakeSandboxProvider().create({ name: "s" });
    await sandbox.writeFiles([{ path: "/workspace/a.bin", content: Uint8Array.of(0, 255, 0xc3) }]);
    const entries = await collect(
      sandbox.readFiles(["/workspace/a.bin", "/workspace/missing", "/etc/passwd", "/workspace/a.bin"]),
    );
    expect(entries).toEqual([
      { path: "/workspace/a.bin", content: Uint8Array.of(0, 255, 0xc3) },
      { path: "/workspace/missing", error: expect.objectContaining({ code: "FILE_NOT_FOUND" }) },
      { path: "/etc/passwd", error: expect.objectContaining({ code: "INVALID_PATH" }) },
    ]);
  });

  it("with maxBytes, reads no file larger than it: a FILE_TOO_LARGE entry with its size instead", async () => {
    const sandbox = await createFakeSandboxProvider().create({ name: "s" });
    await sandbox.writeFiles([
      { path: "/workspace/big", content: "0123456789" },
      { path: "/workspace/fits", content: "01234" },
    ]);
    const entries = await collect(sandbox.readFiles(["/workspace/big", "/workspace/fits"], { maxBytes: 5 }));
    expect(entries).toEqual([
      { path: "/workspace/big", error: expect.objectContaining({ code: "FILE_TOO_LARGE" }), size: 10 },
      { path: "/workspace/fits", content: new TextEncoder().encode("01234") },
    ]);
  });

  it("turns any other failure into a SANDBOX_FAILED entry and goes on", async () => {
    const failure = new Error("EIO");
    const entries = await collect(
      readFilesOneByOne(
        {
          readFile: async (path) => {
            if (path === "/w/bad") throw failure;
            return Uint8Array.of(1);
          },
        },
        ["/w/bad", "/w/good"],
      ),
    );
    expect(entries).toEqual([
      { path: "/w/bad", error: expect.objectContaining({ code: "SANDBOX_FAILED", cause: failure }) },
      { path: "/w/good", content: Uint8Array.of(1) },
    ]);
  });
});
