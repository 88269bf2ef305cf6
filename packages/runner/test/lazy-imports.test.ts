import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { RunnerOutput } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeAnthropic, startFakeAnthropic } from "./fake-anthropic.js";
import { startRunner } from "./runner-process.js";

/*
 * A runner loads the code of its own agent only: the built runner
 * (`dist/main.js`) of a Claude session, run with a module hook that records
 * every module it resolves, never resolves another agent's client.
 */

/** Modules only another agent's host needs. */
const OTHER_AGENTS = [
  /\/@opencode-ai\/sdk\//,
  /\/agents\/opencode\//,
  /\/agents\/codex\//,
  /\/agents\/acp\//,
];

let model: FakeAnthropic;
let folder: string;

beforeAll(async () => {
  model = await startFakeAnthropic(() => ({ content: [{ type: "text", text: "ok" }] }));
  folder = mkdtempSync(join(tmpdir(), "runner-imports-"));
  writeFileSync(
    join(folder, "hooks.mjs"),
    `import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(${JSON.stringify(join(folder, "resolved.log"))}, resolved.url + "\\n");
  return resolved;
}
`,
  );
  writeFileSync(
    join(folder, "register.mjs"),
    `import { register } from "node:module";\nregister("./hooks.mjs", import.meta.url);\n`,
  );
  writeFileSync(join(folder, "resolved.log"), "");
  // The runner runs as the agent's uid, which must read the hooks and write the log.
  chownSync(folder, 1000, 1000);
  chownSync(join(folder, "resolved.log"), 1000, 1000);
  chmodSync(folder, 0o755);
});

afterAll(async () => {
  await model?.close();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

describe("runner imports", () => {
  it("a Claude runner loads the Claude Agent SDK and no other agent's code", async () => {
    const runner = startRunner({
      nodeOptions: ["--import", pathToFileURL(join(folder, "register.mjs")).href],
      config: { watchWorkspace: false },
      env: { ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: "sk-test" },
    });
    try {
      await runner.waitFor((line: RunnerOutput) => line.type === "ready");
      runner.send({ type: "shutdown" });
      expect(await runner.exited).toBe(0);
    } finally {
      runner.cleanup();
    }
    const resolved = readFileSync(join(folder, "resolved.log"), "utf8").split("\n").filter(Boolean);
    expect(resolved.some((url) => url.includes("/@anthropic-ai/claude-agent-sdk/"))).toBe(true);
    expect(resolved.filter((url) => OTHER_AGENTS.some((pattern) => pattern.test(url)))).toEqual([]);
  });
});
