import type { RunnerOutput } from "@agent-runtime/protocol";
import { describe, expect, it } from "vitest";
import type { SandboxProcess } from "../sandboxes/sandbox-provider.js";
import { createFakeSandboxProvider, type FakeSandbox } from "./fake-sandbox-provider.js";

/** Starts the runner of `sandbox` with a valid configuration; collects its output lines. */
async function startRunner(sandbox: FakeSandbox) {
  const configPath = `${sandbox.homeDir}/runner.json`;
  const config = { architecture: "claude-agent-sdk", workspaceDir: sandbox.workspaceDir };
  await sandbox.writeFiles([{ path: configPath, content: JSON.stringify(config) }]);
  const process = sandbox.exec([...sandbox.runnerCommand, configPath]);
  return { process, output: collect(process) };
}

/** The JSON lines a process writes to stdout, as they arrive. */
function collect(process: SandboxProcess): RunnerOutput[] {
  const lines: RunnerOutput[] = [];
  let buffer = "";
  process.stdout.setEncoding("utf8");
  process.stdout.on("data", (chunk: string) => {
    buffer += chunk;
    const parts = buffer.split("\n");
    buffer = parts.pop() ?? "";
    for (const part of parts) lines.push(JSON.parse(part) as RunnerOutput);
  });
  return lines;
}

const send = (process: SandboxProcess, command: unknown) =>
  process.stdin.write(`${JSON.stringify(command)}\n`);

describe("FakeSandboxProvider", () => {
  it("keeps files as bytes, confined to the workspace and the home folder", async () => {
    const sandbox = await createFakeSandboxProvider().create({ name: "s" });
    const bytes = new Uint8Array([0, 255, 10, 13]);
    await sandbox.writeFiles([
      { path: "/workspace/dir/data.bin", content: bytes },
      { path: "/home/agent/.config/x", content: "text" },
    ]);
    expect(await sandbox.readFile("/workspace/dir/data.bin")).toEqual(bytes);
    expect(await sandbox.listWorkspace()).toEqual([
      { path: "dir/data.bin", size: 4, modifiedAt: expect.any(String) },
    ]);
    await expect(sandbox.writeFiles([{ path: "/etc/passwd", content: "x" }])).rejects.toMatchObject({
      code: "INVALID_PATH",
    });
    await expect(sandbox.readFile("/workspace/../etc/passwd")).rejects.toMatchObject({
      code: "INVALID_PATH",
    });
    await sandbox.deleteFile("/workspace/dir/data.bin");
    await expect(sandbox.readFile("/workspace/dir/data.bin")).rejects.toMatchObject({
      code: "FILE_NOT_FOUND",
    });
  });

  it("refuses a second sandbox of a running name, fails injected operations once, and removes by name", async () => {
    const provider = createFakeSandboxProvider();
    const first = await provider.create({ name: "s" });
    await expect(provider.create({ name: "s" })).rejects.toMatchObject({ code: "CONFLICT" });
    provider.fail("writeFiles");
    await expect(first.writeFiles([])).rejects.toMatchObject({ code: "SANDBOX_FAILED" });
    await first.writeFiles([]);
    await provider.remove("s");
    expect(provider.removed).toEqual(["s"]);
    expect(provider.lastSandbox.isTerminated).toBe(true);
    provider.fail("create", new Error("quota"));
    await expect(provider.create({ name: "s" })).rejects.toThrow("quota");
    await provider.create({ name: "s" });
    expect(provider.sandboxes).toHaveLength(2);
  });

  it("runs no command but the runner, and no runner without a valid configuration", async () => {
    const sandbox = await createFakeSandboxProvider().create({ name: "s" });
    expect(await sandbox.exec(["ls"]).exited).toEqual({ code: 127, signal: null });
    await sandbox.writeFiles([{ path: "/home/agent/bad.json", content: "{}" }]);
    const bad = sandbox.exec([...sandbox.runnerCommand, "/home/agent/bad.json"]);
    const output = collect(bad);
    expect(await bad.exited).toEqual({ code: 1, signal: null });
    expect(output).toEqual([expect.objectContaining({ type: "fatal" })]);
    await sandbox.terminate();
    expect(() => sandbox.exec(["ls"])).toThrow(expect.objectContaining({ code: "SANDBOX_FAILED" }));
  });
});

describe("FakeRunner", () => {
  it("speaks the runner protocol: ready, one turn at a time, invalid commands logged, shutdown", async () => {
    const provider = createFakeSandboxProvider({
      runner: async (turn) => {
        turn.agent({ type: "assistant", text: turn.content });
        await turn.interrupted;
      },
    });
    const sandbox = await provider.create({ name: "s" });
    const { process, output } = await startRunner(sandbox);
    send(process, { type: "message", turnId: "t1", content: "hi" });
    send(process, { type: "message", turnId: "t2", content: "too soon" });
    send(process, { type: "bogus" });
    await expect.poll(() => output.length).toBe(4);
    send(process, { type: "interrupt" });
    await expect.poll(() => output.length).toBe(5);
    send(process, { type: "shutdown" });
    expect(await process.exited).toEqual({ code: 0, signal: null });

    expect(output).toEqual([
      { type: "ready", pid: sandbox.lastRunner.pid },
      { type: "turn_end", turnId: "t2", stopReason: "error", error: expect.any(String) },
      { type: "log", level: "error", message: expect.stringContaining("invalid command") },
      { type: "agent", message: { type: "assistant", text: "hi" } },
      { type: "turn_end", turnId: "t1", stopReason: "interrupted" },
    ]);
    expect(sandbox.lastRunner.commands.map((command) => command.type)).toEqual([
      "message",
      "message",
      "interrupt",
      "shutdown",
    ]);
  });

  it("reports the files a turn writes and waits for permission answers", async () => {
    const provider = createFakeSandboxProvider({
      runner: async (turn) => {
        await turn.writeFile("a.txt", "abc");
        const answer = await turn.askPermission({ toolName: "Bash" });
        turn.agent({ decision: answer.decision });
      },
    });
    const sandbox = await provider.create({ name: "s" });
    const { process, output } = await startRunner(sandbox);
    send(process, { type: "message", turnId: "t1", content: "go" });
    await expect.poll(() => output.at(-1)?.type).toBe("permission_request");
    const request = output.at(-1) as Extract<RunnerOutput, { type: "permission_request" }>;
    send(process, { type: "permission_response", requestId: request.requestId, decision: "allow" });
    await expect.poll(() => output.at(-1)?.type).toBe("turn_end");
    expect(output.slice(1)).toEqual([
      { type: "file", event: "created", path: "a.txt", size: 3, modifiedAt: expect.any(String) },
      { type: "permission_request", requestId: request.requestId, toolName: "Bash", input: {} },
      { type: "agent", message: { decision: "allow" } },
      { type: "turn_end", turnId: "t1", stopReason: "end_turn" },
    ]);
    expect(new TextDecoder().decode(sandbox.files.get("/workspace/a.txt"))).toBe("abc");
  });
});
