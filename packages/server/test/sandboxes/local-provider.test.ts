import { execFileSync, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { closeSync, existsSync, readdirSync, readFileSync } from "node:fs";
import { chmod, chown, copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import koffi from "koffi";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RuntimeError } from "../../src/errors.js";
import { createLocalSandboxProvider } from "../../src/sandboxes/local/local-sandbox-provider.js";
import { runInSandbox, runSandboxProviderContract } from "../../src/sandboxes/sandbox-contract.js";
import type { Sandbox, SandboxProvider } from "../../src/sandboxes/sandbox-provider.js";

const testRoot = await mkdtemp(join(tmpdir(), "local-sandbox-test-"));
// Sandboxes run as other users, which must be able to enter it.
await chmod(testRoot, 0o711);

const CONTRACT_LIMITS = { cpus: 0.5, diskMiB: 64 };

runSandboxProviderContract({
  name: "local (bubblewrap)",
  createProvider: () =>
    createLocalSandboxProvider({ rootDir: join(testRoot, "contract"), limits: CONTRACT_LIMITS }),
  limits: { cpus: CONTRACT_LIMITS.cpus, shmMiB: CONTRACT_LIMITS.diskMiB },
});

/** Host pids whose command line contains `marker`. */
function processesWith(marker: string): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(marker);
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe("local sandbox provider", () => {
  const rootDir = join(testRoot, "local");
  let provider: SandboxProvider;
  const created: Sandbox[] = [];
  const create = async (name = `local-${randomUUID().slice(0, 8)}`) => {
    const sandbox = await provider.create({ name });
    created.push(sandbox);
    return sandbox;
  };
  const sh = (sandbox: Sandbox, script: string) => runInSandbox(sandbox, ["sh", "-c", script]);

  beforeAll(async () => {
    provider = createLocalSandboxProvider({ rootDir });
    await provider.check();
  });
  afterEach(async () => {
    await Promise.all(created.splice(0).map((sandbox) => sandbox.terminate()));
  });
  afterAll(async () => {
    await rm(testRoot, { recursive: true, force: true });
  });

  it("declares its capabilities and maps the sandbox to /workspace and /home/agent", async () => {
    expect(provider.capabilities).toMatchObject({
      attach: false,
      nonRootUser: true,
      readOnlySystem: true,
      networkPolicy: true,
      syscallFilter: true,
    });
    // Where cgroups work (they do on the machines that run these tests), CPU time is limited too.
    const limits = provider.capabilities.resourceLimits;
    if (limits?.pids) expect(limits.cpu).toBe(true);
    const sandbox = await create();
    expect(sandbox.workspaceDir).toBe("/workspace");
    expect(sandbox.homeDir).toBe("/home/agent");
    expect(sandbox.runnerCommand[0]).toBe(process.execPath);
  });

  it("runs as uid 1000 without privileges", async () => {
    const sandbox = await create();
    const result = await sh(
      sandbox,
      "id -u; id -g; grep -E '^(NoNewPrivs|CapEff)' /proc/self/status; whoami",
    );
    expect(result.stdout).toBe("1000\n1000\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\nagent\n");
  });

  it("shows no host secrets from /etc and no other sandbox folder", async () => {
    const other = await create();
    await other.writeFiles([{ path: "/workspace/secret.txt", content: "other's" }]);
    const sandbox = await create();
    const result = await sh(
      sandbox,
      `cat /etc/shadow; ls /etc/ssl/private; ls ${rootDir}; cat ${rootDir}/${other.name}/workspace/secret.txt`,
    );
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("No such file");
    // Of /root, at most the folder leading to the runtime's own install shows (a clone below /root).
    const inRoot = (await sh(sandbox, "ls -A /root 2>/dev/null")).stdout.split("\n").filter(Boolean);
    const install = process.cwd().startsWith("/root/") ? [process.cwd().split("/")[2]] : [];
    expect(inRoot.filter((name) => !install.includes(name))).toEqual([]);
  });

  it("Node.js and the runner are available at their host paths", async () => {
    const sandbox = await create();
    // `node [options] <entry>`: the local runner's loader, or `dist/main.js` (see runner-location.ts).
    const node = sandbox.runnerCommand[0]!;
    const main = sandbox.runnerCommand.at(-1)!;
    expect((await runInSandbox(sandbox, [node, "--version"])).stdout.trim()).toBe(process.version);
    expect((await runInSandbox(sandbox, ["node", "--version"])).code).toBe(0);
    expect(existsSync(main)).toBe(true);
    expect((await runInSandbox(sandbox, ["test", "-f", main])).code).toBe(0);
  });

  /** The host folder of a sandbox's workspace (on a disk image, see local-disk.test.ts, a folder on its mount). */
  const hostWorkspace = (sandbox: Sandbox) => {
    const onImage = existsSync(join(rootDir, sandbox.name, "disk.img"));
    return join(rootDir, sandbox.name, ...(onImage ? ["disk"] : []), "workspace");
  };

  it("runs each sandbox as an unprivileged host uid of its own, which owns its files and nobody else's", async () => {
    const sandbox = await create();
    const other = await create();
    await sandbox.writeFiles([{ path: "/workspace/dir/host.txt", content: "host" }]);
    const result = await sh(
      sandbox,
      "echo agent > agent.txt && stat -c %u dir/host.txt && echo more >> dir/host.txt",
    );
    expect(result).toMatchObject({ code: 0, stdout: "1000\n" });
    const hostUid = (await stat(join(hostWorkspace(sandbox), "agent.txt"))).uid;
    const otherUid = (await stat(hostWorkspace(other))).uid;
    // The process that wrote agent.txt ran as this uid on the host: never root, never the other sandbox's.
    expect(hostUid).not.toBe(0);
    expect(otherUid).not.toBe(0);
    expect(otherUid).not.toBe(hostUid);
    // Files and folders the runtime writes are the sandbox's too; the areas are private to it.
    expect((await stat(join(hostWorkspace(sandbox), "dir"))).uid).toBe(hostUid);
    expect((await stat(join(hostWorkspace(sandbox), "dir", "host.txt"))).uid).toBe(hostUid);
    expect((await stat(hostWorkspace(sandbox))).mode & 0o777).toBe(0o700);
    expect(await readFile(join(hostWorkspace(sandbox), "dir", "host.txt"), "utf8")).toBe("hostmore\n");
  });

  it("bwrap's init (pid 1, which any process inside can write into) holds none of the command's stdio", async () => {
    const sandbox = await create();
    const result = await sh(
      sandbox,
      'for f in /proc/self/fd/0 /proc/self/fd/1 /proc/self/fd/2; do echo "own $(readlink $f)"; done; ' +
        'for f in /proc/1/fd/*; do echo "init $(readlink $f)"; done',
    );
    const lines = result.stdout.trim().split("\n");
    const own = lines.filter((line) => line.startsWith("own ")).map((line) => line.slice(4));
    const init = lines.filter((line) => line.startsWith("init ")).map((line) => line.slice(5));
    expect(own).toHaveLength(3);
    expect(init.length).toBeGreaterThan(0);
    for (const channel of own) expect(init, result.stdout).not.toContain(channel);
  });

  it("passes no descriptor the server inherited into a sandbox", async () => {
    // A descriptor without close-on-exec, as a shell or a supervisor may hand the server one.
    const dup = koffi.load("libc.so.6").func("int dup(int fd)");
    const inherited = dup(2) as number;
    expect(inherited).toBeGreaterThan(2);
    try {
      const fresh = createLocalSandboxProvider({ rootDir: join(testRoot, "fds") });
      await fresh.check();
      const sandbox = await fresh.create({ name: `fds-${randomUUID().slice(0, 8)}` });
      created.push(sandbox);
      const result = await sh(sandbox, "ls /proc/self/fd");
      expect(result.stdout.split(/\s+/)).not.toContain(String(inherited));
    } finally {
      closeSync(inherited);
    }
  });

  it("readFile never opens what a symlink in the sandbox points to outside it", async () => {
    const outside = await mkdtemp(join(tmpdir(), "outside-fifo-"));
    const fifo = join(outside, "fifo");
    try {
      execFileSync("mkfifo", [fifo]);
      // A writer's open blocks until someone opens the FIFO for reading: it tells whether the host did.
      const writer = spawn("sh", ["-c", `echo x > ${fifo}; echo opened`], {
        stdio: ["ignore", "pipe", "ignore"],
      });
      let output = "";
      writer.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
      });
      const sandbox = await create();
      await sh(sandbox, `ln -s ${fifo} /workspace/link && mkdir d && ln -s ${fifo} d/link`);
      for (const path of ["/workspace/link", "/workspace/d/link"]) {
        await expect(sandbox.readFile(path)).rejects.toMatchObject({ code: "INVALID_PATH" });
      }
      // Symlinks that stay inside still work.
      await sh(sandbox, "echo inside > real.txt && ln -s real.txt rel && ln -s /workspace/d/../real.txt abs");
      for (const path of ["/workspace/rel", "/workspace/abs"]) {
        expect(new TextDecoder().decode(await sandbox.readFile(path))).toBe("inside\n");
      }
      await delay(300);
      writer.kill("SIGKILL");
      expect(output).toBe("");
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it("shows no host path of its folders in the command lines of its processes (bwrap's included)", async () => {
    const sandbox = await create();
    const result = await sh(sandbox, "cat /proc/*/cmdline | tr '\\0' ' '");
    expect(result.stdout).toContain("bwrap --args");
    expect(result.stdout).not.toContain(rootDir);
  });

  it("a setuid-root program the host placed in the workspace does not run as host root", async () => {
    const sandbox = await create();
    await sh(sandbox, "true");
    const program = join(hostWorkspace(sandbox), "suid-touch");
    await copyFile("/usr/bin/touch", program);
    await chown(program, 0, 0);
    await chmod(program, 0o4755);
    const result = await sh(sandbox, "./suid-touch made-by-suid && stat -c %u made-by-suid");
    expect(result).toMatchObject({ code: 0, stdout: "1000\n" });
    // What the program did on the host, it did as the sandbox's unprivileged uid.
    const owner = (await stat(join(hostWorkspace(sandbox), "made-by-suid"))).uid;
    expect(owner).not.toBe(0);
    expect(owner).toBe((await stat(hostWorkspace(sandbox))).uid);
  });

  it("keeps a sandbox's host uid across terminate and create, and takes over folders of another owner", async () => {
    const name = `uid-${randomUUID().slice(0, 8)}`;
    const first = await create(name);
    await sh(first, "echo one > one.txt");
    const uid = (await stat(join(hostWorkspace(first), "one.txt"))).uid;
    // As an older version of the runtime left it: everything owned by root.
    await writeFile(join(hostWorkspace(first), "old.txt"), "old");
    await chown(hostWorkspace(first), 0, 0);
    await chown(join(hostWorkspace(first), "one.txt"), 0, 0);
    await first.terminate();
    const second = await create(name);
    expect((await stat(hostWorkspace(second))).uid).toBe(uid);
    expect(
      await sh(second, "echo two >> old.txt && echo two >> one.txt && cat old.txt one.txt"),
    ).toMatchObject({
      code: 0,
      stdout: "oldtwo\none\ntwo\n",
    });
  });

  it("symlinks to host files outside the sandbox never let host-side file operations escape", async () => {
    const outside = await mkdtemp(join(tmpdir(), "outside-"));
    const secret = join(outside, "secret.txt");
    await writeFile(secret, "host secret");
    try {
      const sandbox = await create();
      // Dangling inside (the host's /tmp is not visible), but resolvable on the host.
      await sh(
        sandbox,
        `ln -s ${secret} file-link; ln -s ${outside} dir-link; mkdir sub; ln -s ../../.. sub/up`,
      );

      for (const path of [
        "/workspace/file-link",
        "/workspace/dir-link/secret.txt",
        "/workspace/sub/up/etc/passwd",
      ]) {
        const error = await sandbox.readFile(path).then(
          () => undefined,
          (reason: unknown) => reason,
        );
        expect(RuntimeError.is(error), path).toBe(true);
        expect(String((error as Error).message)).not.toContain("host secret");
      }

      await sandbox.writeFiles([{ path: "/workspace/file-link", content: "overwritten" }]);
      expect(await readFile(secret, "utf8")).toBe("host secret");
      expect((await sh(sandbox, "test -L file-link || cat file-link")).stdout).toBe("overwritten");

      await expect(
        sandbox.writeFiles([{ path: "/workspace/dir-link/new.txt", content: "x" }]),
      ).rejects.toMatchObject({ code: "INVALID_PATH" });
      await expect(
        sandbox.writeFiles([{ path: "/workspace/sub/up/created-by-test/x.txt", content: "x" }]),
      ).rejects.toMatchObject({ code: "INVALID_PATH" });
      await expect(sandbox.deleteFile("/workspace/dir-link/secret.txt")).rejects.toMatchObject({
        code: "INVALID_PATH",
      });
      expect(readdirSync(outside)).toEqual(["secret.txt"]);
      expect(existsSync(join(rootDir, "created-by-test"))).toBe(false);

      // Links are listed as links, with their targets, and never entered.
      const listing = await sandbox.listWorkspace();
      const listed = listing.map((entry) => entry.path);
      expect(listed.filter((path) => path.startsWith("dir-link/") || path.startsWith("sub/up/"))).toEqual([]);
      expect(
        listing.flatMap((entry) => (entry.linkTarget === undefined ? [] : [[entry.path, entry.linkTarget]])),
      ).toEqual([
        ["dir-link", outside],
        ["sub/up", "../../.."],
      ]);
      expect(listed).toContain("file-link");
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it("terminate leaves no process of the sandbox behind within 3 s", async () => {
    const sandbox = await create();
    const marker = `${1000 + Math.floor(Math.random() * 1000)}.${Date.now() % 1_000_000}`;
    const running = sandbox.exec([
      "sh",
      "-c",
      `sleep ${marker} & setsid sh -c 'sleep ${marker}; true' & echo started; wait`,
    ]);
    await new Promise((resolve) => running.stdout.once("data", resolve));
    for (let tries = 0; processesWith(marker).length < 3 && tries < 50; tries++) await delay(20);
    expect(processesWith(marker).length).toBeGreaterThanOrEqual(3);

    await sandbox.terminate();
    await sandbox.terminated;
    const deadline = Date.now() + 3000;
    while (processesWith(marker).length > 0 && Date.now() < deadline) await delay(50);
    expect(processesWith(marker)).toEqual([]);
    expect((await running.exited).code).not.toBe(0);
  });

  it("kill(SIGTERM) reaches the command, which can shut down gracefully", async () => {
    const sandbox = await create();
    const running = sandbox.exec([
      "sh",
      "-c",
      'trap "echo bye; exit 5" TERM; echo ready; while :; do sleep 0.05; done',
    ]);
    let output = "";
    running.stdout.on("data", (chunk: Buffer) => {
      output += chunk;
    });
    while (!output.includes("ready")) await delay(10);
    running.kill("SIGTERM");
    expect(await running.exited).toEqual({ code: 5, signal: null });
    expect(output).toBe("ready\nbye\n");
  });

  it("kill() right after exec, while bwrap is still setting up, always ends the process", async () => {
    const sandbox = await create();
    for (let round = 0; round < 40; round++) {
      const running = sandbox.exec(["sleep", "1000"]);
      running.kill(round % 2 === 0 ? "SIGTERM" : "SIGKILL");
      const status = await Promise.race([running.exited, delay(3000, "still running" as const)]);
      expect(status, `round ${round}`).not.toBe("still running");
    }
  });

  it("a recreated sandbox keeps its workspace and its read-only files", async () => {
    const name = `recreate-${randomUUID().slice(0, 8)}`;
    const first = await create(name);
    await first.writeFiles([{ path: "/home/agent/.agent/hooks.json", content: "[]", readOnly: true }]);
    await sh(first, "echo kept > work.txt");
    await expect(provider.create({ name })).rejects.toMatchObject({ code: "CONFLICT" });
    await first.terminate();

    const second = await create(name);
    expect(new TextDecoder().decode(await second.readFile("/workspace/work.txt"))).toBe("kept\n");
    const attack = await sh(second, "echo evil > ~/.agent/hooks.json; cat ~/.agent/hooks.json");
    expect(attack.stdout).toBe("[]");
  });

  it("restores a read-only file that a process started before it was protected had changed", async () => {
    const sandbox = await create();
    const early = sandbox.exec([
      "sh",
      "-c",
      "read line; echo evil > /workspace/CONFIG; mv /workspace/dir /workspace/dir2",
    ]);
    await sandbox.writeFiles([
      { path: "/workspace/CONFIG", content: "good", readOnly: true },
      { path: "/workspace/dir/nested.json", content: "{}", readOnly: true },
    ]);
    early.stdin.end("go\n");
    await early.exited;
    const seen = await sh(sandbox, "cat /workspace/CONFIG; cat /workspace/dir/nested.json");
    expect(seen.stdout).toBe("good{}");
    expect(new TextDecoder().decode(await sandbox.readFile("/workspace/CONFIG"))).toBe("good");
  });

  it("remove deletes the sandbox folder", async () => {
    const sandbox = await create();
    await sandbox.writeFiles([{ path: "/workspace/a.txt", content: "a" }]);
    await provider.remove(sandbox.name);
    expect(existsSync(join(rootDir, sandbox.name))).toBe(false);
    await sandbox.terminated;
    await provider.remove(sandbox.name);
  });

  it("rejects invalid options and names", async () => {
    expect(() => createLocalSandboxProvider({ rootDir: "relative/dir" })).toThrow(
      expect.objectContaining({ code: "VALIDATION_FAILED" }),
    );
    await expect(provider.create({ name: "../escape" })).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
  });

  it("check() explains how to install bubblewrap when it is missing", async () => {
    const broken = createLocalSandboxProvider({ rootDir, bwrapPath: "/nonexistent/bwrap" });
    const error = await broken.check().then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(RuntimeError.is(error) && error.code).toBe("SANDBOX_FAILED");
    expect((error as Error).message).toContain("apt-get install bubblewrap");
    expect((error as Error).message).toContain("unsafeNoIsolation");
  });

  it("without isolation, runs on the host and says so in its capabilities", async () => {
    const unsafeRoot = join(testRoot, "unsafe");
    await mkdir(unsafeRoot, { recursive: true });
    const unsafe = createLocalSandboxProvider({ rootDir: unsafeRoot, unsafeNoIsolation: true });
    expect(unsafe.capabilities).toMatchObject({ nonRootUser: false, readOnlySystem: false });
    const sandbox = await unsafe.create({ name: "unsafe" });
    try {
      expect(sandbox.workspaceDir).toBe(join(unsafeRoot, "unsafe", "workspace"));
      const result = await runInSandbox(sandbox, ["sh", "-c", "pwd; echo $HOME"]);
      expect(result.stdout).toBe(`${sandbox.workspaceDir}\n${sandbox.homeDir}\n`);
    } finally {
      await sandbox.terminate();
    }
  });
});
