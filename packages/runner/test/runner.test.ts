import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { RunnerOutput } from "@agent-runtime/protocol";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type FakeAnthropic, startFakeAnthropic } from "./fake-anthropic.js";
import { type RunnerProcess, runnerMain, startRunner } from "./runner-process.js";

type Line<T extends RunnerOutput["type"]> = Extract<RunnerOutput, { type: T }>;
const is =
  <T extends RunnerOutput["type"]>(type: T, extra: (line: Line<T>) => boolean = () => true) =>
  (line: RunnerOutput): line is Line<T> =>
    line.type === type && extra(line as Line<T>);

let model: FakeAnthropic;
const running: RunnerProcess[] = [];

beforeAll(async () => {
  if (!existsSync(runnerMain)) throw new Error("build the runner first: npx tsc -b packages/runner");
  model = await startFakeAnthropic((request) => {
    if (request.afterToolResult) return { content: [{ type: "text", text: "The file is written." }] };
    const text = request.lastUserText;
    const file = /write (\S+)/.exec(text)?.[1];
    if (file) {
      const workspace = /Primary working directory: ([^\s\\]+)/.exec(JSON.stringify(request.messages))?.[1];
      return {
        content: [
          { type: "text", text: "Writing it." },
          {
            type: "tool_use",
            name: "Write",
            input: { file_path: `${workspace}/${file}`, content: "hello\n" },
          },
        ],
      };
    }
    if (text.includes("slow"))
      return { content: [{ type: "text", text: "tick ".repeat(200) }], chunkDelayMs: 50 };
    return { content: [{ type: "text", text: `You said: ${text}` }] };
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
  dirs?: Parameters<typeof startRunner>[0]["dirs"],
): RunnerProcess {
  const runner = startRunner({
    config,
    env: { ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: "sk-test" },
    ...(dirs ? { dirs } : {}),
  });
  running.push(runner);
  return runner;
}

describe("runner (real Claude Code against a fake model)", () => {
  it("keeps one agent process across turns, relays agent messages and reports files", async () => {
    const runner = start();
    const ready = await runner.waitFor(is("ready"));
    expect(ready.pid).toBeGreaterThan(0);
    expect(ready.agentVersion).toMatch(/^\d+\.\d+\.\d+/);

    runner.send({ type: "message", turnId: "t1", content: "hello there" });
    const end1 = await runner.waitFor(is("turn_end", (l) => l.turnId === "t1"));
    expect(end1.stopReason).toBe("end_turn");
    const agentLines = runner.lines.filter(is("agent"));
    const types = agentLines.map((l) => (l.message as { type: string }).type);
    expect(types).toContain("stream_event");
    expect(types).toContain("assistant");
    expect(types.at(-1)).toBe("result");
    const result = agentLines.at(-1)!.message as { result: string };
    expect(result.result).toBe("You said: hello there");

    const mark = runner.lines.length;
    runner.send({ type: "message", turnId: "t2", content: "please write notes.txt" });
    const end2 = await runner.waitFor(
      is("turn_end", (l) => l.turnId === "t2"),
      mark,
    );
    expect(end2.stopReason).toBe("end_turn");
    const file = await runner.waitFor(
      is("file", (l) => l.path === "notes.txt"),
      mark,
    );
    expect(file).toMatchObject({ event: "created", size: 6 });
    expect(readFileSync(join(runner.workspaceDir, "notes.txt"), "utf8")).toBe("hello\n");
    // Both turns ran in the same runner process, which wrote exactly one ready line.
    expect(runner.lines.filter(is("ready"))).toHaveLength(1);
    const inits = runner.lines
      .filter(is("agent"))
      .map((l) => l.message as { type: string; subtype?: string; session_id?: string })
      .filter((m) => m.type === "system" && m.subtype === "init");
    expect(new Set(inits.map((m) => m.session_id)).size).toBe(1);

    runner.send({ type: "shutdown" });
    expect(await runner.exited).toBe(0);
    // Nothing but protocol lines on stdout (each line parsed as JSON with a known type).
    expect(runner.lines.every((l) => typeof l.type === "string")).toBe(true);
  });

  it("holds a message sent before ready for the agent and refuses a second one while it is open", async () => {
    const runner = start({ watchWorkspace: false });
    runner.send({ type: "message", turnId: "a", content: "first" });
    runner.send({ type: "message", turnId: "b", content: "second" });
    await runner.waitFor(is("turn_end", (l) => l.turnId === "a"));
    expect(runner.lines.map((l) => l.type)).toContain("ready");
    const ends = runner.lines.filter(is("turn_end"));
    expect(ends.map((l) => [l.turnId, l.stopReason])).toEqual([
      ["b", "error"],
      ["a", "end_turn"],
    ]);
    const result = runner.lines.filter(is("agent")).at(-1)!.message as { result: string };
    expect(result.result).toBe("You said: first");
    expect(model.requests.some((r) => r.lastUserText === "second")).toBe(false);
    runner.child.stdin!.end();
    expect(await runner.exited).toBe(0);
  });

  it("interrupts a running turn and keeps accepting messages", async () => {
    const runner = start({ watchWorkspace: false });
    await runner.waitFor(is("ready"));
    runner.send({ type: "message", turnId: "slow", content: "be slow" });
    await runner.waitFor(
      is("agent", (l) => (l.message as { event?: { type?: string } }).event?.type === "content_block_delta"),
    );
    runner.send({ type: "interrupt" });
    const end = await runner.waitFor(is("turn_end", (l) => l.turnId === "slow"));
    expect(end.stopReason).toBe("interrupted");

    const mark = runner.lines.length;
    runner.send({ type: "message", turnId: "after", content: "still there?" });
    const after = await runner.waitFor(
      is("turn_end", (l) => l.turnId === "after"),
      mark,
    );
    expect(after.stopReason).toBe("end_turn");
    runner.send({ type: "shutdown" });
    expect(await runner.exited).toBe(0);
  });

  it("resumes a session natively from its transcript in a new process", async () => {
    const first = start({ watchWorkspace: false });
    await first.waitFor(is("ready"));
    first.send({ type: "message", turnId: "one", content: "remember the word pineapple" });
    await first.waitFor(is("turn_end"));
    const init = first.lines
      .filter(is("agent"))
      .map((l) => l.message as { type: string; subtype?: string; session_id: string })
      .find((m) => m.type === "system" && m.subtype === "init")!;
    first.send({ type: "shutdown" });
    expect(await first.exited).toBe(0);
    // Claude Code's transcript location: $HOME/.claude/projects/<cwd with non-alphanumerics as '-'>/<id>.jsonl
    const project = first.workspaceDir.replace(/[^a-zA-Z0-9]/g, "-");
    expect(existsSync(join(first.homeDir, ".claude", "projects", project, `${init.session_id}.jsonl`))).toBe(
      true,
    );

    const second = start(
      { watchWorkspace: false, resumeSessionId: init.session_id },
      { workspaceDir: first.workspaceDir, homeDir: first.homeDir },
    );
    await second.waitFor(is("ready"));
    const requestsBefore = model.requests.length;
    second.send({ type: "message", turnId: "two", content: "which word?" });
    expect(await second.waitFor(is("turn_end"))).toMatchObject({ stopReason: "end_turn" });
    const request = model.requests.slice(requestsBefore).find((r) => r.lastUserText === "which word?")!;
    expect(JSON.stringify(request.messages)).toContain("remember the word pineapple");
    second.send({ type: "shutdown" });
    expect(await second.exited).toBe(0);
  });

  it("rejects a bad config with a fatal line and a non-zero exit", async () => {
    const runner = start({ architecture: "nope" as never });
    const fatal = await runner.waitFor(is("fatal"));
    expect(fatal.message).toMatch(/invalid config/);
    expect(await runner.exited).toBe(1);
  });

  it("ignores malformed commands with a log line", async () => {
    const runner = start({ watchWorkspace: false });
    await runner.waitFor(is("ready"));
    runner.child.stdin!.write("not json\n");
    runner.child.stdin!.write(`${JSON.stringify({ type: "dance" })}\n`);
    await runner.waitFor(is("log", (l) => l.message.includes("invalid command")));
    runner.send({ type: "shutdown" });
    expect(await runner.exited).toBe(0);
  });
});
