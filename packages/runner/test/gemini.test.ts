import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type MockModel, startMockModel } from "@agent-runtime/mock-model";
import { GEMINI_API_KEY_ENV, GEMINI_BASE_URL_ENV, type RunnerOutput } from "@agent-runtime/protocol";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type RunnerProcess, runnerMain, startRunner } from "./runner-process.js";

/** The runner hosting the real Gemini CLI in ACP mode against the mock model's Gemini API. */

type Line<T extends RunnerOutput["type"]> = Extract<RunnerOutput, { type: T }>;
const is =
  <T extends RunnerOutput["type"]>(type: T, extra: (line: Line<T>) => boolean = () => true) =>
  (line: RunnerOutput): line is Line<T> =>
    line.type === type && extra(line as Line<T>);
type Relayed = { type?: string; update?: Record<string, unknown> };
const relayed = (lines: readonly RunnerOutput[]) =>
  lines.filter(is("agent")).map((line) => line.message as Relayed);
const text = (lines: readonly RunnerOutput[]) =>
  relayed(lines)
    .filter((m) => m.type === "acp_update" && m.update?.sessionUpdate === "agent_message_chunk")
    .map((m) => (m.update?.content as { text?: string } | undefined)?.text ?? "")
    .join("");

let model: MockModel;
const running: RunnerProcess[] = [];

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
              { tool: "write_file", input: { file_path: "{{cwd}}/notes.txt", content: "hello\n" } },
            ],
            "The file says hello.",
          ],
        },
        ...["allowed", "denied"].map((name) => ({
          name: `touch-${name}`,
          match: { prompt: `touch ${name}` },
          replies: [
            {
              tool: "run_shell_command",
              input: { command: `touch ${name}.marker`, description: "Create a marker" },
            },
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
});

function start(
  config: Parameters<typeof startRunner>[0]["config"] = {},
  dirs?: { workspaceDir: string; homeDir: string },
): RunnerProcess {
  const runner = startRunner({
    config: { architecture: "gemini", model: "gemini-2.5-flash", ...config },
    env: {
      [GEMINI_BASE_URL_ENV]: model.url,
      [GEMINI_API_KEY_ENV]: "test-key",
    },
    ...(dirs ? { dirs } : {}),
  });
  running.push(runner);
  return runner;
}

describe("runner (real Gemini CLI over ACP against the mock model)", () => {
  it("answers, writes a file with write_file and reports it", async () => {
    const runner = start();
    const ready = await runner.waitFor(is("ready"));
    expect(ready.agentVersion).toMatch(/^\d+\.\d+/);
    expect(relayed(runner.lines).find((m) => m.type === "acp_session")).toMatchObject({
      agentName: "gemini-cli",
    });

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
    ).toMatchObject({ event: "created" });
    expect(readFileSync(join(runner.workspaceDir, "notes.txt"), "utf8")).toBe("hello\n");
    expect(text(runner.lines.slice(mark))).toContain("The file says hello.");
    runner.send({ type: "shutdown" });
    expect(await runner.exited).toBe(0);
  });

  it("asks before a shell command under the ask policy: allowed runs it, denied does not", async () => {
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
});
