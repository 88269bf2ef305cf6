import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type MockModel, startMockModel } from "@agent-runtime/mock-model";
import {
  CODEX_API_KEY_ENV,
  CODEX_BASE_URL_ENV,
  CODEX_TRANSCRIPT_DIR_ENV,
  codexTranscriptFileName,
  type RunnerOutput,
} from "@agent-runtime/protocol";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type RunnerProcess, runnerMain, startRunner } from "./runner-process.js";

/**
 * The runner hosting the real Codex (`codex-acp`) over ACP against the mock
 * model's Responses API: turns, file writes, interrupt, permissions and
 * resume from an exported rollout in a fresh HOME.
 */

type Line<T extends RunnerOutput["type"]> = Extract<RunnerOutput, { type: T }>;
const is =
  <T extends RunnerOutput["type"]>(type: T, extra: (line: Line<T>) => boolean = () => true) =>
  (line: RunnerOutput): line is Line<T> =>
    line.type === type && extra(line as Line<T>);
type Relayed = { type?: string; sessionId?: string; update?: Record<string, unknown>; stopReason?: string };
const relayed = (lines: readonly RunnerOutput[]) =>
  lines.filter(is("agent")).map((line) => line.message as Relayed);
const updates = (lines: readonly RunnerOutput[], kind: string) =>
  relayed(lines)
    .filter((m) => m.type === "acp_update" && m.update?.sessionUpdate === kind)
    .map((m) => m.update as Record<string, unknown>);
const text = (lines: readonly RunnerOutput[]) =>
  updates(lines, "agent_message_chunk")
    .map((u) => (u.content as { text?: string }).text ?? "")
    .join("");

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
            [
              "Writing it.",
              { tool: "exec_command", input: { cmd: "printf 'hello\\n' > notes.txt", workdir: "{{cwd}}" } },
            ],
            "The file says hello.",
          ],
        },
        {
          name: "slow",
          match: { prompt: "be slow" },
          reply: { steps: ["tick ".repeat(400)], chunkDelayMs: 40, chunkSize: 5 },
        },
        ...["allowed", "denied"].map((name) => ({
          name: `touch-${name}`,
          match: { prompt: `touch ${name}` },
          replies: [
            { tool: "exec_command", input: { cmd: `touch ${name}.marker`, workdir: "{{cwd}}" } },
            "Finished.",
          ],
        })),
        {
          name: "recall",
          match: { prompt: "what did I say first" },
          reply: "You first said something; I remember {{prompt}}.",
        },
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

const transcriptDir = (homeDir: string) => join(homeDir, ".local", "share", "agent-runtime", "codex");

function start(
  config: Parameters<typeof startRunner>[0]["config"] = {},
  dirs?: { workspaceDir: string; homeDir: string },
): RunnerProcess {
  const runner = startRunner({
    config: { architecture: "codex", model: "gpt-5.4", ...config },
    env: {
      [CODEX_BASE_URL_ENV]: `${model.url}/v1`,
      [CODEX_API_KEY_ENV]: "sk-test",
      ...(dirs ? { [CODEX_TRANSCRIPT_DIR_ENV]: transcriptDir(dirs.homeDir) } : {}),
    },
    ...(dirs ? { dirs } : {}),
  });
  running.push(runner);
  return runner;
}

describe("runner (real Codex over ACP against the mock model)", () => {
  it("keeps one Codex process across turns, relays its ACP updates and reports the file it wrote", async () => {
    const runner = start();
    const ready = await runner.waitFor(is("ready"));
    expect(ready.agentVersion).toMatch(/^\d+\.\d+/);
    const session = relayed(runner.lines).find((m) => m.type === "acp_session");
    expect(session).toMatchObject({ resumed: false, agentName: "codex-acp" });

    runner.send({ type: "message", turnId: "t1", content: "hello there" });
    expect(await runner.waitFor(is("turn_end", (l) => l.turnId === "t1"))).toMatchObject({
      stopReason: "end_turn",
    });
    expect(text(runner.lines)).toBe("You said: hello there");

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
    const calls = updates(runner.lines.slice(mark), "tool_call");
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ kind: "execute" });
    expect(updates(runner.lines.slice(mark), "tool_call_update").at(-1)).toMatchObject({
      status: "completed",
    });
    expect(relayed(runner.lines.slice(mark)).at(-1)).toMatchObject({
      type: "acp_prompt_end",
      stopReason: "end_turn",
    });
    expect(runner.lines.filter(is("ready"))).toHaveLength(1);

    runner.send({ type: "shutdown" });
    expect(await runner.exited).toBe(0);
  });

  it("interrupts a streaming turn with session/cancel and takes the next message", async () => {
    const runner = start({ watchWorkspace: false });
    await runner.waitFor(is("ready"));
    runner.send({ type: "message", turnId: "slow", content: "be slow" });
    await runner.waitFor((line) => line.type === "agent" && text([line]).includes("tick"));
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
    expect(text(runner.lines.slice(mark))).toBe("You said: still there?");
  });

  it("asks before a command under the ask policy: allowed runs it, denied does not", async () => {
    const runner = start({ permissions: { mode: "ask" } });
    await runner.waitFor(is("ready"));
    runner.send({ type: "message", turnId: "a", content: "touch allowed" });
    const asked = await runner.waitFor(is("permission_request"));
    expect(asked).toMatchObject({ toolName: "Bash" });
    runner.send({ type: "permission_response", requestId: asked.requestId, decision: "allow" });
    await runner.waitFor(is("turn_end", (l) => l.turnId === "a"));
    expect(existsSync(join(runner.workspaceDir, "allowed.marker"))).toBe(true);

    const mark = runner.lines.length;
    runner.send({ type: "message", turnId: "d", content: "touch denied" });
    const second = await runner.waitFor(is("permission_request"), mark);
    runner.send({ type: "permission_response", requestId: second.requestId, decision: "deny" });
    await runner.waitFor(
      is("turn_end", (l) => l.turnId === "d"),
      mark,
    );
    expect(existsSync(join(runner.workspaceDir, "denied.marker"))).toBe(false);
  });

  it("resumes its session from the exported rollout in a fresh HOME", async () => {
    const root = mkdtempSync(join(tmpdir(), "runner-codex-"));
    roots.push(root);
    const dirs = { workspaceDir: join(root, "ws"), homeDir: join(root, "home") };
    for (const dir of [dirs.workspaceDir, dirs.homeDir]) mkdirSync(dir);
    for (const dir of [root, dirs.workspaceDir, dirs.homeDir]) chownSync(dir, AGENT_UID, AGENT_UID);
    const runner = start({}, dirs);
    await runner.waitFor(is("ready"));
    runner.send({ type: "message", turnId: "t1", content: "remember the word PELICAN" });
    await runner.waitFor(is("turn_end", (l) => l.turnId === "t1"));
    const sessionId = relayed(runner.lines).find((m) => m.type === "acp_session")?.sessionId as string;
    const exported = join(transcriptDir(dirs.homeDir), codexTranscriptFileName(sessionId));
    expect(existsSync(exported)).toBe(true);
    runner.send({ type: "shutdown" });
    await runner.exited;

    // The sandbox is gone: only the exported transcript is restored into a new HOME.
    rmSync(join(dirs.homeDir, ".codex"), { recursive: true, force: true });
    model.clearRequests();
    const resumed = start({ resumeSessionId: sessionId }, dirs);
    await resumed.waitFor(is("ready"));
    expect(relayed(resumed.lines).find((m) => m.type === "acp_session")).toMatchObject({
      sessionId,
      resumed: true,
    });
    resumed.send({ type: "message", turnId: "t2", content: "what did I say first" });
    await resumed.waitFor(is("turn_end", (l) => l.turnId === "t2"));
    const request = model.requests.find((r) => r.matched === "recall");
    expect(JSON.stringify(request?.messages)).toContain("remember the word PELICAN");
  });
});
