import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { type MockModel, startMockModel } from "@agent-runtime/mock-model";
import type { JoinAck, SessionData } from "@agent-runtime/protocol";
import type { Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHealthProbeProcess } from "../support/health-probe-process.js";
import { percentile } from "../support/percentile.js";
import { cpuTimeMs } from "../support/process-stats.js";
import { type ServerProcess, startServerProcess } from "../support/server-process.js";
import { connectSocket, until } from "../support/socket-client.js";
import { SocketRecorder } from "../support/socket-recorder.js";

const KEYS = ["fair-key-a", "fair-key-b", "fair-key-c", "fair-key-d"];
const SOCKETS_PER_KEY = 50;
const FRAMES_PER_SOCKET = 100;
const FRAMES_PER_BURST = 5;
const BURST_INTERVAL_MS = 25;
const MAX_FRAME_BYTES = 64 * 1024;
/** `/health` p95 while 200 sockets flood the server (it was seconds without a rate limit on socket events). */
const HEALTH_P95_BOUND_MS = 500;
/** CPU the server may spend on the whole flood (4.5 s without a rate limit, on a busy machine). */
const FLOOD_CPU_BOUND_MS = 2_500;

/** A connection refused at the handshake, with the `{code, message}` the server gave. */
async function refusal(url: string, token: string): Promise<{ code?: string; message?: string }> {
  const outcome = await connectSocket(url, { token }).then(
    (socket) => {
      socket.close();
      return undefined;
    },
    (error: Error & { data?: { code?: string; message?: string } }) => error.data ?? {},
  );
  if (!outcome) throw new Error("the connection was accepted");
  return outcome;
}

/**
 * Socket fairness (RELIABILITY 34, and 15 and 16 for socket events) against
 * `agent-runtime serve` in its own process, configured from its environment:
 * a flood of events from 200 sockets leaves `/health` (probed from another
 * process) responsive, each key holds a bounded number of sockets, and an
 * over-size frame closes its socket.
 */
describe("socket fairness", () => {
  let mock: MockModel;
  let dataDir: string;
  let server: ServerProcess;
  let sessionId: string;

  beforeAll(async () => {
    mock = await startMockModel({
      script: { rules: [{ match: { prompt: "Say hello" }, reply: "Hello there, in a few words." }] },
    });
    dataDir = await mkdtemp(join(tmpdir(), "agent-runtime-fairness-"));
    server = await startServerProcess({
      dataDir,
      modelUrl: mock.url,
      env: {
        AGENT_RUNTIME_API_KEYS: KEYS.join(","),
        AGENT_RUNTIME_SOCKET_MAX_PER_CALLER: String(SOCKETS_PER_KEY),
        AGENT_RUNTIME_SOCKET_MAX_FRAME_BYTES: String(MAX_FRAME_BYTES),
      },
    });
    const headers = { authorization: `Bearer ${KEYS[0]}`, "content-type": "application/json" };
    const created = await fetch(`${server.url}/sessions`, {
      method: "POST",
      headers,
      body: JSON.stringify({ agentProfileRef: "test" }),
    });
    sessionId = ((await created.json()) as SessionData).sessionId;
    const recorder = new SocketRecorder(server.url, { token: KEYS[0] });
    await recorder.join(sessionId, 0);
    await fetch(`${server.url}/sessions/${sessionId}/messages`, {
      method: "POST",
      headers,
      body: JSON.stringify({ content: "Say hello" }),
    });
    await recorder.waitForTurns(1, 90_000);
    recorder.close();
  }, 150_000);
  afterAll(async () => {
    await server?.kill("SIGTERM");
    await mock?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("keeps /health responsive while 200 sockets send 100 replay requests each", async () => {
    const idle = startHealthProbeProcess(server.url);
    await delay(2_000);
    const baseline = (await idle.stop()).probes.map((probe) => probe.ms);

    let lastPacketAt = 0;
    let received = 0;
    const sockets = await Promise.all(
      KEYS.flatMap((token) =>
        Array.from({ length: SOCKETS_PER_KEY }, () => connectSocket(server.url, { token })),
      ),
    );
    for (const socket of sockets) {
      socket.onAny(() => {
        received += 1;
        lastPacketAt = Date.now();
      });
    }
    const probe = startHealthProbeProcess(server.url);
    await delay(500);
    // Every socket sends its frames in bursts, as fast as a client loop would.
    const cpuBefore = cpuTimeMs(server.pid);
    const started = Date.now();
    for (let burst = 0; burst < FRAMES_PER_SOCKET / FRAMES_PER_BURST; burst++) {
      for (const socket of sockets) {
        for (let i = 0; i < FRAMES_PER_BURST; i++) socket.emit("session:join", { sessionId, afterSeq: 0 });
      }
      await delay(BURST_INTERVAL_MS);
    }
    const sentMs = Date.now() - started;
    // The server is done with the flood once it has had nothing more to say for a second.
    await until(() => Date.now() - lastPacketAt > 1_000, 120_000);
    const { probes, failures } = await probe.stop();
    for (const socket of sockets) socket.close();
    // The probes sent while the server was still answering the flood.
    const during = probes.filter((p) => p.at <= lastPacketAt && p.at + p.ms >= started).map((p) => p.ms);
    const figures = {
      serverCpuMs: cpuTimeMs(server.pid) - cpuBefore,
      sentMs,
      floodMs: lastPacketAt - started,
      received,
      probes: during.length,
      idleP50: percentile(baseline, 50),
      idleP95: percentile(baseline, 95),
      p50: percentile(during, 50),
      p95: percentile(during, 95),
      max: percentile(during, 100),
    };
    console.info("socket flood", figures);
    expect(failures).toEqual([]);
    // Unlimited, every request got the whole replay back (300,000 packets) and the server worked for seconds.
    expect(received).toBeLessThan(FRAMES_PER_SOCKET * sockets.length);
    expect(figures.serverCpuMs).toBeLessThan(FLOOD_CPU_BOUND_MS);
    expect(during.length).toBeGreaterThanOrEqual(3);
    expect(figures.p95).toBeLessThan(HEALTH_P95_BOUND_MS);
  });

  it("refuses a key's socket past its limit with TOO_MANY_SOCKETS, and counts each key on its own", async () => {
    const held = await Promise.all(
      Array.from({ length: SOCKETS_PER_KEY }, () => connectSocket(server.url, { token: KEYS[0] })),
    );
    const refused = await refusal(server.url, KEYS[0] ?? "");
    expect(refused.code).toBe("TOO_MANY_SOCKETS");
    expect(refused.message).toMatch(/50 sockets/);
    const other = await connectSocket(server.url, { token: KEYS[1] });
    other.close();
    // A place frees up when one of them closes.
    held.pop()?.close();
    let again: Socket | undefined;
    for (let attempt = 0; attempt < 50 && !again; attempt++) {
      again = await connectSocket(server.url, { token: KEYS[0] }).catch(() =>
        delay(100).then(() => undefined),
      );
    }
    expect(again?.connected).toBe(true);
    again?.close();
    for (const socket of held) socket.close();
  });

  it("closes a socket that sends a frame over the configured size, and keeps serving it below", async () => {
    const big = await connectSocket(server.url, { token: KEYS[2] });
    const reason = new Promise<string>((resolve) => big.once("disconnect", resolve));
    big.emit("session:join", { sessionId: "x".repeat(MAX_FRAME_BYTES + 1024) });
    expect(await reason).toMatch(/transport (close|error)/);
    const fine = await connectSocket(server.url, { token: KEYS[2] });
    const ack = (await fine
      .timeout(10_000)
      .emitWithAck("session:join", { sessionId: `${"x".repeat(MAX_FRAME_BYTES - 1024)}` })) as JoinAck;
    // Served and answered: such an id is no session id (at most 200 characters).
    expect(ack).toMatchObject({ ok: false, error: { code: "VALIDATION_FAILED" } });
    fine.close();
  });
});
