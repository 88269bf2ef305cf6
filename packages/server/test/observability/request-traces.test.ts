import { propagation, trace } from "@opentelemetry/api";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  NodeTracerProvider,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AgentServer,
  createAgentRuntime,
  createAgentServer,
  createMemoryPersistenceAdapter,
} from "../../src/index.js";
import { createFakeSandboxProvider } from "../../src/testing/index.js";

/**
 * Traces of REST requests and the turns they start, with fake sandboxes: a
 * queued message's turn belongs to the request that sent it, a caller's
 * `traceparent` is continued (with a global propagator, as `serve`
 * registers), and a token limited to sessions reads no audit trail.
 */
describe("request traces", () => {
  const exporter = new InMemorySpanExporter();
  let server: AgentServer;
  let url: string;

  beforeAll(async () => {
    // The W3C propagator, registered globally as `tracingFromEnv` does for `serve`.
    new NodeTracerProvider().register();
    const runtime = createAgentRuntime({
      persistence: createMemoryPersistenceAdapter(),
      // Each turn takes a moment, so a second message waits behind the first.
      sandbox: createFakeSandboxProvider({
        runner: () => new Promise((resolve) => setTimeout(resolve, 200)),
      }),
      agents: [{ id: "test", name: "Test agent" }],
      logger: pino({ level: "silent" }),
      idleTimeoutMs: 0,
    });
    server = await createAgentServer({
      runtime,
      apiKeys: [{ tenant: "alpha", key: "alpha-key" }],
      rateLimit: false,
      observability: {
        tracing: {
          tracerProvider: new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
        },
      },
    });
    url = await server.listen({ port: 0 });
  });
  afterAll(async () => {
    await server?.close();
    trace.disable();
    propagation.disable();
  });

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${url}${path}`, {
      method: "POST",
      headers: { authorization: "Bearer alpha-key", "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });

  it("makes a queued message's turn a child of the request that sent it", async () => {
    const created = await post("/sessions", { agentProfileRef: "test" });
    const { sessionId } = (await created.json()) as { sessionId: string };
    const ended = new Promise<void>((resolve) => {
      let count = 0;
      server.runtime.sessions.subscribeAll((event) => {
        if (event.sessionId === sessionId && event.type === "session:turn:completed" && ++count === 2)
          resolve();
      });
    });
    const first = (await (await post(`/sessions/${sessionId}/messages`, { content: "one" })).json()) as {
      turnId: string;
    };
    const second = (await (await post(`/sessions/${sessionId}/messages`, { content: "two" })).json()) as {
      turnId: string;
      queued: boolean;
    };
    expect(second.queued).toBe(true);
    await ended;
    const spans = exporter.getFinishedSpans();
    const byId = new Map(spans.map((span) => [span.spanContext().spanId, span]));
    const turnOf = (turnId: string) =>
      spans.find((span) => span.name === "turn" && span.attributes["agent_runtime.turn.id"] === turnId);
    const requestOf = (span: ReadableSpan | undefined) => byId.get(span?.parentSpanContext?.spanId ?? "");
    const [firstTurn, secondTurn] = [turnOf(first.turnId), turnOf(second.turnId)];
    expect(requestOf(firstTurn)?.name).toBe("POST /sessions/:id/messages");
    expect(requestOf(secondTurn)?.name).toBe("POST /sessions/:id/messages");
    expect(requestOf(secondTurn)).not.toBe(requestOf(firstTurn));
    // The second turn waited for the first: its queue span ends when the first turn ended, not before.
    const queue = spans.find(
      (span) =>
        span.name === "queue.message" && span.parentSpanContext?.spanId === secondTurn?.spanContext().spanId,
    );
    const endMs = (span: ReadableSpan) => span.endTime[0] * 1000 + span.endTime[1] / 1e6;
    expect(endMs(queue!)).toBeGreaterThanOrEqual(endMs(firstTurn!) - 1);
  });

  it("continues a caller's traceparent", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const parentId = "00f067aa0ba902b7";
    const response = await post(
      "/sessions",
      { agentProfileRef: "test" },
      { traceparent: `00-${traceId}-${parentId}-01` },
    );
    expect(response.status).toBe(201);
    await expect
      .poll(
        () =>
          exporter
            .getFinishedSpans()
            .find((span) => span.name === "POST /sessions")
            ?.spanContext().traceId,
      )
      .toBeDefined();
    const span = exporter
      .getFinishedSpans()
      .find((each) => each.name === "POST /sessions" && each.spanContext().traceId === traceId);
    expect(span?.parentSpanContext?.spanId).toBe(parentId);
  });

  it("refuses the audit trail to a token limited to given sessions", async () => {
    const created = await post("/sessions", { agentProfileRef: "test" });
    const { sessionId } = (await created.json()) as { sessionId: string };
    const minted = await post("/auth/tokens", { sessionIds: [sessionId] });
    const { token } = (await minted.json()) as { token: string };
    const response = await fetch(`${url}/audit`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(403);
  });
});
