import { createHash, randomUUID } from "node:crypto";
import { posix } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, type TestContext } from "vitest";
import { RuntimeError } from "../errors.js";
import type { ExecOptions, Sandbox, SandboxProvider, SandboxSpec } from "./sandbox-provider.js";

export interface SandboxProviderContractOptions {
  /** Names the `describe` block. */
  name: string;
  /** Called once; the suite calls `check()` on the result before the first test. */
  createProvider: () => SandboxProvider | Promise<SandboxProvider>;
  /** Called once after the last test (e.g. to delete sandbox folders). */
  cleanup?: () => Promise<void>;
  /**
   * The limits the provider was created with, for the cases that measure
   * them (each is skipped without its value): `cpus`, CPU time per wall-clock
   * time in cores; `shmMiB`, the size of `/dev/shm`.
   */
  limits?: { readonly cpus?: number; readonly shmMiB?: number };
  /**
   * Cases this provider's test setup cannot run honestly, by title, each with
   * the reason it is skipped (reported with the skip). A title that names no
   * case fails the suite.
   */
  skip?: Readonly<Record<string, string>>;
}

/**
 * System-call numbers the kernel-surface cases use, per `uname -m` (they
 * differ between architectures; perl's `syscall` takes numbers).
 */
const SYSCALLS: Record<string, Record<string, number>> = {
  x86_64: {
    ptrace: 101,
    process_vm_readv: 310,
    keyctl: 250,
    pidfd_open: 434,
    pidfd_getfd: 438,
    io_uring_setup: 425,
    ioctl: 16,
  },
  aarch64: {
    ptrace: 117,
    process_vm_readv: 270,
    keyctl: 219,
    pidfd_open: 434,
    pidfd_getfd: 438,
    io_uring_setup: 425,
    ioctl: 29,
  },
};

/**
 * A perl program that tries, against the process `$pid` it did not start,
 * what a sandbox must deny, and prints `name=errno` for each (0: it worked).
 * Harmless when it works: it detaches, closes, reads nothing.
 */
function kernelProbe(numbers: Record<string, number>): string {
  const n = numbers;
  return [
    "my $pid = $ARGV[0] + 0;",
    "sub try { my ($name, $result) = @_; print $name, '=', ($result == -1 ? $! + 0 : 0), \"\\n\"; }",
    `my $r = syscall(${n.ptrace}, 16, $pid, 0, 0); try('ptrace_attach', $r); syscall(${n.ptrace}, 17, $pid, 0, 0) if $r != -1;`,
    `my $pidfd = syscall(${n.pidfd_open}, $pid, 0);`,
    `try('pidfd_getfd', $pidfd == -1 ? -1 : syscall(${n.pidfd_getfd}, $pidfd, 1, 0));`,
    `try('process_vm_readv', syscall(${n.process_vm_readv}, $pid, 0, 0, 0, 0, 0));`,
    `try('keyctl', syscall(${n.keyctl}, 0, -3, 0));`,
    `try('io_uring_setup', syscall(${n.io_uring_setup}, 1, 0));`,
    // TIOCSTI, also with high bits set (the kernel reads the request as 32 bits).
    `try('tiocsti', syscall(${n.ioctl}, 0, 0x5412, 0));`,
    // Still allowed: a child asking to be traced by its parent (how \`strace cmd\` and gdb start one).
    `my $child = fork(); if ($child == 0) { exit(syscall(${n.ptrace}, 0, 0, 0, 0) == -1 ? $! + 0 : 0); }`,
    "waitpid($child, 0); print 'ptrace_traceme=', $? >> 8, \"\\n\";",
    `try('tiocsti_high_bits', syscall(${n.ioctl}, 0, 0x100005412, 0));`,
  ].join("\n");
}

/** What a command printed and how it ended. */
export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The resource limit the sandbox hit while the command ran (`ExitStatus.limit`). */
  readonly limit?: "memory" | "pids";
}

/** Runs a command to completion, feeding `input` (or nothing) to its stdin. */
export async function runInSandbox(
  sandbox: Sandbox,
  command: readonly string[],
  options: ExecOptions & { input?: string } = {},
): Promise<CommandResult> {
  const child = sandbox.exec(command, options);
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  child.stdin.on("error", () => undefined);
  child.stdin.end(options.input);
  const { code, signal, limit } = await child.exited;
  return { stdout, stderr, code, signal, ...(limit ? { limit } : {}) };
}

/**
 * The behaviour every `SandboxProvider` must have, as a vitest suite. Call it
 * at the top level of a test file:
 *
 * ```ts
 * runSandboxProviderContract({ name: "my provider", createProvider: () => createMyProvider() });
 * ```
 *
 * Sandboxes need a POSIX shell and coreutils. Isolation cases run when the
 * provider declares the capability (`nonRootUser`, `readOnlySystem`) and are
 * skipped, saying why, otherwise; a case a provider's test setup cannot do
 * honestly is skipped through `options.skip`, with its reason. Every sandbox
 * a case creates is deleted with `provider.remove` after it. Host-side escapes (a symlink that resolves
 * on the server's machine) depend on how a provider stores files and are
 * tested by each provider itself.
 */
export function runSandboxProviderContract(options: SandboxProviderContractOptions): void {
  describe(`SandboxProvider contract: ${options.name}`, () => {
    let provider: SandboxProvider;
    const created: Sandbox[] = [];

    const create = async (spec: Partial<SandboxSpec> = {}): Promise<Sandbox> => {
      const sandbox = await provider.create({ name: `contract-${randomUUID().slice(0, 8)}`, ...spec });
      created.push(sandbox);
      return sandbox;
    };
    const sh = (sandbox: Sandbox, script: string, execOptions?: ExecOptions & { input?: string }) =>
      runInSandbox(sandbox, ["sh", "-c", script], execOptions);
    const text = async (sandbox: Sandbox, path: string) =>
      new TextDecoder().decode(await sandbox.readFile(path));

    const skipped = new Map(Object.entries(options.skip ?? {}));
    /** `it`, skipped with its reason when `options.skip` names the case. */
    const test = (title: string, body: (context: TestContext) => Promise<void>) => {
      const reason = skipped.get(title);
      skipped.delete(title);
      it(title, async (context) => {
        if (reason !== undefined) context.skip(reason);
        await body(context);
      });
    };

    beforeAll(async () => {
      provider = await options.createProvider();
      await provider.check();
    });
    afterEach(async () => {
      await Promise.all(created.splice(0).map((sandbox) => provider.remove(sandbox.name)));
    });
    afterAll(async () => {
      await options.cleanup?.();
    });

    describe("lifecycle", () => {
      test("creates a sandbox, runs a command in it and terminates it idempotently", async () => {
        const sandbox = await create();
        expect(sandbox.id).toBeTruthy();
        expect(posix.isAbsolute(sandbox.workspaceDir)).toBe(true);
        expect(posix.isAbsolute(sandbox.homeDir)).toBe(true);

        expect(await runInSandbox(sandbox, ["echo", "hello"])).toEqual({
          stdout: "hello\n",
          stderr: "",
          code: 0,
          signal: null,
        });

        await sandbox.terminate();
        await sandbox.terminated;
        await sandbox.terminate();
      });

      test("remove terminates the sandbox and deletes its files: the same name starts empty", async () => {
        const sandbox = await create();
        await sandbox.writeFiles([
          { path: `${sandbox.workspaceDir}/src/kept.txt`, content: "workspace" },
          { path: `${sandbox.homeDir}/.config/kept`, content: "home" },
        ]);
        const running = sandbox.exec(["sleep", "1000"]);
        await provider.remove(sandbox.name);
        await sandbox.terminated;
        const status = await running.exited;
        expect(status.code !== 0 || status.signal !== null).toBe(true);
        await provider.remove(sandbox.name);

        const again = await create({ name: sandbox.name });
        expect(await again.listWorkspace()).toEqual([]);
        await expect(again.readFile(`${again.homeDir}/.config/kept`)).rejects.toMatchObject({
          code: "FILE_NOT_FOUND",
        });
        await provider.remove(`contract-never-created-${randomUUID().slice(0, 8)}`);
      });

      test("refuses to run commands after terminate", async () => {
        const sandbox = await create();
        await sandbox.terminate();
        let result: CommandResult | undefined;
        try {
          result = await runInSandbox(sandbox, ["echo", "late"]);
        } catch (error) {
          expect(RuntimeError.is(error) && error.code).toBe("SANDBOX_FAILED");
        }
        if (result) expect(result.code).not.toBe(0);
      });

      test("stops a running process with kill(), which is a no-op after exit", async () => {
        const sandbox = await create();
        const running = sandbox.exec(["sleep", "1000"]);
        running.kill();
        const status = await running.exited;
        expect(status.code !== 0 || status.signal !== null).toBe(true);
        running.kill();
        running.kill("SIGKILL");
      });

      test("suspend freezes every process until resume, and a suspended sandbox terminates", async (context) => {
        if (!provider.capabilities.suspend) context.skip("the provider does not declare suspend");
        const sandbox = await create();
        const ticks = `${sandbox.homeDir}/ticks`;
        const running = sandbox.exec(["sh", "-c", `while :; do echo . >> ${ticks}; sleep 0.02; done`]);
        const size = async () => (await sandbox.readFile(ticks).catch(() => new Uint8Array())).length;
        const grown = async (past: number) => {
          for (let tries = 0; (await size()) <= past; tries++) {
            if (tries > 500) throw new Error("the process did not run");
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        };
        await grown(0);
        await sandbox.suspend!();
        await sandbox.suspend!();
        const frozenAt = await size();
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(await size()).toBe(frozenAt);
        // Files stay reachable from outside.
        await sandbox.writeFiles([{ path: `${sandbox.workspaceDir}/meanwhile.txt`, content: "written" }]);
        expect(await text(sandbox, `${sandbox.workspaceDir}/meanwhile.txt`)).toBe("written");
        await sandbox.resume!();
        await sandbox.resume!();
        await grown(frozenAt);
        await sandbox.suspend!();
        await sandbox.terminate();
        const status = await running.exited;
        expect(status.code !== 0 || status.signal !== null).toBe(true);
      });

      test("the runner command's absolute paths exist inside", async () => {
        const sandbox = await create();
        expect(sandbox.runnerCommand.length).toBeGreaterThan(0);
        for (const part of sandbox.runnerCommand.filter((value) => value.startsWith("/"))) {
          expect((await runInSandbox(sandbox, ["test", "-e", part])).code, part).toBe(0);
        }
      });
    });

    describe("exec", () => {
      test("streams stdin to the process and stdout/stderr back, with the exit code", async () => {
        const sandbox = await create();
        const result = await sh(sandbox, "cat; echo oops >&2; exit 3", { input: "ping\npong\n" });
        expect(result).toEqual({ stdout: "ping\npong\n", stderr: "oops\n", code: 3, signal: null });
      });

      test("streams output while the process runs", async () => {
        const sandbox = await create();
        const running = sandbox.exec(["sh", "-c", "echo first; read line; echo second $line"]);
        const firstLine = await new Promise<string>((resolve) =>
          running.stdout.once("data", (chunk: Buffer) => resolve(chunk.toString())),
        );
        expect(firstLine).toBe("first\n");
        running.stdin.end("done\n");
        const rest: string[] = [];
        running.stdout.on("data", (chunk: Buffer) => rest.push(chunk.toString()));
        expect(await running.exited).toEqual({ code: 0, signal: null });
        expect(rest.join("")).toBe("second done\n");
      });

      test("starts in the workspace and honours cwd", async () => {
        const sandbox = await create();
        expect((await runInSandbox(sandbox, ["pwd"])).stdout.trim()).toBe(sandbox.workspaceDir);
        expect((await runInSandbox(sandbox, ["pwd"], { cwd: sandbox.homeDir })).stdout.trim()).toBe(
          sandbox.homeDir,
        );
      });

      test("gives processes the spec's and exec's environment, never the host's", async () => {
        const canary = `canary-${randomUUID()}`;
        process.env.AGENT_RUNTIME_CONTRACT_CANARY = canary;
        try {
          const sandbox = await create({ env: { FROM_SPEC: "spec", OVERRIDDEN: "spec" } });
          const result = await sh(sandbox, "env; cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n'", {
            env: { OVERRIDDEN: "exec" },
          });
          const env = new Set(result.stdout.split("\n"));
          expect(env).toContain("FROM_SPEC=spec");
          expect(env).toContain("OVERRIDDEN=exec");
          expect(env).toContain(`HOME=${sandbox.homeDir}`);
          expect(result.stdout).not.toContain(canary);
          expect(result.stdout).not.toContain("AGENT_RUNTIME_CONTRACT_CANARY");
        } finally {
          delete process.env.AGENT_RUNTIME_CONTRACT_CANARY;
        }
      });
    });

    describe("files", () => {
      test("host writes are visible inside, agent writes are visible to the host", async () => {
        const sandbox = await create();
        await sandbox.writeFiles([
          { path: `${sandbox.workspaceDir}/src/deep/a.txt`, content: "from host" },
          { path: `${sandbox.homeDir}/.config/tool.json`, content: new TextEncoder().encode("{}") },
        ]);
        const inside = await sh(sandbox, `cat src/deep/a.txt; echo; cat "$HOME/.config/tool.json"`);
        expect(inside.stdout).toBe("from host\n{}");

        const agent = await sh(
          sandbox,
          "mkdir -p made && printf 'by agent' > made/b.txt && echo x > src/deep/a.txt",
        );
        expect(agent.code).toBe(0);
        expect(await text(sandbox, `${sandbox.workspaceDir}/made/b.txt`)).toBe("by agent");
        expect(await text(sandbox, `${sandbox.workspaceDir}/src/deep/a.txt`)).toBe("x\n");

        const listing = await sandbox.listWorkspace();
        expect(listing.map((entry) => entry.path)).toEqual(
          expect.arrayContaining(["made/b.txt", "src/deep/a.txt"]),
        );
        const entry = listing.find((item) => item.path === "made/b.txt");
        expect(entry?.size).toBe(8);
        expect(Number.isNaN(Date.parse(entry?.modifiedAt ?? ""))).toBe(false);
      });

      test("deletes files, ignores missing ones and reports missing reads as FILE_NOT_FOUND", async () => {
        const sandbox = await create();
        const path = `${sandbox.workspaceDir}/gone.txt`;
        await sandbox.writeFiles([{ path, content: "x" }]);
        await sandbox.deleteFile(path);
        await sandbox.deleteFile(path);
        await sandbox.deleteFile(`${sandbox.workspaceDir}/never/existed.txt`);
        await expect(sandbox.readFile(path)).rejects.toMatchObject({ code: "FILE_NOT_FOUND" });
        expect((await runInSandbox(sandbox, ["test", "-e", path])).code).not.toBe(0);
      });

      test("readFiles returns many files byte for byte and one entry per path, missing ones as FILE_NOT_FOUND", async (context) => {
        const sandbox = await create();
        const readFiles = sandbox.readFiles?.bind(sandbox);
        if (!readFiles) return context.skip("the sandbox has no readFiles (optional)");
        const names = [
          "plain.txt",
          "with space.txt",
          "ünïcødé €.txt",
          "new\nline",
          "back\\slash",
          "a".repeat(200),
        ];
        const files = [
          ...Array.from({ length: 300 }, (_, i) => ({
            path: `${sandbox.workspaceDir}/many/${i % 7}/f${i}.bin`,
            content: Uint8Array.from({ length: (i * 977) % 5000 }, (_, j) => (j * 131 + i) % 256),
          })),
          ...names.map((name, i) => ({
            path: `${sandbox.workspaceDir}/names/${name}`,
            content: Uint8Array.from({ length: 256 }, (_, j) => (j + i) % 256),
          })),
          { path: `${sandbox.workspaceDir}/empty`, content: new Uint8Array() },
          {
            path: `${sandbox.homeDir}/.config/bytes`,
            content: Uint8Array.from([0, 255, 0xc3, 0x28, 0xff, 0xfe]),
          },
        ];
        await sandbox.writeFiles(files);
        expect((await sh(sandbox, "head -c 70000 /dev/urandom > by-agent.bin")).code).toBe(0);
        const byAgent = `${sandbox.workspaceDir}/by-agent.bin`;
        const missing = [`${sandbox.workspaceDir}/missing.txt`, `${sandbox.workspaceDir}/no/such/folder`];
        const folder = `${sandbox.workspaceDir}/many`;
        const outside = "/etc/passwd";
        const requested = [
          ...files.map((file) => file.path),
          byAgent,
          ...missing,
          folder,
          outside,
          files[0]!.path,
        ];

        const entries = new Map<string, Uint8Array | RuntimeError>();
        for await (const entry of readFiles(requested)) {
          expect(entries.has(entry.path), entry.path).toBe(false);
          entries.set(entry.path, "content" in entry ? entry.content : entry.error);
        }
        expect(new Set(entries.keys())).toEqual(new Set(requested));
        const digest = (value: Uint8Array | RuntimeError | undefined) =>
          value instanceof Uint8Array ? createHash("sha256").update(value).digest("hex") : value?.code;
        for (const file of files)
          expect(digest(entries.get(file.path)), file.path).toBe(digest(file.content));
        expect(digest(entries.get(byAgent))).toBe(digest(await sandbox.readFile(byAgent)));
        for (const path of missing) expect(entries.get(path), path).toMatchObject({ code: "FILE_NOT_FOUND" });
        expect(entries.get(folder)).toMatchObject({ code: "INVALID_PATH" });
        expect(entries.get(outside)).toMatchObject({ code: "INVALID_PATH" });
        for await (const entry of readFiles([])) expect.unreachable(`an entry for no path: ${entry.path}`);
      });

      test("openFile streams a file or a range of it byte for byte, and refuses what readFile refuses", async (context) => {
        const sandbox = await create();
        const openFile = sandbox.openFile?.bind(sandbox);
        if (!openFile) return context.skip("the sandbox has no openFile (optional)");
        const at = (path: string) => `${sandbox.workspaceDir}/${path}`;
        const content = Uint8Array.from(
          { length: 3 * 1024 * 1024 + 7 },
          (_, i) => (i * 7919 + (i >> 12)) % 256,
        );
        await sandbox.writeFiles([
          { path: at("data.bin"), content },
          { path: at("empty"), content: new Uint8Array() },
        ]);
        const made = await sh(
          sandbox,
          "ln -s data.bin link.bin && mkfifo fifo && mkdir folder && truncate -s 1G sparse.bin",
        );
        expect(made.code, made.stderr).toBe(0);
        const digest = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
        const drain = async (stream: NodeJS.ReadableStream) => {
          const chunks: Buffer[] = [];
          for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
          return Buffer.concat(chunks);
        };

        const whole = await openFile(at("data.bin"));
        expect(whole.size).toBe(content.length);
        expect(digest(await drain(whole.read()))).toBe(digest(content));
        const part = await openFile(at("link.bin"));
        expect(part.size).toBe(content.length);
        const range = { start: 1_000_000, end: 2_100_000 };
        expect(digest(await drain(part.read(range)))).toBe(
          digest(content.subarray(range.start, range.end + 1)),
        );
        const sparse = await openFile(at("sparse.bin"));
        expect(sparse.size).toBe(2 ** 30);
        expect(await drain(sparse.read({ start: 2 ** 30 - 5, end: 2 ** 30 - 1 }))).toEqual(Buffer.alloc(5));
        const unread = await openFile(at("data.bin"));
        await unread.close();
        await unread.close();
        const empty = await openFile(at("empty"));
        expect(empty.size).toBe(0);
        expect((await drain(empty.read())).length).toBe(0);

        await expect(openFile(at("missing.bin"))).rejects.toMatchObject({ code: "FILE_NOT_FOUND" });
        for (const path of [at("fifo"), at("folder"), "/etc/passwd", `${sandbox.workspaceDir}/../x`]) {
          await expect(openFile(path), path).rejects.toMatchObject({ code: "INVALID_PATH" });
        }
      });

      test("writeFileFrom streams bytes into a file the agent owns, and a failing source leaves the earlier file", async (context) => {
        const sandbox = await create();
        const writeFileFrom = sandbox.writeFileFrom?.bind(sandbox);
        if (!writeFileFrom) return context.skip("the sandbox has no writeFileFrom (optional)");
        const path = `${sandbox.workspaceDir}/up/loaded.bin`;
        const chunks = [
          Uint8Array.from([0, 255, 0xc3, 0x28]),
          new Uint8Array(70_000).fill(7),
          Uint8Array.from([1]),
        ];
        await writeFileFrom(
          path,
          (async function* () {
            yield* chunks;
          })(),
        );
        const expected = Buffer.concat(chunks);
        expect(Buffer.from(await sandbox.readFile(path)).equals(expected)).toBe(true);
        const agent = await sh(sandbox, "wc -c < up/loaded.bin && echo more >> up/loaded.bin");
        expect(agent.code, agent.stderr).toBe(0);
        expect(agent.stdout.trim()).toBe(String(expected.length));

        const before = await sandbox.readFile(path);
        const failure = new Error("the client went away");
        await expect(
          writeFileFrom(
            path,
            (async function* () {
              yield new Uint8Array(1000);
              throw failure;
            })(),
          ),
        ).rejects.toBe(failure);
        expect(Buffer.from(await sandbox.readFile(path)).equals(Buffer.from(before))).toBe(true);
        expect((await sandbox.listWorkspace()).map((entry) => entry.path)).toEqual(["up/loaded.bin"]);
        await expect(writeFileFrom("/etc/passwd", (async function* () {})())).rejects.toMatchObject({
          code: "INVALID_PATH",
        });
      });

      test("refuses paths that are relative, contain '..' or lie outside workspace and home", async () => {
        const sandbox = await create();
        const hostile = [
          "relative.txt",
          `${sandbox.workspaceDir}/../escape.txt`,
          `${sandbox.workspaceDir}/a/../../escape.txt`,
          "/etc/passwd",
          `${sandbox.workspaceDir}evil/x.txt`,
          `${sandbox.workspaceDir}/nul\0.txt`,
          sandbox.workspaceDir,
        ];
        for (const path of hostile) {
          await expect(sandbox.writeFiles([{ path, content: "x" }]), path).rejects.toMatchObject({
            code: "INVALID_PATH",
          });
          await expect(sandbox.readFile(path), path).rejects.toMatchObject({ code: "INVALID_PATH" });
          await expect(sandbox.deleteFile(path), path).rejects.toMatchObject({ code: "INVALID_PATH" });
        }
      });

      test("symlinks and hardlinks made by the agent do not redirect writes outside", async () => {
        const sandbox = await create();
        const before = await sh(sandbox, "cat /etc/passwd");
        await sh(
          sandbox,
          "ln -s /etc/passwd link; ln -s /etc linkdir; ln /etc/passwd hard 2>/dev/null; true",
        );

        await sandbox
          .writeFiles([{ path: `${sandbox.workspaceDir}/link`, content: "pwned" }])
          .catch(() => undefined);
        await sandbox
          .writeFiles([{ path: `${sandbox.workspaceDir}/hard`, content: "pwned" }])
          .catch(() => undefined);
        await sandbox
          .writeFiles([{ path: `${sandbox.workspaceDir}/linkdir/created-by-contract`, content: "pwned" }])
          .catch(() => undefined);

        expect((await sh(sandbox, "cat /etc/passwd")).stdout).toBe(before.stdout);
        expect((await runInSandbox(sandbox, ["test", "-e", "/etc/created-by-contract"])).code).not.toBe(0);
        const listed = (await sandbox.listWorkspace()).map((entry) => entry.path);
        expect(listed.filter((path) => path.startsWith("linkdir/"))).toEqual([]);
      });

      test("writes symbolic links as links, never following them, and lists them with their targets", async () => {
        const sandbox = await create();
        const at = (path: string) => `${sandbox.workspaceDir}/${path}`;
        const before = await sh(sandbox, "cat /etc/passwd");
        await sandbox.writeFiles([
          { path: at("real.txt"), content: "real" },
          { path: at("over.txt"), content: "a file first" },
          { path: at("abs"), content: "a file first" },
        ]);
        await sandbox.writeFiles([
          { path: at("links/rel"), content: "", linkTarget: "../real.txt" },
          { path: at("abs"), content: "", linkTarget: "/etc/passwd" },
          { path: at("dangling"), content: "", linkTarget: "missing/ünï ✓" },
          { path: at("over.txt"), content: "", linkTarget: "real.txt" },
        ]);
        const seen = await sh(
          sandbox,
          'for link in links/rel abs dangling over.txt; do readlink "$link"; done && cat links/rel',
        ).then((result) => result.stdout);
        expect(seen).toBe("../real.txt\n/etc/passwd\nmissing/ünï ✓\nreal.txt\nreal");

        const listing = await sandbox.listWorkspace();
        expect(
          listing
            .filter((entry) => entry.linkTarget !== undefined)
            .map(({ path, size, linkTarget }) => ({ path, size, linkTarget })),
        ).toEqual([
          { path: "abs", size: Buffer.byteLength("/etc/passwd"), linkTarget: "/etc/passwd" },
          { path: "dangling", size: Buffer.byteLength("missing/ünï ✓"), linkTarget: "missing/ünï ✓" },
          { path: "links/rel", size: Buffer.byteLength("../real.txt"), linkTarget: "../real.txt" },
          { path: "over.txt", size: Buffer.byteLength("real.txt"), linkTarget: "real.txt" },
        ]);
        expect(listing.find((entry) => entry.path === "real.txt")).not.toHaveProperty("linkTarget");

        // A file written over a link replaces the link; the link's target is untouched.
        await sandbox.writeFiles([{ path: at("abs"), content: "a file again" }]);
        expect(await text(sandbox, at("abs"))).toBe("a file again");
        expect((await sh(sandbox, "cat /etc/passwd")).stdout).toBe(before.stdout);
        expect((await sandbox.listWorkspace()).find((entry) => entry.path === "abs")).not.toHaveProperty(
          "linkTarget",
        );
      });

      test("read-only files cannot be changed, removed or replaced by the agent", async (context) => {
        if (!provider.capabilities.nonRootUser)
          context.skip("the agent runs as the host user (no isolation)");
        const sandbox = await create();
        const settings = `${sandbox.homeDir}/.agent/settings.json`;
        const rules = `${sandbox.workspaceDir}/RULES.md`;
        await sandbox.writeFiles([
          { path: settings, content: '{"safe":true}', readOnly: true },
          { path: rules, content: "be nice", readOnly: true },
        ]);
        const attacks = [
          `echo evil > ${settings}`,
          `rm -f ${settings}`,
          `mv ${settings} ${settings}.old`,
          `chmod 666 ${settings}`,
          `mv ${posix.dirname(settings)} ${posix.dirname(settings)}.old && mkdir ${posix.dirname(settings)} && echo evil > ${settings}`,
          `rm -rf ${posix.dirname(settings)}`,
          `echo evil > ${rules}`,
          `rm -f ${rules}`,
          `mv ${rules} ${rules}.old`,
          `ln -sf /dev/null ${rules}`,
        ];
        for (const attack of attacks) {
          await sh(sandbox, `${attack} 2>/dev/null; true`);
          const seen = await sh(sandbox, `cat ${settings}; echo; cat ${rules}`);
          expect(seen.stdout, attack).toBe('{"safe":true}\nbe nice');
        }
        expect(await text(sandbox, settings)).toBe('{"safe":true}');
        expect(await text(sandbox, rules)).toBe("be nice");

        await sandbox.writeFiles([{ path: rules, content: "now writable" }]);
        expect((await sh(sandbox, `echo changed > ${rules} && cat ${rules}`)).stdout).toBe("changed\n");
      });
    });

    describe("isolation", () => {
      test("the system outside workspace and home is read-only", async (context) => {
        if (!provider.capabilities.readOnlySystem)
          context.skip("the provider does not declare readOnlySystem");
        const sandbox = await create();
        for (const path of ["/etc/x", "/usr/x", `${posix.dirname(sandbox.homeDir)}/x`, "/x"]) {
          const result = await sh(sandbox, `echo x > ${path}`);
          expect(result.code, path).not.toBe(0);
        }
        expect(
          (await sh(sandbox, `echo x > ${sandbox.workspaceDir}/x && echo x > ${sandbox.homeDir}/x`)).code,
        ).toBe(0);
      });

      test("processes run as a non-root user that a setuid binary does not elevate", async (context) => {
        if (!provider.capabilities.nonRootUser) context.skip("the provider does not declare nonRootUser");
        const sandbox = await create();
        expect((await runInSandbox(sandbox, ["id", "-u"])).stdout.trim()).not.toBe("0");
        const setuid = await sh(
          sandbox,
          'cp "$(command -v sh)" ./suid-sh && chmod u+s ./suid-sh && ./suid-sh -p -c "id -u"',
        );
        expect(setuid.stdout.trim()).not.toBe("0");
      });

      test("the sandbox's uid never maps to host root", async (context) => {
        if (!provider.capabilities.nonRootUser) context.skip("the provider does not declare nonRootUser");
        const sandbox = await create();
        const map = await runInSandbox(sandbox, ["cat", "/proc/self/uid_map"]);
        const lines = map.stdout
          .trim()
          .split("\n")
          .map((line) => line.trim().split(/\s+/).map(Number));
        expect(lines.length).toBeGreaterThan(0);
        for (const [inside, outside, count] of lines) {
          expect({ inside, outside, count }, map.stdout).not.toMatchObject({ outside: 0 });
        }
      });

      test("every file under /proc/sys refuses writes", async (context) => {
        if (!provider.capabilities.nonRootUser) context.skip("the provider does not declare nonRootUser");
        const sandbox = await create();
        // Harmless: where a file opens for writing, its current value is written back (an unreadable one counts as writable).
        const result = await sh(
          sandbox,
          'n=0; for f in $(find /proc/sys -type f 2>/dev/null); do n=$((n+1)); if true 2>/dev/null >"$f"; then if v=$(cat "$f" 2>/dev/null); then if printf "%s\\n" "$v" 2>/dev/null >"$f"; then echo "writable $f"; fi; else echo "writable $f"; fi; fi; done; echo "checked $n"',
        );
        expect(result.stdout).not.toContain("writable");
        expect(Number(/checked (\d+)/.exec(result.stdout)?.[1])).toBeGreaterThan(100);
      });

      test("refuses nested user namespaces and what reaches other processes or the kernel's less-used parts", async (context) => {
        if (!provider.capabilities.syscallFilter) context.skip("the provider does not declare syscallFilter");
        const sandbox = await create();
        const machine = (await runInSandbox(sandbox, ["uname", "-m"])).stdout.trim();
        const numbers = SYSCALLS[machine];
        if (!numbers) context.skip(`no system-call numbers for ${machine}`);
        for (const command of [
          "unshare -U true",
          "unshare -Ur true",
          "unshare -Urm true",
          "unshare -Urn true",
        ]) {
          expect((await sh(sandbox, command)).code, command).not.toBe(0);
        }
        // A process the probe did not start: its parent's other child.
        const result = await runInSandbox(sandbox, [
          "sh",
          "-c",
          'sleep 30 & perl -e "$1" "$!"; kill $!',
          "probe",
          kernelProbe(numbers!),
        ]);
        const errno = Object.fromEntries(
          result.stdout
            .trim()
            .split("\n")
            .map((line) => line.split("=").map((part, index) => (index === 1 ? Number(part) : part))),
        );
        expect(errno, result.stdout + result.stderr).toEqual({
          ptrace_attach: 1,
          pidfd_getfd: 1,
          process_vm_readv: 1,
          keyctl: 1,
          // ENOSYS, so that programs fall back to plain system calls.
          io_uring_setup: 38,
          tiocsti: 1,
          tiocsti_high_bits: 1,
          ptrace_traceme: 0,
        });
      });

      test("gets at most its CPU share", async (context) => {
        const cpus = options.limits?.cpus;
        if (!provider.capabilities.resourceLimits?.cpu || cpus === undefined) {
          context.skip("the provider does not declare a CPU limit, or the suite was not told it");
        }
        const sandbox = await create();
        // Two busy loops for 2 s of wall-clock time, then the CPU time they got, in clock ticks.
        const result = await sh(
          sandbox,
          "(while :; do :; done) & a=$!; (while :; do :; done) & b=$!; sleep 2; " +
            'for p in $a $b; do set -- $(cut -d" " -f14,15 /proc/$p/stat); echo $(($1 + $2)); kill $p; done; getconf CLK_TCK',
        );
        const [first, second, ticksPerSecond] = result.stdout.trim().split("\n").map(Number);
        const cores = (first! + second!) / ticksPerSecond! / 2;
        expect(cores, result.stdout + result.stderr).toBeGreaterThan(0);
        expect(cores).toBeLessThanOrEqual(cpus! * 1.2 + 0.05);
      });

      test("/dev/shm is a size-limited memory file system", async (context) => {
        const shmMiB = options.limits?.shmMiB;
        if (shmMiB === undefined) context.skip("the suite was not told the size of /dev/shm");
        const sandbox = await create();
        const result = await sh(
          sandbox,
          `dd if=/dev/zero of=/dev/shm/fill bs=1M count=${shmMiB! + 16} 2>&1; stat -c %s /dev/shm/fill; rm -f /dev/shm/fill`,
        );
        expect(result.stdout).toContain("No space left on device");
        expect(Number(result.stdout.trim().split("\n").at(-1))).toBeLessThanOrEqual(shmMiB! * 1024 * 1024);
      });

      test("two sandboxes do not see each other's workspace", async () => {
        const first = await create();
        const second = await create();
        const marker = `marker-${randomUUID()}.txt`;
        await first.writeFiles([{ path: `${first.workspaceDir}/${marker}`, content: "first" }]);
        expect((await sh(second, `ls -a ${second.workspaceDir}`)).stdout).not.toContain(marker);
        expect((await second.listWorkspace()).map((entry) => entry.path)).not.toContain(marker);
        await expect(second.readFile(`${second.workspaceDir}/${marker}`)).rejects.toMatchObject({
          code: "FILE_NOT_FOUND",
        });
      });
    });

    it("options.skip names only cases of the contract", () => {
      expect([...skipped.keys()]).toEqual([]);
    });
  });
}
