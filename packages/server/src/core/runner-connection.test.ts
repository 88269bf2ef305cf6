import { PassThrough } from "node:stream";
import type { RunnerOutput } from "@agent-runtime/protocol";
import { describe, expect, it } from "vitest";
import type { ExitStatus, Sandbox, SandboxProcess } from "../sandboxes/sandbox-provider.js";
import { RunnerConnection } from "./runner-connection.js";
import { type RunnerLimitsInput, runnerLimitsSchema } from "./runner-limits.js";

/** A sandbox whose one process is a pair of streams the test writes to as the runner. */
function fakeSandbox() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  const kills: string[] = [];
  let exit: (status: ExitStatus) => void = () => undefined;
  const exited = new Promise<ExitStatus>((resolve) => {
    exit = resolve;
  });
  const end = (status: ExitStatus) => {
    stdout.end();
    stderr.end();
    stdout.once("close", () => exit(status));
    stdout.resume();
  };
  const process: SandboxProcess = {
    stdin,
    stdout,
    stderr,
    exited,
    kill(signal = "SIGTERM") {
      kills.push(signal);
      end({ code: null, signal });
    },
  };
  const sandbox = {
    id: "fake",
    name: "fake",
    workspaceDir: "/workspace",
    homeDir: "/home/agent",
    runnerCommand: ["runner"],
    exec: () => process,
    writeFiles: async () => undefined,
  } as unknown as Sandbox;
  /** Writes as the runner; false once the connection has stopped it. */
  const write = (text: string | Buffer) => kills.length === 0 && stdout.write(text);
  return { sandbox, write, kills, end, exited };
}

function connect(limits: RunnerLimitsInput = {}) {
  const fake = fakeSandbox();
  const seen = {
    outputs: [] as RunnerOutput[],
    invalid: [] as string[],
    violations: [] as string[],
    dropped: [] as Array<{ logLines: number; invalidLines: number }>,
    exits: [] as ExitStatus[],
  };
  const connection = new RunnerConnection(
    fake.sandbox,
    {
      onOutput: (output) => seen.outputs.push(output),
      onInvalidLine: (line) => seen.invalid.push(line),
      onViolation: (message) => seen.violations.push(message),
      onDropped: (counts) => seen.dropped.push(counts),
      onExit: (status) => seen.exits.push(status),
    },
    runnerLimitsSchema.parse(limits),
  );
  return { ...fake, connection, seen };
}

const line = (value: unknown) => `${JSON.stringify(value)}\n`;
const READY = line({ type: "ready", pid: 7 });
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("RunnerConnection", () => {
  it("passes valid lines on, also across chunks and with CRLF", async () => {
    const { connection, write, end, seen } = connect();
    const started = connection.start({ architecture: "claude-agent-sdk", workspaceDir: "/workspace" }, {});
    write(READY);
    await started;
    const text = line({ type: "log", level: "info", message: "hello" }).replace("\n", "\r\n");
    write(text.slice(0, 10));
    write(`${text.slice(10)}${line({ type: "file", event: "created", path: "a.txt" }).slice(0, -1)}`);
    end({ code: 0, signal: null });
    await settle();
    expect(seen.outputs).toEqual([
      { type: "log", level: "info", message: "hello" },
      { type: "file", event: "created", path: "a.txt" },
    ]);
    expect(seen.exits).toEqual([{ code: 0, signal: null }]);
  });

  it("stops a runner that writes a line over the limit, reports it once, and still reports the exit", async () => {
    const { connection, write, kills, seen } = connect({ maxLineBytes: 64 * 1024 });
    const started = connection.start({ architecture: "claude-agent-sdk", workspaceDir: "/workspace" }, {});
    write(READY);
    await started;
    const chunk = Buffer.alloc(16 * 1024, "a");
    for (let i = 0; i < 8 && write(chunk) !== false; i++) await settle();
    await settle();
    expect(seen.violations).toEqual([
      "The sandbox wrote a line over 64 KiB to the runner channel; the agent was stopped",
    ]);
    expect(kills).toEqual(["SIGKILL"]);
    expect(seen.invalid).toEqual([]);
    await settle();
    expect(seen.exits).toEqual([{ code: null, signal: "SIGKILL" }]);
  });

  it("rejects start with RUNNER_PROTOCOL when the violation comes before ready", async () => {
    const { connection, write, seen } = connect({ maxLineBytes: 1024 });
    const started = connection.start({ architecture: "claude-agent-sdk", workspaceDir: "/workspace" }, {});
    write(Buffer.alloc(4096, "a"));
    await expect(started).rejects.toMatchObject({
      code: "RUNNER_PROTOCOL",
      message: "The sandbox wrote a line over 1 KiB to the runner channel; the agent was stopped",
    });
    expect(seen.violations).toEqual([]);
    expect(seen.exits).toEqual([]);
  });

  it("drops log lines past their rate and stops a runner whose flood passes the budget", async () => {
    const { connection, write, kills, seen } = connect({
      logLinesPerSecond: 1,
      logLineBurst: 10,
      maxDroppedLogLines: 100,
    });
    const started = connection.start({ architecture: "claude-agent-sdk", workspaceDir: "/workspace" }, {});
    write(READY);
    await started;
    const log = line({ type: "log", level: "error", message: "forged" });
    write(log.repeat(50));
    await settle();
    expect(seen.outputs).toHaveLength(10);
    expect(seen.violations).toEqual([]);
    write(log.repeat(100));
    write(line({ type: "file", event: "created", path: "after.txt" }));
    await settle();
    expect(seen.outputs).toHaveLength(10);
    expect(seen.violations).toEqual([
      "The sandbox flooded the runner channel with log lines (over 100 dropped); the agent was stopped",
    ]);
    expect(kills).toEqual(["SIGKILL"]);
    await settle();
    expect(seen.dropped).toEqual([{ logLines: 101, invalidLines: 0 }]);
  });

  it("counts lines that fail the schema as invalid, reports some, and stops a runner past the budget", async () => {
    const { connection, write, kills, seen } = connect({
      invalidLinesLoggedPerSecond: 5,
      maxInvalidLines: 20,
    });
    const started = connection.start({ architecture: "claude-agent-sdk", workspaceDir: "/workspace" }, {});
    write(READY);
    await started;
    write(line({ type: "file", event: "created", path: "../../../etc/shadow" }));
    write("not json\n\n");
    write(line({ type: "file", event: "created", path: "ok.txt" }));
    await settle();
    expect(seen.outputs).toEqual([{ type: "file", event: "created", path: "ok.txt" }]);
    expect(seen.invalid).toEqual([
      line({ type: "file", event: "created", path: "../../../etc/shadow" }).trim(),
      "not json",
      "",
    ]);
    write("garbage\n".repeat(18));
    await settle();
    expect(seen.invalid).toHaveLength(5);
    expect(seen.violations).toEqual([
      "The sandbox wrote over 20 invalid lines to the runner channel; the agent was stopped",
    ]);
    expect(kills).toEqual(["SIGKILL"]);
  });
});
