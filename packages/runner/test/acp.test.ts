import { existsSync } from "node:fs";
import { type MockModel, startMockModel } from "@agent-runtime/mock-model";
import type { RunnerOutput } from "@agent-runtime/protocol";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { resolveCodexAcpBinary } from "../src/agents/codex/binary.js";
import { type RunnerProcess, runnerMain, startRunner } from "./runner-process.js";

/**
 * The generic `acp` architecture: the runner runs whatever ACP command its
 * configuration names. The agent here is the real `codex-acp`, named as a
 * plain command with its own arguments, as a profile would name any ACP agent.
 */

type Line<T extends RunnerOutput["type"]> = Extract<RunnerOutput, { type: T }>;
const is =
  <T extends RunnerOutput["type"]>(type: T, extra: (line: Line<T>) => boolean = () => true) =>
  (line: RunnerOutput): line is Line<T> =>
    line.type === type && extra(line as Line<T>);

let model: MockModel;
const running: RunnerProcess[] = [];

beforeAll(async () => {
  if (!existsSync(runnerMain)) throw new Error("build the runner first: npx tsc -b packages/runner");
  model = await startMockModel({
    script: { rules: [{ name: "echo", match: { prompt: { regex: "." } }, reply: "You said: {{prompt}}" }] },
  });
});
afterAll(async () => {
  await model?.close();
});
afterEach(() => {
  for (const runner of running.splice(0)) runner.cleanup();
});

function start(acp: { command: string; args?: string[]; env?: Record<string, string> }): RunnerProcess {
  const runner = startRunner({ config: { architecture: "acp", acp, watchWorkspace: false }, env: {} });
  running.push(runner);
  return runner;
}

describe("runner (any ACP agent by its command)", () => {
  it("runs the named command as an ACP agent and relays its session and turns", async () => {
    const runner = start({
      command: resolveCodexAcpBinary(),
      args: [
        "-c",
        'model_provider="mock"',
        "-c",
        `model_providers.mock={name="mock", base_url="${model.url}/v1", env_key="MOCK_KEY", wire_api="responses"}`,
        "-c",
        'model="gpt-5.4"',
        "-c",
        'sandbox_mode="danger-full-access"',
        "-c",
        'approval_policy="never"',
      ],
      env: { MOCK_KEY: "k" },
    });
    await runner.waitFor(is("ready"));
    const session = runner.lines.find(
      (line) => line.type === "agent" && (line.message as { type?: string }).type === "acp_session",
    );
    expect(session).toBeDefined();
    runner.send({ type: "message", turnId: "t1", content: "hello generic" });
    expect(await runner.waitFor(is("turn_end", (l) => l.turnId === "t1"))).toMatchObject({
      stopReason: "end_turn",
    });
    const text = runner.lines
      .filter(is("agent"))
      .map(
        (line) =>
          line.message as { type?: string; update?: { sessionUpdate?: string; content?: { text?: string } } },
      )
      .filter((m) => m.type === "acp_update" && m.update?.sessionUpdate === "agent_message_chunk")
      .map((m) => m.update?.content?.text ?? "")
      .join("");
    expect(text).toBe("You said: hello generic");
  });

  it("fails with a fatal line when the command does not exist", async () => {
    const runner = start({ command: "/nonexistent/acp-agent" });
    const fatal = await runner.waitFor(is("fatal"));
    expect(fatal.message).toContain("agent failed to start");
    expect(await runner.exited).toBe(1);
  });
});
