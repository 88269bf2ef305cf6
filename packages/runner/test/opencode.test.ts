import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type MockModel, startMockModel } from "@agent-runtime/mock-model";
import {
  OPENCODE_PROVIDER_ID,
  OPENCODE_TRANSCRIPT_DIR_ENV,
  openCodeModelId,
  openCodeTranscriptFileName,
  type RunnerOutput,
} from "@agent-runtime/protocol";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type RunnerProcess, runnerMain, startRunner } from "./runner-process.js";

type Line<T extends RunnerOutput["type"]> = Extract<RunnerOutput, { type: T }>;
const is =
  <T extends RunnerOutput["type"]>(type: T, extra: (line: Line<T>) => boolean = () => true) =>
  (line: RunnerOutput): line is Line<T> =>
    line.type === type && extra(line as Line<T>);
const event = (line: RunnerOutput) =>
  (line.type === "agent" ? line.message : {}) as { type?: string; properties?: Record<string, unknown> };

/** The sandbox's agent uid (see runner-process.ts). */
const AGENT_UID = 1000;

let model: MockModel;
const running: RunnerProcess[] = [];
const roots: string[] = [];

beforeAll(async () => {
  if (!existsSync(runnerMain)) throw new Error("build the runner first: npx tsc -b packages/runner");
  model = await startMockModel({
    script: {
      rules: [
        {
          name: "write",
          match: { prompt: "write notes.txt" },
          replies: [
            ["Writing it.", { tool: "write", input: { filePath: "{{cwd}}/notes.txt", content: "hello\n" } }],
            { tool: "bash", input: { command: "cat notes.txt", description: "Show the file" } },
            "The file says hello.",
          ],
        },
        {
          name: "slow",
          match: { prompt: "be slow" },
          reply: { steps: ["tick ".repeat(200)], chunkDelayMs: 40, chunkSize: 5 },
        },
        ...["allowed", "denied", "interrupted"].map((name) => ({
          name: `touch-${name}`,
          match: { prompt: `touch ${name}` },
          replies: [
            { tool: "bash", input: { command: `touch ${name}.marker`, description: "Create a marker" } },
            "Finished.",
          ],
        })),
        { name: "echo", match: { prompt: { regex: "." } }, reply: "You said: {{prompt}}" },
      ],
    },
  });
});

afterAll(async () => {
  await model?.close();
});

afterEach(() => {
  for (const runner of running.splice(0)) runner.cleanup();
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

/** A workspace and HOME as the server prepares them: `opencode.json` pointing at the mock model. */
function prepareDirs(): { workspaceDir: string; homeDir: string } {
  const root = mkdtempSync(join(tmpdir(), "runner-opencode-"));
  roots.push(root);
  const workspaceDir = join(root, "ws");
  const homeDir = join(root, "home");
  mkdirSync(workspaceDir);
  mkdirSync(homeDir);
  writeFileSync(
    join(workspaceDir, "opencode.json"),
    JSON.stringify({
      provider: {
        [OPENCODE_PROVIDER_ID]: {
          npm: "@ai-sdk/openai-compatible",
          options: {
            baseURL: "{env:AGENT_RUNTIME_OPENAI_BASE_URL}",
            apiKey: "{env:AGENT_RUNTIME_OPENAI_API_KEY}",
          },
          models: { mock: { name: "mock" } },
        },
      },
      model: openCodeModelId("mock"),
      small_model: openCodeModelId("mock"),
    }),
  );
  for (const dir of [root, workspaceDir, homeDir, join(workspaceDir, "opencode.json")]) {
    chownSync(dir, AGENT_UID, AGENT_UID);
  }
  return { workspaceDir, homeDir };
}

function start(
  dirs: { workspaceDir: string; homeDir: string },
  config: Parameters<typeof startRunner>[0]["config"] = {},
): RunnerProcess {
  const runner = startRunner({
    config: { architecture: "opencode", ...config },
    env: {
      AGENT_RUNTIME_OPENAI_BASE_URL: `${model.url}/v1`,
      AGENT_RUNTIME_OPENAI_API_KEY: "sk-test",
      [OPENCODE_TRANSCRIPT_DIR_ENV]: transcriptDir(dirs.homeDir),
    },
    dirs,
  });
  running.push(runner);
  return runner;
}

const transcriptDir = (homeDir: string) => join(homeDir, ".local", "share", "agent-runtime", "opencode");

/** The text OpenCode streamed in `message.part.delta` events, in order. */
function deltaText(lines: readonly RunnerOutput[]): string {
  return lines
    .filter(is("agent"))
    .map(event)
    .filter((e) => e.type === "message.part.delta")
    .map((e) => e.properties?.delta)
    .join("");
}

describe("runner (real OpenCode against the mock model)", () => {
  it("keeps one OpenCode server across turns, relays its events and reports files", async () => {
    const runner = start(prepareDirs());
    const ready = await runner.waitFor(is("ready"));
    expect(ready.agentVersion).toMatch(/^\d+\.\d+\.\d+/);

    runner.send({ type: "message", turnId: "t1", content: "hello there" });
    expect(await runner.waitFor(is("turn_end", (l) => l.turnId === "t1"))).toMatchObject({
      stopReason: "end_turn",
    });
    const types = runner.lines.filter(is("agent")).map((l) => event(l).type);
    // A new session is announced by OpenCode itself (session.created) or by the runner (session.updated).
    expect(["session.created", "session.updated"]).toContain(types[0]);
    expect(types).toContain("message.part.delta");
    const deltas = deltaText(runner.lines);
    expect(deltas).toBe("You said: hello there");

    const mark = runner.lines.length;
    runner.send({ type: "message", turnId: "t2", content: "please write notes.txt" });
    expect(
      await runner.waitFor(
        is("turn_end", (l) => l.turnId === "t2"),
        mark,
      ),
    ).toMatchObject({
      stopReason: "end_turn",
    });
    expect(
      await runner.waitFor(
        is("file", (l) => l.path === "notes.txt"),
        mark,
      ),
    ).toMatchObject({
      event: "created",
      size: 6,
    });
    expect(readFileSync(join(runner.workspaceDir, "notes.txt"), "utf8")).toBe("hello\n");
    const tools = runner.lines
      .slice(mark)
      .map(event)
      .filter((e) => e.type === "message.part.updated")
      .map((e) => e.properties?.part as { type: string; tool?: string; state?: { status: string } })
      .filter((p) => p.type === "tool" && p.state?.status === "completed")
      .map((p) => p.tool);
    expect(tools).toEqual(["write", "bash"]);

    // One server, one session, one ready line; the transcript was exported after each turn.
    expect(runner.lines.filter(is("ready"))).toHaveLength(1);
    const sessions = new Set(
      runner.lines
        .filter(is("agent"))
        .map((l) => event(l).properties?.sessionID)
        .filter(Boolean),
    );
    expect(sessions.size).toBe(1);
    const [sessionId] = [...sessions] as string[];
    const exported = JSON.parse(
      readFileSync(join(transcriptDir(runner.homeDir), openCodeTranscriptFileName(sessionId)), "utf8"),
    );
    expect(exported.info.id).toBe(sessionId);
    expect(exported.messages.length).toBeGreaterThanOrEqual(4);

    runner.send({ type: "shutdown" });
    expect(await runner.exited).toBe(0);
  });

  it("holds a message sent before ready until OpenCode has started", async () => {
    const runner = start(prepareDirs(), { watchWorkspace: false });
    runner.send({ type: "message", turnId: "early", content: "hello early" });
    expect(await runner.waitFor(is("turn_end"))).toMatchObject({ turnId: "early", stopReason: "end_turn" });
    expect(runner.lines.filter(is("ready"))).toHaveLength(1);
    const deltas = deltaText(runner.lines);
    expect(deltas).toBe("You said: hello early");
    runner.send({ type: "shutdown" });
    expect(await runner.exited).toBe(0);
  });

  it("runs a message naming one of OpenCode's commands as that command, other slashes as text", async () => {
    const dirs = prepareDirs();
    const commandsDir = join(dirs.workspaceDir, ".opencode", "commands");
    mkdirSync(commandsDir, { recursive: true });
    writeFileSync(join(commandsDir, "greet.md"), "Say hello to $ARGUMENTS\n");
    const runner = start(dirs, { watchWorkspace: false });
    await runner.waitFor(is("ready"));
    runner.send({ type: "message", turnId: "command", content: "/greet the reader" });
    expect(await runner.waitFor(is("turn_end", (l) => l.turnId === "command"))).toMatchObject({
      stopReason: "end_turn",
    });
    expect(deltaText(runner.lines)).toBe("You said: Say hello to the reader");

    const mark = runner.lines.length;
    runner.send({ type: "message", turnId: "text", content: "/nosuch command" });
    await runner.waitFor(
      is("turn_end", (l) => l.turnId === "text"),
      mark,
    );
    expect(deltaText(runner.lines.slice(mark))).toBe("You said: /nosuch command");
    runner.send({ type: "shutdown" });
    expect(await runner.exited).toBe(0);
  });

  it("interrupts a running turn through OpenCode's abort and keeps accepting messages", async () => {
    const runner = start(prepareDirs(), { watchWorkspace: false });
    await runner.waitFor(is("ready"));
    runner.send({ type: "message", turnId: "slow", content: "be slow" });
    await runner.waitFor(is("agent", (l) => event(l).type === "message.part.delta"));
    runner.send({ type: "interrupt" });
    expect(await runner.waitFor(is("turn_end", (l) => l.turnId === "slow"))).toMatchObject({
      stopReason: "interrupted",
    });

    const mark = runner.lines.length;
    runner.send({ type: "message", turnId: "after", content: "still there?" });
    expect(
      await runner.waitFor(
        is("turn_end", (l) => l.turnId === "after"),
        mark,
      ),
    ).toMatchObject({
      stopReason: "end_turn",
    });
    runner.send({ type: "shutdown" });
    expect(await runner.exited).toBe(0);
  });

  it("resumes a session natively from its exported transcript in a fresh OpenCode database", async () => {
    const dirs = prepareDirs();
    const first = start(dirs, { watchWorkspace: false });
    await first.waitFor(is("ready"));
    first.send({ type: "message", turnId: "one", content: "remember the word pineapple" });
    await first.waitFor(is("turn_end"));
    const sessionId = first.lines
      .filter(is("agent"))
      .map((l) => event(l).properties?.sessionID)
      .find(Boolean) as string;
    first.send({ type: "shutdown" });
    expect(await first.exited).toBe(0);
    // A recreated sandbox: OpenCode's own database is gone, only the exported transcript was restored.
    rmSync(join(dirs.homeDir, ".local", "share", "opencode"), { recursive: true, force: true });

    const second = start(dirs, { watchWorkspace: false, resumeSessionId: sessionId });
    await second.waitFor(is("ready"));
    const requestsBefore = model.requests.length;
    second.send({ type: "message", turnId: "two", content: "which word?" });
    expect(await second.waitFor(is("turn_end"))).toMatchObject({ stopReason: "end_turn" });
    const announced = second.lines.filter(is("agent")).map(event)[0];
    expect(announced).toMatchObject({ type: "session.updated", properties: { sessionID: sessionId } });
    const request = model.requests
      .slice(requestsBefore)
      .find((r) => JSON.stringify(r.messages).includes("which word?") && r.tools.length > 0);
    expect(JSON.stringify(request?.messages)).toContain("remember the word pineapple");
    second.send({ type: "shutdown" });
    expect(await second.exited).toBe(0);
  });
});

describe("runner permissions (real OpenCode, ask mode)", () => {
  const askBash = { permissions: { mode: "ask" as const, tools: ["Bash"] }, watchWorkspace: false };

  it("asks under OpenCode's request id; allow runs the tool", async () => {
    const runner = start(prepareDirs(), askBash);
    await runner.waitFor(is("ready"));
    runner.send({ type: "message", turnId: "t1", content: "touch allowed" });
    const request = await runner.waitFor(is("permission_request"));
    expect(request).toMatchObject({
      requestId: expect.stringMatching(/^per_/),
      toolName: "bash",
      input: { command: "touch allowed.marker", description: "Create a marker" },
      toolUseId: expect.any(String),
      title: "bash: touch allowed.marker",
    });
    expect(existsSync(join(runner.workspaceDir, "allowed.marker"))).toBe(false);
    runner.send({ type: "permission_response", requestId: request.requestId, decision: "allow" });
    expect(await runner.waitFor(is("turn_end"))).toMatchObject({ turnId: "t1", stopReason: "end_turn" });
    expect(existsSync(join(runner.workspaceDir, "allowed.marker"))).toBe(true);
    runner.send({ type: "shutdown" });
    expect(await runner.exited).toBe(0);
  });

  it("deny: the tool does not run and the agent is told why", async () => {
    const runner = start(prepareDirs(), askBash);
    await runner.waitFor(is("ready"));
    const requestsBefore = model.requests.length;
    runner.send({ type: "message", turnId: "t1", content: "touch denied" });
    const request = await runner.waitFor(is("permission_request"));
    runner.send({
      type: "permission_response",
      requestId: request.requestId,
      decision: "deny",
      message: "Not today",
    });
    expect(await runner.waitFor(is("turn_end"))).toMatchObject({ stopReason: "end_turn" });
    expect(existsSync(join(runner.workspaceDir, "denied.marker"))).toBe(false);
    // The model's next request carries the refusal as the tool's result, and the agent went on.
    const followUp = model.requests
      .slice(requestsBefore)
      .find((r) => JSON.stringify(r.messages).includes("Not today"));
    expect(followUp?.matched).toBe("touch-denied");
    runner.send({ type: "shutdown" });
    expect(await runner.exited).toBe(0);
  });

  it("an interrupt while a request is open rejects it: the turn ends interrupted and the tool never runs", async () => {
    const runner = start(prepareDirs(), askBash);
    await runner.waitFor(is("ready"));
    runner.send({ type: "message", turnId: "t1", content: "touch interrupted" });
    const request = await runner.waitFor(is("permission_request"));
    runner.send({ type: "interrupt" });
    expect(await runner.waitFor(is("turn_end"))).toMatchObject({ stopReason: "interrupted" });
    const replied = runner.lines
      .filter(is("agent"))
      .map(event)
      .find((e) => e.type === "permission.replied");
    expect(replied?.properties).toMatchObject({ requestID: request.requestId, reply: "reject" });
    // A late answer is ignored: the request was rejected when the turn was interrupted.
    runner.send({ type: "permission_response", requestId: request.requestId, decision: "allow" });
    const mark = runner.lines.length;
    runner.send({ type: "message", turnId: "t2", content: "still there?" });
    expect(await runner.waitFor(is("turn_end"), mark)).toMatchObject({
      turnId: "t2",
      stopReason: "end_turn",
    });
    expect(existsSync(join(runner.workspaceDir, "interrupted.marker"))).toBe(false);
    runner.send({ type: "shutdown" });
    expect(await runner.exited).toBe(0);
  });
});
