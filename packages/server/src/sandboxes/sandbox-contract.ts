import { randomUUID } from "node:crypto";
import { posix } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RuntimeError } from "../errors.js";
import type { ExecOptions, Sandbox, SandboxProvider, SandboxSpec } from "./sandbox-provider.js";

export interface SandboxProviderContractOptions {
  /** Names the `describe` block. */
  name: string;
  /** Called once; the suite calls `check()` on the result before the first test. */
  createProvider: () => SandboxProvider | Promise<SandboxProvider>;
  /** Called once after the last test (e.g. to delete sandbox folders). */
  cleanup?: () => Promise<void>;
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
 * skipped, saying why, otherwise. Host-side escapes (a symlink that resolves
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

    beforeAll(async () => {
      provider = await options.createProvider();
      await provider.check();
    });
    afterEach(async () => {
      await Promise.all(created.splice(0).map((sandbox) => sandbox.terminate()));
    });
    afterAll(async () => {
      await options.cleanup?.();
    });

    describe("lifecycle", () => {
      it("creates a sandbox, runs a command in it and terminates it idempotently", async () => {
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

      it("refuses to run commands after terminate", async () => {
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

      it("stops a running process with kill(), which is a no-op after exit", async () => {
        const sandbox = await create();
        const running = sandbox.exec(["sleep", "1000"]);
        running.kill();
        const status = await running.exited;
        expect(status.code !== 0 || status.signal !== null).toBe(true);
        running.kill();
        running.kill("SIGKILL");
      });

      it("the runner command's absolute paths exist inside", async () => {
        const sandbox = await create();
        expect(sandbox.runnerCommand.length).toBeGreaterThan(0);
        for (const part of sandbox.runnerCommand.filter((value) => value.startsWith("/"))) {
          expect((await runInSandbox(sandbox, ["test", "-e", part])).code, part).toBe(0);
        }
      });
    });

    describe("exec", () => {
      it("streams stdin to the process and stdout/stderr back, with the exit code", async () => {
        const sandbox = await create();
        const result = await sh(sandbox, "cat; echo oops >&2; exit 3", { input: "ping\npong\n" });
        expect(result).toEqual({ stdout: "ping\npong\n", stderr: "oops\n", code: 3, signal: null });
      });

      it("streams output while the process runs", async () => {
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

      it("starts in the workspace and honours cwd", async () => {
        const sandbox = await create();
        expect((await runInSandbox(sandbox, ["pwd"])).stdout.trim()).toBe(sandbox.workspaceDir);
        expect((await runInSandbox(sandbox, ["pwd"], { cwd: sandbox.homeDir })).stdout.trim()).toBe(
          sandbox.homeDir,
        );
      });

      it("gives processes the spec's and exec's environment, never the host's", async () => {
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
      it("host writes are visible inside, agent writes are visible to the host", async () => {
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

      it("deletes files, ignores missing ones and reports missing reads as FILE_NOT_FOUND", async () => {
        const sandbox = await create();
        const path = `${sandbox.workspaceDir}/gone.txt`;
        await sandbox.writeFiles([{ path, content: "x" }]);
        await sandbox.deleteFile(path);
        await sandbox.deleteFile(path);
        await sandbox.deleteFile(`${sandbox.workspaceDir}/never/existed.txt`);
        await expect(sandbox.readFile(path)).rejects.toMatchObject({ code: "FILE_NOT_FOUND" });
        expect((await runInSandbox(sandbox, ["test", "-e", path])).code).not.toBe(0);
      });

      it("refuses paths that are relative, contain '..' or lie outside workspace and home", async () => {
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

      it("symlinks and hardlinks made by the agent do not redirect writes outside", async () => {
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

      it("read-only files cannot be changed, removed or replaced by the agent", async (context) => {
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
      it("the system outside workspace and home is read-only", async (context) => {
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

      it("processes run as a non-root user that a setuid binary does not elevate", async (context) => {
        if (!provider.capabilities.nonRootUser) context.skip("the provider does not declare nonRootUser");
        const sandbox = await create();
        expect((await runInSandbox(sandbox, ["id", "-u"])).stdout.trim()).not.toBe("0");
        const setuid = await sh(
          sandbox,
          'cp "$(command -v sh)" ./suid-sh && chmod u+s ./suid-sh && ./suid-sh -p -c "id -u"',
        );
        expect(setuid.stdout.trim()).not.toBe("0");
      });

      it("two sandboxes do not see each other's workspace", async () => {
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
  });
}
