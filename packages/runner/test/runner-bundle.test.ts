import {
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { RunnerOutput } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeAnthropic, startFakeAnthropic } from "./fake-anthropic.js";
import { startRunner } from "./runner-process.js";

/*
 * The self-contained runner (`npm run build` bundles it) run the way a
 * sandbox image runs it: the bundle alone in a folder outside the
 * repository, with only the packages its manifest names installed beside it
 * (linked here from this repository's node_modules, standing in for the
 * image's `npm install` of those exact versions). Anything else the bundle
 * imported would fail to resolve there.
 */
const bundleDir = fileURLToPath(new URL("../dist/bundle/", import.meta.url));
const repositoryModules = fileURLToPath(new URL("../../../node_modules/", import.meta.url));

type Line<T extends RunnerOutput["type"]> = Extract<RunnerOutput, { type: T }>;
const is =
  <T extends RunnerOutput["type"]>(type: T) =>
  (line: RunnerOutput): line is Line<T> =>
    line.type === type;

let model: FakeAnthropic;
let folder: string;

beforeAll(async () => {
  if (!existsSync(join(bundleDir, "runner.mjs"))) {
    throw new Error("build the runner bundle first: npm run bundle -w @agent-runtime/runner");
  }
  model = await startFakeAnthropic((request) => ({
    content: [{ type: "text", text: `Bundled runner heard: ${request.lastUserText}` }],
  }));
  folder = mkdtempSync(join(tmpdir(), "runner-bundle-"));
  cpSync(join(bundleDir, "runner.mjs"), join(folder, "runner.mjs"));
  const manifest = JSON.parse(readFileSync(join(bundleDir, "runner-bundle.json"), "utf8")) as {
    packages: Record<string, string>;
  };
  for (const name of Object.keys(manifest.packages)) {
    const target = join(folder, "node_modules", name);
    mkdirSync(join(target, ".."), { recursive: true });
    symlinkSync(join(repositoryModules, name), target);
  }
  chownSync(folder, 1000, 1000);
});

afterAll(async () => {
  await model?.close();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

describe("runner bundle", () => {
  it("names only packages with native code or an agent binary, at the package-lock's versions", () => {
    const manifest = JSON.parse(readFileSync(join(bundleDir, "runner-bundle.json"), "utf8")) as {
      entry: string;
      packages: Record<string, string>;
    };
    const lock = JSON.parse(
      readFileSync(fileURLToPath(new URL("../../../package-lock.json", import.meta.url)), "utf8"),
    ) as { packages: Record<string, { version: string }> };
    expect(manifest.entry).toBe("runner.mjs");
    expect(Object.keys(manifest.packages).sort()).toEqual(
      [
        "@anthropic-ai/claude-agent-sdk",
        "@google/gemini-cli",
        "@zed-industries/codex-acp",
        "koffi",
        "opencode-ai",
      ].sort(),
    );
    for (const [name, version] of Object.entries(manifest.packages)) {
      expect(version).toBe(lock.packages[`node_modules/${name}`]?.version);
    }
  });

  it("starts from a folder outside the repository and runs a real Claude Code turn", async () => {
    const runner = startRunner({
      main: join(folder, "runner.mjs"),
      config: { watchWorkspace: false },
      env: { ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: "sk-test" },
    });
    try {
      const ready = await runner.waitFor(is("ready"));
      expect(ready.agentVersion).toMatch(/^\d+\.\d+\.\d+/);
      runner.send({ type: "message", turnId: "t1", content: "hello bundle" });
      const end = await runner.waitFor(is("turn_end"));
      expect(end.stopReason).toBe("end_turn");
      const result = runner.lines.filter(is("agent")).at(-1)!.message as { result: string };
      expect(result.result).toBe("Bundled runner heard: hello bundle");
      runner.send({ type: "shutdown" });
      expect(await runner.exited).toBe(0);
    } finally {
      runner.cleanup();
    }
  });
});
