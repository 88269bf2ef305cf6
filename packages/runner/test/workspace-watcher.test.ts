import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { runnerOutputSchema } from "@agent-runtime/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type FileLine, type WorkspaceWatcher, watchWorkspace } from "../src/workspace-watcher.js";

/**
 * The runner's workspace watcher against a real folder (issue 14): every
 * name Linux accepts is reported as a `file` line the server accepts, and
 * FIFOs, sockets and devices are left out with a reason.
 */
describe("workspace watcher", () => {
  let workspaceDir: string;
  let watcher: WorkspaceWatcher | undefined;
  let lines: FileLine[];
  let problems: string[];

  beforeEach(async () => {
    workspaceDir = mkdtempSync(join(tmpdir(), "watcher-test-"));
    lines = [];
    problems = [];
    watcher = await watchWorkspace({
      workspaceDir,
      ignore: [],
      onFile: (line) => lines.push(line),
      onError: (error) => problems.push(String(error)),
    });
  });
  afterEach(async () => {
    await watcher?.close();
    rmSync(workspaceDir, { recursive: true, force: true });
  });

  it("reports files with long, Unicode, blank, newline, backslash and dash names as valid file lines", async () => {
    const names = [
      `${"n".repeat(220)}.txt`,
      "a".repeat(255),
      "日".repeat(85),
      "ünïcødé ✓ 🦀.txt",
      "with  spaces .txt",
      "line\nbreak.txt",
      "back\\slash.txt",
      "..\\..\\etc\\passwd",
      "-rf",
      "--help",
      `deep/${"d".repeat(255)}/${"e".repeat(255)}`,
    ];
    await mkdir(join(workspaceDir, "deep", "d".repeat(255)), { recursive: true });
    for (const name of names) writeFileSync(join(workspaceDir, name), name);
    await until(() => names.every((name) => lines.some((line) => line.path === name)));

    for (const name of names) {
      const line = lines.find((candidate) => candidate.path === name);
      expect(line, name).toMatchObject({ type: "file", event: "created", size: Buffer.byteLength(name) });
      expect(runnerOutputSchema.safeParse(line).success, name).toBe(true);
    }
    expect(problems).toEqual([]);
  });

  it("leaves FIFOs, sockets and devices out of the file lines, saying why", async () => {
    let socket: Server | undefined;
    try {
      execFileSync("mkfifo", [join(workspaceDir, "fifo")]);
      socket = createServer();
      await new Promise<void>((resolve) => socket!.listen(join(workspaceDir, "sock"), resolve));
      if (process.getuid?.() === 0) execFileSync("mknod", [join(workspaceDir, "null"), "c", "1", "3"]);
      writeFileSync(join(workspaceDir, "after.txt"), "x");
      await until(() => lines.some((line) => line.path === "after.txt"));
      // The special files were made first: a report of them would have come by now.
      await delay(200);
    } finally {
      await new Promise((resolve) => (socket ? socket.close(resolve) : resolve(undefined)));
      await rm(join(workspaceDir, "sock"), { force: true });
    }
    expect(lines.map((line) => line.path)).toEqual(["after.txt"]);
    const special = process.getuid?.() === 0 ? ["fifo", "sock", "null"] : ["fifo", "sock"];
    for (const name of special) {
      expect(
        problems.some((problem) => problem.includes(`"${name}"`) && /not a regular file/.test(problem)),
        name,
      ).toBe(true);
    }
  });
});

describe("workspace watcher settle", () => {
  it("reports at once what the watcher has not seen yet, once each; files there at start are known, a FIFO is named once", async () => {
    const workspaceDir = mkdtempSync(join(tmpdir(), "watcher-settle-"));
    writeFileSync(join(workspaceDir, "there before.txt"), "old");
    const lines: FileLine[] = [];
    const problems: string[] = [];
    const watcher = await watchWorkspace({
      workspaceDir,
      ignore: ["ignored"],
      onFile: (line) => lines.push(line),
      onError: (error) => problems.push(String(error)),
    });
    try {
      await mkdir(join(workspaceDir, "new", "deeper"), { recursive: true });
      await mkdir(join(workspaceDir, "ignored"));
      writeFileSync(join(workspaceDir, "new", "deeper", "file.txt"), "new");
      writeFileSync(join(workspaceDir, "ignored", "skip.txt"), "skip");
      execFileSync("mkfifo", [join(workspaceDir, "new", "fifo")]);
      await watcher.settle();
      expect(lines).toEqual([
        expect.objectContaining({ event: "created", path: "new/deeper/file.txt", size: 3 }),
      ]);

      rmSync(join(workspaceDir, "there before.txt"));
      await watcher.settle();
      await watcher.settle();
      await delay(300);
      expect(lines.map((line) => `${line.event} ${line.path}`)).toEqual([
        "created new/deeper/file.txt",
        "deleted there before.txt",
      ]);
      expect(problems.filter((problem) => problem.includes('"new/fifo"'))).toHaveLength(1);
    } finally {
      await watcher.close();
      rmSync(workspaceDir, { recursive: true, force: true });
    }
  });
});

describe("workspace watcher and folders swapped for links", () => {
  it("reports the files of a folder replaced by a link as deleted, never as files below the link", async () => {
    const workspaceDir = mkdtempSync(join(tmpdir(), "watcher-swap-"));
    const outside = mkdtempSync(join(tmpdir(), "watcher-outside-"));
    writeFileSync(join(outside, "passwd"), "outside");
    const lines: FileLine[] = [];
    const watcher = await watchWorkspace({
      workspaceDir,
      ignore: [],
      onFile: (line) => lines.push(line),
      onError: () => undefined,
    });
    try {
      await mkdir(join(workspaceDir, "a"));
      writeFileSync(join(workspaceDir, "a", "passwd"), "inside");
      await watcher.settle();
      execFileSync("mv", [join(workspaceDir, "a"), join(workspaceDir, "a.bak")]);
      symlinkSync(outside, join(workspaceDir, "a"));
      writeFileSync(join(outside, "passwd"), "outside, changed");
      await watcher.settle();
      await delay(300);
      const tracked = new Map<string, FileLine>();
      for (const line of lines) {
        if (line.event === "deleted") tracked.delete(line.path);
        else tracked.set(line.path, line);
      }
      expect([...tracked.keys()].sort()).toEqual(["a", "a.bak/passwd"]);
      expect(tracked.get("a")?.linkTarget).toBe(outside);
    } finally {
      await watcher.close();
      rmSync(workspaceDir, { recursive: true, force: true });
      rmSync(outside, { recursive: true, force: true });
    }
  });
});

describe("workspace watcher and symbolic links", () => {
  it("reports links with their targets (in or out of the workspace, dangling), never what they point to", async () => {
    const workspaceDir = mkdtempSync(join(tmpdir(), "watcher-links-"));
    const lines: FileLine[] = [];
    const problems: string[] = [];
    const watcher = await watchWorkspace({
      workspaceDir,
      ignore: [],
      onFile: (line) => lines.push(line),
      onError: (error) => problems.push(String(error)),
    });
    try {
      writeFileSync(join(workspaceDir, "real.txt"), "real");
      writeFileSync(join(workspaceDir, "becomes-link"), "file");
      await until(() => lines.some((line) => line.path === "becomes-link"));
      symlinkSync("/etc/passwd", join(workspaceDir, "out"));
      symlinkSync("real.txt", join(workspaceDir, "in"));
      symlinkSync("missing", join(workspaceDir, "dangling"));
      symlinkSync("/", join(workspaceDir, "root"));
      rmSync(join(workspaceDir, "becomes-link"));
      symlinkSync("/etc/hostname", join(workspaceDir, "becomes-link"));
      await watcher.settle();
      await delay(300);
      const tracked = new Map<string, FileLine>();
      for (const line of lines) {
        if (line.event === "deleted") tracked.delete(line.path);
        else tracked.set(line.path, line);
      }
      const view = Object.fromEntries(
        [...tracked].map(([path, line]) => [path, line.linkTarget ?? `${line.size} bytes`]),
      );
      expect(view).toEqual({
        "real.txt": "4 bytes",
        out: "/etc/passwd",
        in: "real.txt",
        dangling: "missing",
        root: "/",
        "becomes-link": "/etc/hostname",
      });
      expect(tracked.get("out")?.size).toBe("/etc/passwd".length);
      // Nothing below a link to `/` was walked or reported.
      expect(lines.filter((line) => line.path.startsWith("root/"))).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await watcher.close();
      rmSync(workspaceDir, { recursive: true, force: true });
    }
  });
});

/** Waits until `done` holds, polling, for at most 5 s. */
async function until(done: () => boolean): Promise<void> {
  for (let waited = 0; waited < 5000 && !done(); waited += 20) await delay(20);
}
