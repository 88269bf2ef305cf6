import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";

/**
 * A turn's token usage, in the shape of ACP's (unstable) prompt usage, as
 * the server's ACP parser reads it: input without the cached part, which
 * is counted apart.
 */
export interface AcpPromptUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cachedReadTokens: number;
}

interface Totals {
  readonly input: number;
  readonly cached: number;
  readonly output: number;
}

const ZERO: Totals = { input: 0, cached: 0, output: 0 };

/**
 * Codex's usage per turn. Codex reports none over ACP (only the context
 * window's fill, `usage_update`), but its rollout records the model's usage
 * of every response as `token_count` events holding the session's running
 * total (`total_token_usage`; OpenAI's input counts include the cached
 * part, the output counts include reasoning). A turn's usage is how much
 * that total grew since the previous turn (or since `startFrom`).
 */
export function createRolloutUsage() {
  let previous: Totals = ZERO;
  return {
    /** Takes the total a rollout holds already (a resumed session's) as the starting point. */
    async startFrom(rollout: string): Promise<void> {
      previous = (await lastTotals(rollout)) ?? ZERO;
    },
    /** The growth of the rollout's total since the last call; undefined when the rollout holds no count. */
    async turnUsage(rollout: string): Promise<AcpPromptUsage | undefined> {
      const totals = await lastTotals(rollout);
      if (!totals) return undefined;
      const grown = {
        input: Math.max(0, totals.input - previous.input),
        cached: Math.max(0, totals.cached - previous.cached),
        output: Math.max(0, totals.output - previous.output),
      };
      previous = totals;
      return {
        inputTokens: Math.max(0, grown.input - grown.cached),
        outputTokens: grown.output,
        cachedReadTokens: grown.cached,
      };
    },
  };
}

/** The last `token_count` total of a rollout file; undefined when it has none or cannot be read. */
async function lastTotals(rollout: string): Promise<Totals | undefined> {
  let last: Totals | undefined;
  const stream = createReadStream(rollout, { encoding: "utf8" });
  try {
    for await (const line of createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })) {
      if (!line.includes('"token_count"')) continue;
      last = totalsOf(line) ?? last;
    }
  } catch {
    return undefined;
  } finally {
    stream.destroy();
  }
  return last;
}

function totalsOf(line: string): Totals | undefined {
  try {
    const record = JSON.parse(line) as {
      payload?: { type?: unknown; info?: { total_token_usage?: Record<string, unknown> } | null };
    };
    const total = record.payload?.type === "token_count" ? record.payload.info?.total_token_usage : undefined;
    if (!total) return undefined;
    return {
      input: count(total.input_tokens),
      cached: count(total.cached_input_tokens),
      output: count(total.output_tokens),
    };
  } catch {
    return undefined;
  }
}

function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : 0;
}
