/*
 * The server side of the fan-out bench (`socket-fanout.ts`), in its own
 * process so the clients do not share its event loop: the REST + socket
 * server over a runtime whose sandboxes are fakes that play one Claude Code
 * turn streaming FANOUT_DELTAS text deltas FANOUT_INTERVAL_MS apart, through
 * the real runner protocol, parser and event log. Each delta's text is
 * `<index>@<ms>;` where `<ms>` is when the agent was due to write it
 * (`performance.timeOrigin + performance.now()`), so a client's latency is
 * measured from the schedule and a server that falls behind shows it.
 * Messages over IPC: `{url}` once listening; on `"reset"` it restarts its
 * event-loop delay histogram, on `"report"` it answers with it.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";
import { createAgentRuntime, createAgentServer, createMemoryPersistenceAdapter } from "@agent-runtime/server";
import { createFakeSandboxProvider } from "@agent-runtime/server/testing";
import { pino } from "pino";

const deltas = Number(process.env.FANOUT_DELTAS ?? 500);
const intervalMs = Number(process.env.FANOUT_INTERVAL_MS ?? 10);
const now = () => performance.timeOrigin + performance.now();

/** A real Claude Code turn (recorded), whose text deltas the bench replaces with its own. */
const recorded = readFileSync(
  new URL("../packages/server/src/agents/claude-agent-sdk/__fixtures__/text-answer.jsonl", import.meta.url),
  "utf8",
)
  .split("\n")
  .filter((line) => line.trim() !== "")
  .map((line) => JSON.parse(line) as { type: string; event?: { type: string }; session_id?: string });
const isDelta = (line: (typeof recorded)[number]) => line.event?.type === "content_block_delta";
const head = recorded.slice(0, recorded.findIndex(isDelta));
const tail = recorded.slice(recorded.findLastIndex(isDelta) + 1);
const nativeSessionId = recorded[0]?.session_id;

const runtime = createAgentRuntime({
  persistence: createMemoryPersistenceAdapter(),
  sandbox: createFakeSandboxProvider({
    runner: async (turn) => {
      turn.agent(...head);
      const start = now() + 20;
      for (let index = 0; index < deltas; index++) {
        const due = start + index * intervalMs;
        const wait = due - now();
        if (wait > 0) await delay(wait);
        turn.agent({
          type: "stream_event",
          event: {
            type: "content_block_delta",
            index: 0,
            delta: { type: "text_delta", text: `${index}@${due.toFixed(3)};` },
          },
          session_id: nativeSessionId,
          parent_tool_use_id: null,
          uuid: randomUUID(),
        });
      }
      turn.agent(...tail);
    },
  }),
  agents: [{ id: "bench", name: "Bench" }],
  model: { baseUrl: "http://127.0.0.1:9", apiKey: "bench" },
  egress: "open",
  idleTimeoutMs: 0,
  logger: pino({ level: "warn" }),
});
const server = await createAgentServer({
  runtime,
  rateLimit: false,
  socketRateLimit: false,
  maxSocketsPerCaller: 10_000,
});
const url = await server.listen({ port: 0 });

const loop = monitorEventLoopDelay({ resolution: 5 });
loop.enable();
process.on("message", (message) => {
  if (message === "reset") loop.reset();
  if (message === "report")
    process.send?.({
      loopDelayMs: { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
    });
});
process.on("SIGTERM", () => {
  void server.close().then(() => process.exit(0));
});
process.send?.({ url });
