import type { SessionData } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentRuntimeError, type SessionSubscriber, SocketConnection } from "../src/index.js";
import { type RealServer, startRealServer } from "./support/real-server.js";

/** A subscriber that holds nothing and records why its join failed, if it did. */
function subscriber(failures: AgentRuntimeError[]): SessionSubscriber {
  return {
    cursor: () => 0,
    onEvent: () => "applied",
    onSnapshot: (_data: SessionData) => undefined,
    onJoinFailed: (error) => failures.push(error),
  };
}

/**
 * The socket connection within the server's socket limits: joins refused
 * `RATE_LIMITED` are asked again after `retryAfter` until each is admitted,
 * and a handshake refused `TOO_MANY_SOCKETS` is tried again later.
 */
describe("SocketConnection under the server's socket limits", () => {
  let server: RealServer;

  beforeAll(async () => {
    server = await startRealServer(
      { rules: [] },
      { socketRateLimit: { eventsPerSecond: 2, burst: 2 }, maxSocketsPerCaller: 1 },
    );
  });
  afterAll(async () => {
    await server?.close();
  });

  it("joins every session even when the server refuses some joins over its rate", async () => {
    const sessionIds = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const response = await fetch(`${server.url}/sessions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ agentProfileRef: "test" }),
        });
        return ((await response.json()) as SessionData).sessionId;
      }),
    );
    const joined = new Set<string>();
    const limited: unknown[] = [];
    const failures: AgentRuntimeError[] = [];
    const connection = new SocketConnection({
      wsUrl: server.url,
      socketOptions: { transports: ["websocket"] },
      log: (message, details) => {
        const ack = details as { ok?: boolean; sessionId?: string } | undefined;
        if (message === "joined" && ack?.ok && ack.sessionId) joined.add(ack.sessionId);
        if (message.startsWith("over a server limit")) limited.push(details);
      },
    });
    for (const sessionId of sessionIds) connection.join(sessionId, subscriber(failures));
    const deadline = Date.now() + 20_000;
    while (joined.size < sessionIds.length && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect([...joined].sort()).toEqual([...sessionIds].sort());
    expect(failures).toEqual([]);
    expect(limited.length).toBeGreaterThan(0);

    // One socket per caller: a second connection is refused, waits, and gets in once the first closes.
    const second = new SocketConnection({
      wsUrl: server.url,
      reconnectionDelayMaxMs: 200,
      socketOptions: { transports: ["websocket"] },
    });
    second.join(sessionIds[0] ?? "", subscriber(failures));
    const refused = await new Promise<string | undefined>((resolve) => {
      const stop = second.subscribe(() => {
        const { error } = second.getSnapshot();
        if (!error) return;
        stop();
        resolve(error.code);
      });
    });
    expect(refused).toBe("TOO_MANY_SOCKETS");
    expect(second.getSnapshot().status).toBe("reconnecting");
    connection.close();
    const connected = await new Promise<boolean>((resolve) => {
      const check = () => second.getSnapshot().status === "connected" && resolve(true);
      const stop = second.subscribe(check);
      setTimeout(() => {
        stop();
        resolve(false);
      }, 10_000);
    });
    expect(connected).toBe(true);
    second.close();
  });
});
