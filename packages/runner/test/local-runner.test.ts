import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { RunnerOutput } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeAnthropic, startFakeAnthropic } from "./fake-anthropic.js";
import { startRunner } from "./runner-process.js";

/*
 * The local runner (`npm run build` makes `dist/local-runner/`), run the way
 * the local sandbox provider runs it: `node <its options> main.cjs
 * <config>`, by the `node` that built it, as a non-root user.
 */
const localDir = fileURLToPath(new URL("../dist/local-runner/", import.meta.url));
const manifestPath = join(localDir, "local-runner.json");

type Line<T extends RunnerOutput["type"]> = Extract<RunnerOutput, { type: T }>;
const is =
  <T extends RunnerOutput["type"]>(type: T) =>
  (line: RunnerOutput): line is Line<T> =>
    line.type === type;

const CACHE_REJECTED = /code cache does not fit/;

let model: FakeAnthropic;
let manifest: { entry: string; nodeOptions: string[]; node: string };
/** The Claude Code version of the installed SDK's manifest. */
const claudeCodeVersion = (
  JSON.parse(
    readFileSync(
      join(dirname(createRequire(import.meta.url).resolve("@anthropic-ai/claude-agent-sdk")), "package.json"),
      "utf8",
    ),
  ) as { claudeCodeVersion: string }
).claudeCodeVersion;

beforeAll(async () => {
  if (!existsSync(manifestPath)) {
    throw new Error("build the local runner first: npm run bundle -w @agent-runtime/runner");
  }
  manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as typeof manifest;
  model = await startFakeAnthropic((request) => ({
    content: [{ type: "text", text: `Local runner heard: ${request.lastUserText}` }],
  }));
});

afterAll(async () => {
  await model?.close();
});

/** Runs one Claude Code turn through the local runner started with `nodeOptions`; returns its stderr. */
async function oneTurn(nodeOptions: readonly string[]): Promise<string> {
  const runner = startRunner({
    main: join(localDir, manifest.entry),
    nodeOptions,
    config: { watchWorkspace: true },
    env: { ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: "sk-test" },
  });
  try {
    const ready = await runner.waitFor(is("ready"));
    // Set at build time from the inlined SDK's manifest (see scripts/bundle.mjs).
    expect(ready.agentVersion).toBe(claudeCodeVersion);
    runner.send({ type: "message", turnId: "t1", content: "hello local" });
    const end = await runner.waitFor(is("turn_end"));
    expect(end.stopReason).toBe("end_turn");
    const result = runner.lines.filter(is("agent")).at(-1)!.message as { result: string };
    expect(result.result).toBe("Local runner heard: hello local");
    runner.send({ type: "shutdown" });
    expect(await runner.exited).toBe(0);
    return runner.stderr();
  } finally {
    runner.cleanup();
  }
}

describe("local runner", () => {
  it("was built by this node, and runs a real Claude Code turn with its code cache accepted", async () => {
    expect(manifest.node).toBe(process.version);
    expect(await oneTurn(manifest.nodeOptions)).not.toMatch(CACHE_REJECTED);
  });

  it("runs the same turn when its cache does not fit the node's options, and says so", async () => {
    expect(await oneTurn(["--max-semi-space-size=2"])).toMatch(CACHE_REJECTED);
  });
});
