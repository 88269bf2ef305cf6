import { Writable } from "node:stream";
import type { ScriptInput } from "@agent-runtime/mock-model";
import type { AuditRecord, ListAuditResponse, SessionData, SessionEventOf } from "@agent-runtime/protocol";
import { SpanStatusCode } from "@opentelemetry/api";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Exposition, parsePrometheusText } from "../support/prometheus-text.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/**
 * What an operator sees of one scripted session with the real Claude Code
 * against the mock model (two turns: one with a tool call that asks for
 * permission and is allowed, one that fails with a stalled model): the
 * metrics' exact increments, the span tree of a turn, and the audit trail
 * of every state change, with no key or token in it or in the log.
 */
const ADMIN_KEY = "admin-canary-3f9d2c71a8";
const ACME_KEY = "acme-canary-7b41e0c95d";
const GLOBEX_KEY = "globex-canary-c2a86f1e04";
const CANARIES = [ADMIN_KEY, ACME_KEY, GLOBEX_KEY];

const script: ScriptInput = {
  rules: [
    {
      name: "touch",
      match: { prompt: "Touch allowed" },
      replies: [
        { tool: "Bash", input: { command: "touch allowed.marker", description: "Create a marker" } },
        "Finished.",
      ],
    },
    {
      name: "stall",
      match: { prompt: "Tell me a long story" },
      reply: { steps: ["Once upon a time, a model stopped talking."], chunkSize: 8, stallAfterChunks: 2 },
    },
  ],
};

describe("observability of a scripted session (claude-agent-sdk)", () => {
  let server: TestServer;
  const exporter = new InMemorySpanExporter();
  const logLines: string[] = [];

  beforeAll(async () => {
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const logStream = new Writable({
      write(chunk, _encoding, done) {
        logLines.push(String(chunk));
        done();
      },
    });
    server = await startTestServer({
      script,
      apiKeys: [ADMIN_KEY, { tenant: "acme", key: ACME_KEY }, { tenant: "globex", key: GLOBEX_KEY }],
      runtime: { modelStallTimeoutMs: 2_000, logger: pino({ level: "info" }, logStream) },
      server: { observability: { tracing: { tracerProvider } } },
    });
  });
  afterAll(async () => {
    await server?.dispose();
  });

  const call = (key: string, method: string, path: string, body?: unknown) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  async function scrape(): Promise<Exposition> {
    const response = await call(ADMIN_KEY, "GET", "/metrics");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    return parsePrometheusText(await response.text());
  }

  it("scrape, spans and audit trail after two turns, one tool call, one permission, one failure", async () => {
    const before = await scrape();
    const delta = (after: Exposition, name: string, labels: Record<string, string> = {}) =>
      after.sum(name, labels) - before.sum(name, labels);

    // The session, as tenant acme.
    const created = await call(ACME_KEY, "POST", "/sessions", {
      agentProfileRef: "test",
      sessionOptions: { permissions: { mode: "ask", tools: ["Bash"] } },
    });
    expect(created.status).toBe(201);
    const { sessionId } = (await created.json()) as SessionData;
    const recorder = new SocketRecorder(server.url, { token: ACME_KEY });
    await recorder.join(sessionId, 0);

    // Turn 1: a tool call that asks for permission, allowed.
    expect(
      (await call(ACME_KEY, "POST", `/sessions/${sessionId}/messages`, { content: "Touch allowed" })).status,
    ).toBe(202);
    const requested = (await recorder.waitFor(
      (e) => e.type === "session:permission:requested",
    )) as SessionEventOf<"session:permission:requested">;
    const answered = await call(
      ACME_KEY,
      "POST",
      `/sessions/${sessionId}/permissions/${requested.request.requestId}`,
      {
        decision: "allow",
      },
    );
    expect(answered.status).toBe(200);
    await recorder.waitForTurns(1);

    // Turn 2: the model stalls, the turn fails.
    expect(
      (await call(ACME_KEY, "POST", `/sessions/${sessionId}/messages`, { content: "Tell me a long story" }))
        .status,
    ).toBe(202);
    await recorder.waitForTurns(2);
    const completed = recorder.events.filter(
      (e): e is SessionEventOf<"session:turn:completed"> => e.type === "session:turn:completed",
    );
    expect(completed.map((e) => e.stopReason)).toEqual(["end_turn", "error"]);

    // --- Metrics: exact increments. ---
    const after = await scrape();
    const claude = { architecture: "claude-agent-sdk" };
    expect(delta(after, "agent_runtime_turns_total", { ...claude, outcome: "end_turn" })).toBe(1);
    expect(delta(after, "agent_runtime_turns_total", { ...claude, outcome: "error" })).toBe(1);
    expect(delta(after, "agent_runtime_turns_total")).toBe(2);
    expect(
      delta(after, "agent_runtime_turn_duration_seconds_count", { ...claude, outcome: "end_turn" }),
    ).toBe(1);
    expect(delta(after, "agent_runtime_turn_duration_seconds_count", { ...claude, outcome: "error" })).toBe(
      1,
    );
    // The failed turn waited the stall timeout (2 s) at least: its observation is past the 1 s bucket.
    expect(
      delta(after, "agent_runtime_turn_duration_seconds_bucket", { ...claude, outcome: "error", le: "1" }),
    ).toBe(0);
    expect(
      delta(after, "agent_runtime_turn_duration_seconds_sum", { ...claude, outcome: "error" }),
    ).toBeGreaterThan(2);
    expect(delta(after, "agent_runtime_time_to_first_delta_seconds_count", claude)).toBe(2);
    expect(
      delta(after, "agent_runtime_sandbox_create_seconds_count", { provider: "local", outcome: "success" }),
    ).toBe(1);
    expect(delta(after, "agent_runtime_sandbox_create_seconds_count", { outcome: "failure" })).toBe(0);
    expect(
      delta(after, "agent_runtime_permission_decisions_total", { decision: "allow", reason: "answered" }),
    ).toBe(1);
    expect(delta(after, "agent_runtime_permission_decisions_total")).toBe(1);
    expect(delta(after, "agent_runtime_tool_calls_total", { outcome: "success" })).toBe(1);
    expect(delta(after, "agent_runtime_tool_calls_total")).toBe(1);
    expect(delta(after, "agent_runtime_events_emitted_total", { type: "session:turn:started" })).toBe(2);
    expect(delta(after, "agent_runtime_events_emitted_total", { type: "session:turn:completed" })).toBe(2);
    expect(delta(after, "agent_runtime_events_emitted_total", { type: "session:permission:requested" })).toBe(
      1,
    );
    // Every event the session emitted up to now is counted once.
    const emitted = recorder.events.length;
    expect(delta(after, "agent_runtime_events_emitted_total")).toBeGreaterThanOrEqual(emitted);
    const usage = recorder.events
      .filter((e): e is SessionEventOf<"session:metadata:update"> => e.type === "session:metadata:update")
      .flatMap((e) => (e.turnUsage ? [e.turnUsage] : []));
    expect(usage.length).toBeGreaterThan(0);
    const total = (field: "inputTokens" | "outputTokens") => usage.reduce((sum, u) => sum + u[field], 0);
    expect(delta(after, "agent_runtime_model_tokens_total", { direction: "input" })).toBe(
      total("inputTokens"),
    );
    expect(delta(after, "agent_runtime_model_tokens_total", { direction: "output" })).toBe(
      total("outputTokens"),
    );
    expect(total("outputTokens")).toBeGreaterThan(0);
    expect(
      delta(after, "agent_runtime_persistence_sync_seconds_count", { outcome: "success" }),
    ).toBeGreaterThan(0);
    expect(after.value("agent_runtime_persistence_failures_total", { operation: "sync" })).toBe(0);
    expect(after.value("agent_runtime_sessions_loaded")).toBe(1);
    expect(after.value("agent_runtime_sandboxes_running", { provider: "local" })).toBe(1);
    expect(after.value("agent_runtime_socket_clients")).toBe(1);
    expect(after.types.get("process_cpu_user_seconds_total")).toBe("counter");
    expect(after.types.get("nodejs_heap_size_used_bytes")).toBe("gauge");

    // --- Traces: the span tree of turn 1. ---
    const spans = exporter.getFinishedSpans();
    const byId = new Map(spans.map((span) => [span.spanContext().spanId, span]));
    const parentOf = (span: ReadableSpan) => byId.get(span.parentSpanContext?.spanId ?? "");
    const turns = spans.filter((span) => span.name === "turn");
    expect(turns).toHaveLength(2);
    const [first, second] = turns.sort(
      (a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1],
    );
    const request = parentOf(first!);
    expect(request?.name).toBe("POST /sessions/:id/messages");
    expect(request?.attributes["http.response.status_code"]).toBe(202);
    expect(first!.attributes).toMatchObject({
      "agent_runtime.session.id": sessionId,
      "agent_runtime.architecture": "claude-agent-sdk",
      "agent_runtime.tenant.id": "acme",
      "agent_runtime.turn.stop_reason": "end_turn",
    });
    const childrenOf = (parent: ReadableSpan) =>
      spans.filter((span) => parentOf(span) === parent).map((span) => span.name);
    expect(childrenOf(first!)).toEqual(
      expect.arrayContaining([
        "queue.message",
        "sandbox.create",
        "workspace.restore",
        "agent.start",
        "model.first_token",
        "tool Bash",
        "permission.wait",
      ]),
    );
    const permission = spans.find((span) => span.name === "permission.wait");
    expect(permission?.attributes).toMatchObject({
      "agent_runtime.permission.decision": "allow",
      "agent_runtime.permission.reason": "answered",
    });
    // Turn 2 reused the sandbox, and failed.
    expect(childrenOf(second!)).not.toContain("sandbox.create");
    expect(second!.status.code).toBe(SpanStatusCode.ERROR);
    expect(parentOf(second!)?.name).toBe("POST /sessions/:id/messages");
    // The sync that stores a turn belongs to its trace.
    await expect
      .poll(
        () =>
          exporter
            .getFinishedSpans()
            .filter((s) => s.name === "sync" && s.spanContext().traceId === first!.spanContext().traceId)
            .length,
      )
      .toBeGreaterThan(0);
    // The log names each turn's trace.
    const turnLog = logLines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => line.msg === "turn ended" && line.turnId === completed[0]!.turnId);
    expect(turnLog?.traceId).toBe(first!.spanContext().traceId);

    // --- More state changes, each audited. ---
    expect(
      (await call(ACME_KEY, "PUT", `/sessions/${sessionId}/files/notes.md`, { content: "hello" })).status,
    ).toBe(204);
    expect((await call(ACME_KEY, "DELETE", `/sessions/${sessionId}/files/notes.md`)).status).toBe(204);
    expect(
      (await call(ACME_KEY, "PATCH", `/sessions/${sessionId}`, { sessionOptions: { permissions: null } }))
        .status,
    ).toBe(200);
    const minted = await call(ACME_KEY, "POST", "/auth/tokens", { sessionIds: [sessionId], readOnly: true });
    expect(minted.status).toBe(201);
    const { token } = (await minted.json()) as { token: string };
    // A refused change is audited as a failure.
    expect(
      (
        await call(ACME_KEY, "POST", `/sessions/${sessionId}/permissions/no-such-request`, {
          decision: "deny",
        })
      ).status,
    ).toBe(404);
    expect((await call(ACME_KEY, "POST", `/sessions/${sessionId}/stop`)).status).toBe(200);
    expect((await call(ADMIN_KEY, "DELETE", `/sessions/${sessionId}`)).status).toBe(204);
    recorder.close();

    const trail = await call(ADMIN_KEY, "GET", `/audit?sessionId=${sessionId}`);
    expect(trail.status).toBe(200);
    const trailText = await trail.text();
    const { records } = JSON.parse(trailText) as ListAuditResponse;
    const oldestFirst = [...records].reverse();
    expect(oldestFirst.map((r) => [r.action, r.outcome, r.status])).toEqual([
      ["session.create", "success", 201],
      ["session.message", "success", 202],
      ["permission.decide", "success", 200],
      ["session.message", "success", 202],
      ["file.write", "success", 204],
      ["file.delete", "success", 204],
      ["session.update", "success", 200],
      ["permission.decide", "failure", 404],
      ["session.stop", "success", 200],
      ["session.delete", "success", 204],
    ]);
    for (const record of records) {
      expect(record.tenantId).toBe("acme");
      expect(record.sessionId).toBe(sessionId);
      expect(record.requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(record.traceId).toMatch(/^[0-9a-f]{32}$/);
    }
    expect(oldestFirst[2]!.target).toBe(requested.request.requestId);
    expect(oldestFirst[4]!.target).toBe("notes.md");
    expect(oldestFirst[7]!.errorCode).toBe("PERMISSION_REQUEST_NOT_FOUND");
    const acmeKeyId = oldestFirst[0]!.keyId;
    expect(acmeKeyId).not.toBe("");
    expect(oldestFirst.slice(0, 9).every((r) => r.keyId === acmeKeyId && r.role === "tenant")).toBe(true);
    expect(oldestFirst[9]).toMatchObject({ role: "admin", tenantId: "acme" });
    // The token minting has no session: it is in the tenant's trail.
    const acmeTrail = (await (await call(ACME_KEY, "GET", "/audit")).json()) as ListAuditResponse;
    const mint = acmeTrail.records.find((r) => r.action === "token.mint");
    expect(mint).toMatchObject({ tenantId: "acme", outcome: "success", status: 201, keyId: acmeKeyId });

    // Canary: no key and no token in the trail or in the log.
    const log = logLines.join("");
    expect(log).toContain('"msg":"audit"');
    for (const secret of [...CANARIES, token]) {
      expect(trailText).not.toContain(secret);
      expect(JSON.stringify(acmeTrail)).not.toContain(secret);
      expect(log).not.toContain(secret);
    }
  });

  it("GET /audit: a tenant reads its own tenant's records only; an admin filters by tenant", async () => {
    for (const key of [GLOBEX_KEY, ACME_KEY])
      expect((await call(key, "POST", "/sessions", { agentProfileRef: "test" })).status).toBe(201);
    const page = async (key: string, query = "") => {
      const response = await call(key, "GET", `/audit${query}`);
      return { status: response.status, body: (await response.json()) as ListAuditResponse };
    };
    const globex = await page(GLOBEX_KEY);
    expect(globex.status).toBe(200);
    expect(globex.body.records.length).toBeGreaterThan(0);
    expect(new Set(globex.body.records.map((r) => r.tenantId))).toEqual(new Set(["globex"]));
    const acme = await page(ACME_KEY);
    expect(acme.body.records.length).toBeGreaterThan(0);
    expect(new Set(acme.body.records.map((r) => r.tenantId))).toEqual(new Set(["acme"]));
    expect((await page(GLOBEX_KEY, "?tenantId=acme")).status).toBe(403);
    // An admin: one tenant, or all of them.
    const adminGlobex = await page(ADMIN_KEY, "?tenantId=globex");
    expect(adminGlobex.body.records.map((r) => r.id)).toEqual(globex.body.records.map((r) => r.id));
    const all = await page(ADMIN_KEY, "?limit=500");
    const tenants = new Set(all.body.records.map((r: AuditRecord) => r.tenantId));
    expect(tenants.has("acme") && tenants.has("globex")).toBe(true);
    // Paging: pages of one, newest first, without gap or repeat.
    const paged: string[] = [];
    let cursor: string | null = "";
    while (cursor !== null) {
      const next: { status: number; body: ListAuditResponse } = await page(
        GLOBEX_KEY,
        `?limit=1${cursor ? `&cursor=${cursor}` : ""}`,
      );
      paged.push(...next.body.records.map((r) => r.id));
      cursor = next.body.nextCursor;
    }
    expect(paged).toEqual(globex.body.records.map((r) => r.id));
    // Metrics are an admin's.
    expect((await call(ACME_KEY, "GET", "/metrics")).status).toBe(403);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
  });
});
