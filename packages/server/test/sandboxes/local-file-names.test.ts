import { randomUUID } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createLocalSandboxProvider } from "../../src/sandboxes/local/local-sandbox-provider.js";
import { runInSandbox } from "../../src/sandboxes/sandbox-contract.js";
import type { Sandbox, SandboxProvider } from "../../src/sandboxes/sandbox-provider.js";
import { unmountAllBelow } from "../support/mounts.js";

/**
 * Every name Linux accepts in a folder (any bytes but `/` and NUL, up to 255
 * bytes) works through the local provider's file operations, whether the
 * runtime or the agent made the file: issue 14, "a long file name bricks the
 * session".
 */
const testRoot = await mkdtemp(join(tmpdir(), "local-file-names-"));
// Sandboxes run as other users, which must be able to enter it.
await chmod(testRoot, 0o711);

const utf8Bytes = (name: string) => Buffer.byteLength(name, "utf8");

/** Legal names and paths that the server's path rules have always accepted. */
const ODD_NAMES = [
  `${"n".repeat(220)}.txt`,
  "a".repeat(255),
  "日".repeat(85),
  `${"é".repeat(126)}.x`,
  "ünïcødé ✓ 🦀.txt",
  "with  spaces .txt",
  " leading space",
  "line\nbreak.txt",
  "tab\tname",
  "-rf",
  "--help",
  ".hidden",
  "*?[glob]{a,b}",
  "$(echo pwned) `id`",
  "'quote\"",
  `nested dir/with space/${"z".repeat(255)}`,
];

/**
 * A backslash is an ordinary character in a Linux name, not a separator; and
 * a path may be far longer than 1024 bytes (PATH_MAX is 4096).
 */
const BACKSLASH_AND_DEEP_NAMES = [
  "back\\slash.txt",
  "..\\..\\etc\\passwd",
  "dir\\",
  "\\",
  ["d", "e", "f", "g", "h"].map((letter) => letter.repeat(255)).join("/"),
];

describe("local sandbox: every legal file name", () => {
  let provider: SandboxProvider;
  const created: Sandbox[] = [];
  const create = async () => {
    const sandbox = await provider.create({ name: `names-${randomUUID().slice(0, 8)}` });
    created.push(sandbox);
    return sandbox;
  };

  beforeAll(async () => {
    provider = createLocalSandboxProvider({ rootDir: join(testRoot, "sandboxes"), limits: { diskMiB: 64 } });
    await provider.check();
  });
  afterEach(async () => {
    await Promise.all(created.splice(0).map((sandbox) => provider.remove(sandbox.name)));
  });
  afterAll(async () => {
    unmountAllBelow(testRoot);
    await rm(testRoot, { recursive: true, force: true });
  });

  /** Writes, lists, reads and deletes `names` through the provider, and checks the agent sees the same files. */
  const roundTrip = async (names: readonly string[]) => {
    for (const name of names) {
      for (const segment of name.split("/")) expect(utf8Bytes(segment), name).toBeLessThanOrEqual(255);
    }
    const sandbox = await create();
    const content = (name: string) => `content of ${JSON.stringify(name)}\n`;
    await sandbox.writeFiles(names.map((name) => ({ path: `/workspace/${name}`, content: content(name) })));

    expect((await sandbox.listWorkspace()).map((entry) => entry.path).sort()).toEqual([...names].sort());
    for (const name of names) {
      expect(Buffer.from(await sandbox.readFile(`/workspace/${name}`)).toString(), name).toBe(content(name));
    }
    // The agent sees exactly these files, NUL-separated so that a newline in a name is a name.
    const seen = await runInSandbox(sandbox, ["find", "/workspace", "-type", "f", "-printf", "%P\\0"]);
    expect(seen.stdout.split("\0").filter(Boolean).sort()).toEqual([...names].sort());

    // Writing over a file the agent made with that name (what a restore does) works too.
    const agentMade = await runInSandbox(sandbox, [
      "sh",
      "-c",
      'for name in "$@"; do printf agent > "/workspace/$name"; done',
      "sh",
      ...names,
    ]);
    expect(agentMade.code, agentMade.stderr).toBe(0);
    await sandbox.writeFiles(names.map((name) => ({ path: `/workspace/${name}`, content: "runtime" })));
    for (const name of names) {
      expect(Buffer.from(await sandbox.readFile(`/workspace/${name}`)).toString(), name).toBe("runtime");
    }

    for (const name of names) await sandbox.deleteFile(`/workspace/${name}`);
    expect(await sandbox.listWorkspace()).toEqual([]);
  };

  it("writes, reads, lists and deletes files with long, Unicode, blank, newline and dash names", async () => {
    await roundTrip(ODD_NAMES);
  });

  it("writes, reads, lists and deletes files whose names hold a backslash or whose path is 1,279 bytes long", async () => {
    await roundTrip(BACKSLASH_AND_DEEP_NAMES);
  });

  it("a file the agent named with 255 bytes is listed, read and written over (restore) in the home folder too", async () => {
    const sandbox = await create();
    const name = "h".repeat(255);
    const made = await runInSandbox(sandbox, ["sh", "-c", `printf agent > /home/agent/${name}`]);
    expect(made.code, made.stderr).toBe(0);
    expect(Buffer.from(await sandbox.readFile(`/home/agent/${name}`)).toString()).toBe("agent");
    await sandbox.writeFiles([{ path: `/home/agent/${name}`, content: "runtime", readOnly: true }]);
    expect(Buffer.from(await sandbox.readFile(`/home/agent/${name}`)).toString()).toBe("runtime");
    const seen = await runInSandbox(sandbox, ["cat", `/home/agent/${name}`]);
    expect(seen.stdout).toBe("runtime");
  });

  it("leaves a name that is not valid UTF-8 out of the listing, which could only show it mangled", async () => {
    const sandbox = await create();
    const made = await runInSandbox(sandbox, [
      "sh",
      "-c",
      "printf x > /workspace/ok.txt && printf x > \"$(printf '/workspace/bad\\377name')\"",
    ]);
    expect(made.code, made.stderr).toBe(0);
    expect(
      (await runInSandbox(sandbox, ["ls", "/workspace"])).stdout.split("\n").filter(Boolean),
    ).toHaveLength(2);
    expect((await sandbox.listWorkspace()).map((entry) => entry.path)).toEqual(["ok.txt"]);
  });
});
