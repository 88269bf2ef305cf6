import type { SessionRecord } from "@agent-runtime/protocol";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMemoryPersistenceAdapter } from "../persistence/memory/memory-persistence-adapter.js";
import type { PersistenceAdapter } from "../persistence/persistence-adapter.js";
import { createFakeSandboxProvider } from "../testing/fake-sandbox-provider.js";
import { type AgentRuntime, createAgentRuntime } from "./agent-runtime.js";
import { emptyUsage } from "./usage.js";

const ALPHA = { tenantId: "alpha" };
const BETA = { tenantId: "beta" };

/** The error `work` rejects with, as `code: message`. */
async function failure(work: Promise<unknown>): Promise<string> {
  try {
    await work;
  } catch (error) {
    const { code, message } = error as { code: string; message: string };
    return `${code}: ${message}`;
  }
  throw new Error("expected a rejection");
}

describe("SessionManager scopes", () => {
  let persistence: PersistenceAdapter;
  let runtime: AgentRuntime;

  beforeEach(async () => {
    persistence = createMemoryPersistenceAdapter();
    runtime = createAgentRuntime({
      persistence,
      sandbox: createFakeSandboxProvider(),
      agents: [{ id: "p", name: "Profile" }],
      logger: pino({ level: "silent" }),
      idleTimeoutMs: 0,
    });
    await runtime.start();
  });
  afterEach(async () => {
    await runtime.shutdown();
  });

  it("creates a session in the scope's tenant, or in the tenant an unscoped caller names", async () => {
    expect((await runtime.sessions.create({ agentProfileRef: "p" }, ALPHA)).tenantId).toBe("alpha");
    expect((await runtime.sessions.create({ agentProfileRef: "p", tenantId: "alpha" }, ALPHA)).tenantId).toBe(
      "alpha",
    );
    expect((await runtime.sessions.create({ agentProfileRef: "p", tenantId: "beta" })).tenantId).toBe("beta");
    const ofNone = await runtime.sessions.create({ agentProfileRef: "p" });
    expect(ofNone.tenantId).toBeUndefined();
    expect((await persistence.loadSession(ofNone.id))?.tenantId).toBeUndefined();
    expect(await failure(runtime.sessions.create({ agentProfileRef: "p", tenantId: "beta" }, ALPHA))).toMatch(
      /^FORBIDDEN: /,
    );
    expect(
      await failure(runtime.sessions.create({ agentProfileRef: "p" }, { ...ALPHA, sessionIds: [ofNone.id] })),
    ).toMatch(/^FORBIDDEN: /);
  });

  it("answers a session outside the scope with the error of a missing one, for get and destroy", async () => {
    const theirs = await runtime.sessions.create({ agentProfileRef: "p" }, ALPHA);
    const missing = "00000000-0000-0000-0000-000000000000";
    const mask = (text: string, id: string) => text.replace(id, "<id>");
    expect(mask(await failure(runtime.sessions.get(theirs.id, BETA)), theirs.id)).toBe(
      mask(await failure(runtime.sessions.get(missing, BETA)), missing),
    );
    expect(await failure(runtime.sessions.get(theirs.id, BETA))).toMatch(/^SESSION_NOT_FOUND: /);
    expect(mask(await failure(runtime.sessions.destroy(theirs.id, BETA)), theirs.id)).toBe(
      mask(await failure(runtime.sessions.destroy(missing, BETA)), missing),
    );
    expect(await persistence.loadSession(theirs.id)).not.toBeNull();
    expect(await runtime.sessions.get(theirs.id, ALPHA)).toBe(theirs);
    expect(await runtime.sessions.get(theirs.id)).toBe(theirs);
    expect(await failure(runtime.sessions.get(theirs.id, { sessionIds: ["other"] }))).toMatch(
      /^SESSION_NOT_FOUND/,
    );
    expect(await runtime.sessions.get(theirs.id, { ...ALPHA, sessionIds: [theirs.id] })).toBe(theirs);
    await runtime.sessions.destroy(theirs.id, ALPHA);
    expect(await persistence.loadSession(theirs.id)).toBeNull();
  });

  it("does not load a stored session outside the scope (loading closes a turn a crash left open)", async () => {
    const now = new Date().toISOString();
    const record: SessionRecord = {
      sessionId: "crashed",
      tenantId: "alpha",
      agentProfileRef: "p",
      architecture: "claude-agent-sdk",
      sessionOptions: {},
      createdAt: now,
      updatedAt: now,
      lastSeq: 7,
      usage: emptyUsage(),
      openTurnId: "turn-1",
    };
    await persistence.createSession(record);
    expect(await failure(runtime.sessions.get("crashed", BETA))).toMatch(/^SESSION_NOT_FOUND/);
    expect(await failure(runtime.sessions.destroy("crashed", BETA))).toMatch(/^SESSION_NOT_FOUND/);
    expect(runtime.sessions.liveCount).toBe(0);
    expect(await persistence.loadSession("crashed")).toEqual(record);
    // Its own tenant loads it (and the load closes the turn).
    const loaded = await runtime.sessions.get("crashed", ALPHA);
    expect(loaded.tenantId).toBe("alpha");
    expect(loaded.summary().openTurnId).toBeUndefined();
  });

  it("lists the scope's sessions only, page by page; without a scope every session", async () => {
    const alpha = [];
    const beta = [];
    for (let index = 0; index < 3; index++) {
      alpha.push((await runtime.sessions.create({ agentProfileRef: "p" }, ALPHA)).id);
      beta.push((await runtime.sessions.create({ agentProfileRef: "p" }, BETA)).id);
    }
    const ofNone = (await runtime.sessions.create({ agentProfileRef: "p" })).id;
    const listed: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await runtime.sessions.listPage({ limit: 2, ...(cursor ? { cursor } : {}) }, BETA);
      listed.push(...page.sessions.map((session) => session.sessionId));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(listed.sort()).toEqual([...beta].sort());
    expect((await runtime.sessions.list(ALPHA)).map((s) => s.sessionId).sort()).toEqual([...alpha].sort());
    expect((await runtime.sessions.list()).map((s) => s.sessionId).sort()).toEqual(
      [...alpha, ...beta, ofNone].sort(),
    );
    expect(
      (await runtime.sessions.list({ sessionIds: [alpha[0]!, beta[0]!] })).map((s) => s.sessionId).sort(),
    ).toEqual([alpha[0], beta[0]].sort());
  });

  it("reports a deletion on the live list with the session's tenant", async () => {
    const changes: unknown[] = [];
    const stop = runtime.sessions.listFeed.subscribe((change) => changes.push(change));
    const session = await runtime.sessions.create({ agentProfileRef: "p" }, ALPHA);
    await runtime.sessions.destroy(session.id);
    stop();
    expect(changes.at(-1)).toEqual({ type: "deleted", sessionId: session.id, tenantId: "alpha" });
  });
});
