import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, chown, link, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pack } from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RuntimeError } from "../../src/errors.js";
import type { ModalSandboxOptions } from "../../src/sandboxes/modal/modal-sandbox-options.js";
import { createModalSandboxProvider } from "../../src/sandboxes/modal/modal-sandbox-provider.js";
import type { Sandbox } from "../../src/sandboxes/sandbox-provider.js";
import { FakeModal, type FakeModalOptions } from "./modal-fake-client.js";

const credentials = { tokenId: "ak-test", tokenSecret: "as-test" };

function setup(options: ModalSandboxOptions = {}, fake: FakeModalOptions = {}) {
  const modal = new FakeModal(fake);
  const provider = createModalSandboxProvider({
    ...credentials,
    runnerBundle: null,
    ...options,
    createClient: modal.factory,
  });
  return { modal, provider };
}

/** Every entry of a `readFiles` call by path, failing on a path given twice. */
async function readAll(
  sandbox: Sandbox,
  paths: readonly string[],
): Promise<Map<string, Uint8Array | RuntimeError>> {
  const entries = new Map<string, Uint8Array | RuntimeError>();
  for await (const entry of sandbox.readFiles!(paths)) {
    expect(entries.has(entry.path), entry.path).toBe(false);
    entries.set(entry.path, "content" in entry ? entry.content : entry.error);
  }
  return entries;
}

/** A content's sha256, or the error code of an entry: cheap to compare and readable in a diff. */
function digest(value: Uint8Array | RuntimeError | undefined): string | undefined {
  if (value === undefined || !(value instanceof Uint8Array)) return value?.code;
  return createHash("sha256").update(value).digest("hex");
}

async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const archive = pack();
  for (const [name, content] of Object.entries(files)) archive.entry({ name }, content);
  archive.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of archive) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe("Modal sandbox: readFiles output checks (scripted)", () => {
  it("takes only what was asked for, and never reports a path the command did not account for as missing", async () => {
    const stdout = Buffer.concat([
      Buffer.from("M/workspace/gone\0M/etc/shadow\0\0"),
      await tarOf({ "/workspace/a.txt": "alpha", "/etc/passwd": "root:x:0:0" }),
    ]);
    const { modal, provider } = setup({}, { onExec: () => ({ code: 2, stdout, stderr: "tar: lost\n" }) });
    const sandbox = await provider.create({ name: "s" });
    const execsBefore = modal.execCalls.length;
    const entries = await readAll(sandbox, [
      "/workspace/a.txt",
      "/workspace/gone",
      "/workspace/lost",
      "/etc/x",
    ]);

    expect(modal.execCalls.length - execsBefore).toBe(1);
    expect(Buffer.from(await modal.execCalls.at(-1)!.stdin).toString()).toBe(
      "/workspace/a.txt\0/workspace/gone\0/workspace/lost\0",
    );
    expect([...entries.keys()].sort()).toEqual([
      "/etc/x",
      "/workspace/a.txt",
      "/workspace/gone",
      "/workspace/lost",
    ]);
    expect(Buffer.from(entries.get("/workspace/a.txt") as Uint8Array).toString()).toBe("alpha");
    expect(entries.get("/workspace/gone")).toMatchObject({ code: "FILE_NOT_FOUND" });
    expect(entries.get("/workspace/lost")).toMatchObject({
      code: "SANDBOX_FAILED",
      message: expect.stringContaining("exit code 2: tar: lost"),
    });
    expect(entries.get("/etc/x")).toMatchObject({ code: "INVALID_PATH" });
  });

  it("fails the call when the report runs past what was asked for, or the output ends inside it", async () => {
    for (const stdout of [`M/workspace/${"x".repeat(100)}\0\0`, "M/workspace/a"]) {
      const { provider } = setup({}, { onExec: () => ({ stdout }) });
      const sandbox = await provider.create({ name: "s" });
      await expect(readAll(sandbox, ["/workspace/a"])).rejects.toMatchObject({ code: "SANDBOX_FAILED" });
    }
  });

  it("asks Modal nothing when no path is valid", async () => {
    const { modal, provider } = setup();
    const sandbox = await provider.create({ name: "s" });
    const execsBefore = modal.execCalls.length;
    const entries = await readAll(sandbox, ["relative", "/workspace/../etc/passwd"]);
    expect([...entries.values()].map((error) => (error as RuntimeError).code)).toEqual([
      "INVALID_PATH",
      "INVALID_PATH",
    ]);
    expect(modal.execCalls.length).toBe(execsBefore);
  });
});

/*
 * The command on real bash, GNU tar and setpriv, run on this machine by the
 * fake (as root, like Modal's execs); the agent is uid 1000.
 */
const isRoot = process.getuid?.() === 0;
describe.skipIf(!isRoot)("Modal sandbox: readFiles on real tools (root)", () => {
  let dir: string;
  let sandbox: Sandbox;
  let modal: FakeModal;
  const ws = () => join(dir, "workspace");

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "agent-runtime-modal-read-"));
    await chmod(dir, 0o755);
    for (const folder of ["workspace", "home"]) {
      await mkdir(join(dir, folder));
      await chown(join(dir, folder), 1000, 1000);
    }
    let provider: ReturnType<typeof setup>["provider"];
    ({ modal, provider } = setup({ workspaceDir: ws(), homeDir: join(dir, "home") }, { runLocally: true }));
    sandbox = await provider.create({ name: "read-files" });
  });

  afterAll(async () => {
    await sandbox?.terminate();
    // /run/agent-runtime stays: removing it would detach the bind mounts on it that other suites' fake sandboxes hold.
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("reads N files with one exec: odd names, links, and a missing, special or unreadable path each get their entry", async () => {
    const odd = [
      "new\nline",
      "back\\slash",
      "-rf",
      "--files-from=x",
      "star*?[a]",
      "quote'\"",
      "tab\there",
      "ünïcødé €",
      "n".repeat(224),
      "trailing space ",
    ];
    const files = [
      ...Array.from({ length: 400 }, (_, i) => ({
        path: `${ws()}/many/${i % 9}/f${i}`,
        content: Uint8Array.from({ length: i * 37 }, (_, j) => (j ^ i) % 256),
      })),
      ...odd.map((name, i) => ({ path: `${ws()}/odd/${name}`, content: Uint8Array.of(i, 0, 255, i) })),
      {
        path: `${ws()}/big.bin`,
        content: Uint8Array.from({ length: 3 * 1024 * 1024 + 1 }, (_, j) => (j * 7) % 251),
      },
      { path: `${ws()}/empty`, content: new Uint8Array() },
    ];
    await sandbox.writeFiles(files);
    execFileSync("mkfifo", [join(ws(), "fifo")]);
    await symlink("many/0/f0", join(ws(), "link-inside"));
    await symlink("nowhere", join(ws(), "dangling"));
    await link(join(ws(), "many/1/f1"), join(ws(), "hard-link"));
    await writeFile(join(ws(), "root-only"), "secret", { mode: 0o600 });

    const execsBefore = modal.execCalls.length;
    const special = {
      missing: `${ws()}/missing`,
      missingFolder: `${ws()}/no/such/file`,
      dangling: `${ws()}/dangling`,
      fifo: `${ws()}/fifo`,
      folder: `${ws()}/many`,
      unreadable: `${ws()}/root-only`,
      linkInside: `${ws()}/link-inside`,
      hardLink: `${ws()}/hard-link`,
    };
    const requested = [...files.map((file) => file.path), ...Object.values(special)];
    const entries = await readAll(sandbox, requested);

    expect(modal.execCalls.length - execsBefore).toBe(1);
    expect(new Set(entries.keys())).toEqual(new Set(requested));
    for (const file of files) expect(digest(entries.get(file.path)), file.path).toBe(digest(file.content));
    expect(digest(entries.get(special.linkInside))).toBe(digest(files[0]!.content));
    expect(digest(entries.get(special.hardLink))).toBe(digest(files[1]!.content));
    for (const path of [special.missing, special.missingFolder, special.dangling]) {
      expect(entries.get(path), path).toMatchObject({ code: "FILE_NOT_FOUND" });
    }
    for (const path of [special.fifo, special.folder]) {
      expect(entries.get(path), path).toMatchObject({ code: "INVALID_PATH" });
    }
    expect(entries.get(special.unreadable)).toMatchObject({ code: "SANDBOX_FAILED" });
  });

  it("cancels the command when the caller stops iterating", async () => {
    const paths = Array.from({ length: 50 }, (_, i) => `${ws()}/stop/f${i}`);
    await sandbox.writeFiles(paths.map((path) => ({ path, content: new Uint8Array(256 * 1024) })));
    for await (const entry of sandbox.readFiles!(paths)) {
      expect("content" in entry).toBe(true);
      break;
    }
    // The command, blocked on a full pipe unless the read was cancelled, must end.
    const running = modal.running.get("read-files")!.processes;
    await expect.poll(() => running.size, { timeout: 5000 }).toBe(0);
  });
});
