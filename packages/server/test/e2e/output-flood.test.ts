import { performance } from "node:perf_hooks";
import type { ScriptInput } from "@agent-runtime/mock-model";
import type { Block, SessionEvent } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PersistenceAdapter } from "../../src/index.js";
import { probeHealth } from "../support/health-probe.js";
import { percentile } from "../support/percentile.js";
import { restClient } from "../support/rest.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/**
 * Output flood (RELIABILITY 22) with the real agent: a tool printing tens of
 * megabytes keeps `/health` answering fast, and reaches clients and storage
 * as one tool_result block of bounded size, in a handful of events, never
 * one event per line.
 */
const FLOOD_BYTES = 20_000_000;
const FLOOD_SLICES = 100;
const script: ScriptInput = {
  rules: [
    {
      name: "flood",
      match: { prompt: "Flood the output" },
      replies: [
        { tool: "Bash", input: { command: "seq 1 2000000", description: "Print 14 MB at once" } },
        {
          tool: "Bash",
          input: {
            command: `for i in $(seq 1 ${FLOOD_SLICES}); do yes line | head -c ${FLOOD_BYTES / FLOOD_SLICES}; sleep 0.02; done`,
            description: "Print 20 MB over a few seconds",
          },
        },
        "That was a lot of output.",
      ],
    },
  ],
};

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

describe("output flood", () => {
  let server: TestServer;
  let rest: ReturnType<typeof restClient>;
  let storage: PersistenceAdapter | undefined;

  beforeAll(async () => {
    server = await startTestServer({
      script,
      // The test probes /health as fast as it answers, for as long as the flood lasts.
      server: { rateLimit: false },
      wrapPersistence: (sqlite) => {
        storage = sqlite;
        return sqlite;
      },
    });
    rest = restClient(server.url);
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it("keeps /health responsive and stores each flood as one bounded block", async () => {
    const sessionId = await rest.createSession();
    const recorder = new SocketRecorder(server.url);
    await recorder.join(sessionId, 0);
    const startSeq = (await rest.session(sessionId)).lastSeq;

    const response = await rest.send(sessionId, "Flood the output");
    expect(response.status).toBe(202);
    const done = () => recorder.events.some((e) => e.type === "session:turn:completed");
    const started = () =>
      recorder.events.some((e) => e.type === "session:block:start" && e.block.type === "tool_use");

    // Probe /health over one keep-alive connection, from the first tool call until the turn is over.
    await recorder.waitFor(() => started() || done(), 60_000);
    expect(started()).toBe(true);
    const floodStart = performance.now();
    const healthMs = await probeHealth(server.url, done);
    const floodMs = performance.now() - floodStart;
    recorder.close();

    const turn = recorder.events.filter((e) => e.seq > startSeq);
    const toolResults = (events: SessionEvent[]) =>
      events.flatMap((e) =>
        e.type === "session:block:complete" && e.block.type === "tool_result" ? [e.block] : [],
      );
    const results = toolResults(turn);
    const resultDeltas = turn.filter(
      (e) => e.type === "session:block:delta" && results.some((b) => b.id === e.blockId),
    ).length;
    await (await server.server.runtime.sessions.get(sessionId)).sync();
    const stored = (await storage!.loadBlocks(sessionId)).filter(
      (b): b is Extract<Block, { type: "tool_result" }> => b.type === "tool_result",
    );
    const transcript = (await storage!.loadTranscript(sessionId)) ?? "";
    const figures = {
      floodMs: Math.round(floodMs),
      healthProbes: healthMs.length,
      healthP50: percentile(healthMs, 50),
      healthP95: percentile(healthMs, 95),
      healthMax: percentile(healthMs, 100),
      turnEvents: turn.length,
      turnEventTypes: [...new Set(turn.map((e) => e.type))],
      turnEventBytes: bytes(turn),
      toolResultBlocks: results.length,
      toolResultDeltas: resultDeltas,
      toolResultBytes: results.map(bytes),
      storedToolResultBytes: stored.map(bytes),
      transcriptBytes: Buffer.byteLength(transcript),
    };
    console.info("output flood", figures);

    expect(healthMs.length).toBeGreaterThanOrEqual(5);
    expect(figures.healthP95).toBeLessThan(50);
    // Coalesced: one result block per command, a handful of events for the whole turn.
    const toolUses = turn.filter((e) => e.type === "session:block:complete" && e.block.type === "tool_use");
    expect(toolUses).toHaveLength(2);
    expect(results).toHaveLength(2);
    expect(resultDeltas).toBe(0);
    expect(turn.length).toBeLessThan(60);
    // Bounded: the agent keeps a preview of huge outputs, and the server does not multiply what it got.
    for (const size of figures.toolResultBytes) expect(size).toBeLessThan(64_000);
    const resultBytes = figures.toolResultBytes.reduce((sum, size) => sum + size, 0);
    expect(figures.turnEventBytes).toBeLessThan(3 * resultBytes + 64_000);
    expect(figures.transcriptBytes).toBeLessThan(FLOOD_BYTES / 20);
    expect(stored).toEqual(results);
    const session = await rest.session(sessionId);
    expect(session.blocks.filter((b) => b.type === "tool_result")).toEqual(results);
  });
});
