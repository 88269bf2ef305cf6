import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  agentProfileSchema,
  type SessionEvent,
  type SessionEventOf,
  type SessionEventType,
  type SessionRecord,
} from "@agent-runtime/protocol";
import { pino } from "pino";
import { afterEach } from "vitest";
import { createClaudeAgentSdkArchitecture } from "../../agents/claude-agent-sdk/claude-agent-sdk-architecture.js";
import { createMemoryPersistenceAdapter } from "../../persistence/memory/memory-persistence-adapter.js";
import type { PersistenceAdapter } from "../../persistence/persistence-adapter.js";
import type { FakeRunnerScript } from "../../testing/fake-runner.js";
import { createFakeSandboxProvider, type FakeSandboxProvider } from "../../testing/fake-sandbox-provider.js";
import { AgentSession } from "../agent-session.js";
import { DependencyLayers } from "../../dependencies/dependency-layers.js";
import type { AgentSessionDeps } from "../session-deps.js";
import { StartAdmission } from "../start-admission.js";
import { runnerLimitsSchema } from "../runner-limits.js";
import { emptyUsage } from "../usage.js";

export interface SessionHarnessOptions {
  /** What the fake runner does with each message. @default ends each turn at once */
  readonly runner?: FakeRunnerScript;
  /** Overrides of the session's dependencies (all timeouts default to a few ms). */
  readonly deps?: Partial<Omit<AgentSessionDeps, "sandboxProvider" | "persistence">>;
  readonly sessionOptions?: SessionRecord["sessionOptions"];
  /** Wraps the memory adapter the session stores into (its record is created before). */
  readonly persistence?: (stored: PersistenceAdapter) => PersistenceAdapter;
  /** New sandboxes start with the workspace the last one left (a provider with a persistent disk). */
  readonly keepWorkspace?: boolean;
}

/** An `AgentSession` over a fake sandbox provider, the Claude architecture and memory persistence. */
export interface SessionHarness {
  readonly session: AgentSession;
  readonly provider: FakeSandboxProvider;
  /** What the session stored (the memory adapter under any wrapper). */
  readonly stored: PersistenceAdapter;
  /** Every event of the session so far, in order. */
  readonly events: SessionEvent[];
  ofType<T extends SessionEventType>(type: T): SessionEventOf<T>[];
  /** The error events so far, as `code: message`. */
  errors(): string[];
  /**
   * The first event (already seen or still to come) of `type` that `match`
   * accepts; rejects after `timeoutMs` naming the events seen.
   */
  next<T extends SessionEventType>(
    type: T,
    match?: (event: SessionEventOf<T>) => boolean,
    timeoutMs?: number,
  ): Promise<SessionEventOf<T>>;
  /** The `session:turn:completed` of `turnId`. */
  completed(turnId: string): Promise<SessionEventOf<"session:turn:completed">>;
  /**
   * The server dies (the session is killed without a sync) and a new one
   * loads the session from what was stored, with the same sandbox provider.
   */
  crashAndReload(): Promise<SessionHarness>;
}

/**
 * For one test file: a `start` that builds a session with `defaults` under
 * its own options, and kills it after each test.
 */
export function useSessions(
  defaults: SessionHarnessOptions = {},
): (options?: SessionHarnessOptions) => Promise<SessionHarness> {
  let harness: SessionHarness | undefined;
  afterEach(async () => {
    await harness?.session.kill();
    harness = undefined;
  });
  return async (options = {}) => {
    harness = await startSession({ ...defaults, ...options });
    return harness;
  };
}

/** Starts a session (no sandbox yet); the test kills it afterwards (`session.kill()`). */
export async function startSession(options: SessionHarnessOptions = {}): Promise<SessionHarness> {
  const stored = createMemoryPersistenceAdapter();
  const now = new Date().toISOString();
  const record: SessionRecord = {
    sessionId: `session-${randomUUID()}`,
    agentProfileRef: "test",
    architecture: "claude-agent-sdk",
    sessionOptions: options.sessionOptions ?? {},
    createdAt: now,
    updatedAt: now,
    lastSeq: 0,
    usage: emptyUsage(),
  };
  await stored.createSession(record);
  const provider = createFakeSandboxProvider({
    ...(options.runner ? { runner: options.runner } : {}),
    ...(options.keepWorkspace ? { keepWorkspace: true } : {}),
  });
  const deps: AgentSessionDeps = {
    persistence: options.persistence ? options.persistence(stored) : stored,
    sandboxProvider: provider,
    architecture: createClaudeAgentSdkArchitecture(),
    profile: agentProfileSchema.parse({ id: "test", name: "Test" }),
    endpoint: { baseUrl: "http://127.0.0.1:9", apiKey: "sk-test" },
    logger: pino({ level: "silent" }),
    idleTimeoutMs: 0,
    suspendAfterMs: 0,
    interruptGraceMs: 20,
    modelStallTimeoutMs: 0,
    maxPersistedFileBytes: 1024 * 1024,
    maxPersistedWorkspaceBytes: 8 * 1024 * 1024,
    permissionTimeoutMs: 1_000,
    restrictEgress: false,
    modelProviders: {},
    syncRetryMinMs: 5,
    syncRetryMaxMs: 40,
    eventWindowSize: 1_000,
    maxQueuedMessages: 20,
    maxQueuedBytes: 4_194_304,
    runnerLimits: runnerLimitsSchema.parse({}),
    dependencyLayers: new DependencyLayers({}),
    startAdmission: new StartAdmission(16),
    ...options.deps,
  };
  return harnessOf(new AgentSession(deps, record), deps, provider, stored);
}

function harnessOf(
  session: AgentSession,
  deps: AgentSessionDeps,
  provider: FakeSandboxProvider,
  stored: PersistenceAdapter,
): SessionHarness {
  const events: SessionEvent[] = [];
  session.subscribe((event) => events.push(event));

  const ofType = <T extends SessionEventType>(type: T) =>
    events.filter((event): event is SessionEventOf<T> => event.type === type);

  const next = <T extends SessionEventType>(
    type: T,
    match: (event: SessionEventOf<T>) => boolean = () => true,
    timeoutMs = 1_000,
  ): Promise<SessionEventOf<T>> => {
    const accepts = (event: SessionEvent): event is SessionEventOf<T> =>
      event.type === type && match(event as SessionEventOf<T>);
    const seen = events.find(accepts);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        unsubscribe();
        const types = events.map((event) => event.type).join(", ");
        reject(new Error(`No matching ${type} event within ${timeoutMs} ms; saw: ${types}`));
      }, timeoutMs);
      const unsubscribe = session.subscribe((event) => {
        if (!accepts(event)) return;
        clearTimeout(timer);
        unsubscribe();
        resolve(event);
      });
    });
  };

  return {
    session,
    provider,
    stored,
    events,
    ofType,
    errors: () => ofType("error").map((event) => `${event.code}: ${event.message}`),
    next,
    completed: (turnId) => next("session:turn:completed", (event) => event.turnId === turnId),
    async crashAndReload() {
      await session.kill();
      const record = await stored.loadSession(session.id);
      if (!record) throw new Error(`Session ${session.id} was never stored`);
      const [blocks, files] = await Promise.all([stored.loadBlocks(session.id), stored.listWorkspaceFiles(session.id)]);
      return harnessOf(new AgentSession(deps, record, { blocks, files }), deps, provider, stored);
    },
  };
}

/**
 * Storage whose writes fail `failures` times (each failing write counts one),
 * then work; `failedAt` holds when each failure happened (`performance.now()`).
 */
export function failingWrites(
  stored: PersistenceAdapter,
  failures: number,
): { adapter: PersistenceAdapter; failedAt: number[] } {
  const writes = new Set([
    "updateSession",
    "saveBlocks",
    "saveTranscript",
    "appendTranscript",
    "saveWorkspaceFile",
    "deleteWorkspaceFile",
  ]);
  const failedAt: number[] = [];
  let left = failures;
  const adapter = new Proxy(stored, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function" || !writes.has(String(property))) return value;
      return (...args: unknown[]) => {
        if (left > 0) {
          left -= 1;
          failedAt.push(performance.now());
          return Promise.reject(new Error("storage is down"));
        }
        return value.apply(target, args);
      };
    },
  });
  return { adapter, failedAt };
}

/** A recorded Claude Agent SDK run: its native messages, as the runner relays them. */
export function claudeFixture(
  name: "text-answer" | "thinking" | "write-bash-tools" | "subagent-task" | "interrupted",
): unknown[] {
  const url = new URL(`../../agents/claude-agent-sdk/__fixtures__/${name}.jsonl`, import.meta.url);
  return readFileSync(url, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as unknown);
}

/**
 * The native messages of a Claude turn that answers `text`: the init message
 * of native session `nativeSessionId`, one assistant message (a new API
 * message id on each call), and a successful result.
 */
export function claudeAnswer(text: string, nativeSessionId = "native-session"): unknown[] {
  const common = { session_id: nativeSessionId, uuid: randomUUID() };
  return [
    { type: "system", subtype: "init", model: "claude-test", claude_code_version: "2.1.0", ...common },
    {
      type: "assistant",
      message: { id: `msg_${randomUUID()}`, role: "assistant", content: [{ type: "text", text }] },
      parent_tool_use_id: null,
      ...common,
    },
    claudeResult({ result: text }, nativeSessionId),
  ];
}

/** A Claude result message (`subtype: "success"`), with `fields` over its defaults. */
export function claudeResult(fields: Record<string, unknown>, nativeSessionId = "native-session"): unknown {
  return {
    type: "result",
    subtype: "success",
    is_error: false,
    result: "",
    session_id: nativeSessionId,
    uuid: randomUUID(),
    total_cost_usd: 0,
    usage: { input_tokens: 10, output_tokens: 5 },
    ...fields,
  };
}
