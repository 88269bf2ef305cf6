import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRolloutUsage } from "./rollout-usage.js";

/** A rollout's `token_count` line as Codex 0.171 (codex-acp 0.16) writes it. */
const tokenCount = (input: number, cached: number, output: number) =>
  JSON.stringify({
    timestamp: "2026-12-06T23:46:25.681Z",
    type: "event_msg",
    payload: {
      type: "token_count",
      info: {
        total_token_usage: {
          input_tokens: input,
          cached_input_tokens: cached,
          output_tokens: output,
          reasoning_output_tokens: 0,
          total_tokens: input + output,
        },
        last_token_usage: { input_tokens: 1, cached_input_tokens: 0, output_tokens: 1, total_tokens: 2 },
        model_context_window: 258400,
      },
    },
  });

describe("Codex usage from its rollout", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "rollout-usage-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reports each turn's tokens as the growth of the rollout's running total, cached input apart", async () => {
    const file = join(dir, "rollout.jsonl");
    const meta = JSON.stringify({ type: "session_meta", payload: { id: "s" } });
    await writeFile(
      file,
      `${meta}\n${tokenCount(7582, 0, 68)}\n${tokenCount(15301, 0, 96)}\n{"type":"event_msg"}\n`,
    );
    const usage = createRolloutUsage();
    expect(await usage.turnUsage(file)).toEqual({
      inputTokens: 15301,
      outputTokens: 96,
      cachedReadTokens: 0,
    });
    await writeFile(
      file,
      `${meta}\n${tokenCount(15301, 0, 96)}\n${tokenCount(30000, 12000, 150)}\nnot json\n`,
    );
    expect(await usage.turnUsage(file)).toEqual({
      inputTokens: 30000 - 15301 - 12000,
      outputTokens: 150 - 96,
      cachedReadTokens: 12000,
    });
  });

  it("starts from the total a resumed rollout holds, and reports nothing without a count", async () => {
    const file = join(dir, "resumed.jsonl");
    await writeFile(file, `${tokenCount(1000, 0, 10)}\n`);
    const usage = createRolloutUsage();
    await usage.startFrom(file);
    await writeFile(file, `${tokenCount(1000, 0, 10)}\n${tokenCount(1500, 0, 30)}\n`);
    expect(await usage.turnUsage(file)).toEqual({ inputTokens: 500, outputTokens: 20, cachedReadTokens: 0 });
    expect(await usage.turnUsage(join(dir, "missing.jsonl"))).toBeUndefined();
    await writeFile(join(dir, "empty.jsonl"), '{"type":"session_meta"}\n');
    expect(await usage.turnUsage(join(dir, "empty.jsonl"))).toBeUndefined();
  });
});
