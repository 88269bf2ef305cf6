import type { Architecture, SessionEvent } from "@agent-runtime/protocol";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { AgentRuntime } from "../core/agent-runtime.js";
import type { ProbePhase } from "./runtime-probes.js";

export interface MetricsOptions {
  /**
   * Tenants that get a `tenant` label of their own on the per-tenant series
   * (`agent_runtime_turns_total`, `agent_runtime_model_tokens_total`); every
   * other tenant shows as `other`, sessions of no tenant as `none`. Absent:
   * no `tenant` label at all (its cardinality is the operator's choice).
   * @default undefined
   */
  readonly tenantLabels?: readonly string[];
  /** Also export Node's process metrics (CPU, memory, event loop, GC). @default true */
  readonly processMetrics?: boolean;
}

/** Seconds buckets for turns: from a warm turn's tenths of a second up to long agentic turns. */
const TURN_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
/** Seconds buckets for latencies that should stay well under a second. */
const LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

interface OpenTurn {
  readonly startedAt: number;
  firstDelta: boolean;
}

/**
 * The runtime's Prometheus metrics, in a registry of their own (never the
 * global default registry: several servers can run in one process). Fed by
 * the session events (`observe`) and the core's probes (`probeListener`);
 * the gauges of what is held now are read at scrape time.
 */
export class RuntimeMetrics {
  readonly registry = new Registry();
  private readonly sessions = new Map<string, { architecture: Architecture; tenant: string }>();
  private readonly running = new Set<string>();
  private readonly turns = new Map<string, OpenTurn>();
  private readonly tenantLabels: ReadonlySet<string> | undefined;
  /** The sandbox provider's id, the `provider` label. */
  private readonly provider: string;
  private readonly turnsTotal: Counter;
  private readonly turnDuration: Histogram;
  private readonly firstDelta: Histogram;
  private readonly sandboxCreate: Histogram;
  private readonly eventsEmitted: Counter;
  /** The counter of each event type, bound once: every event of every session passes here. */
  private readonly eventCounters = new Map<string, { inc(): void }>();
  private readonly syncSeconds: Histogram;
  private readonly persistenceFailures: Counter;
  private readonly modelTokens: Counter;
  private readonly permissions: Counter;
  private readonly toolCalls: Counter;

  constructor(
    runtime: Pick<AgentRuntime, "sessions" | "sandboxProvider"> & Partial<Pick<AgentRuntime, "warmPool">>,
    sockets: () => number,
    options: MetricsOptions = {},
  ) {
    const registers = [this.registry];
    const provider = runtime.sandboxProvider.id;
    this.provider = provider;
    this.tenantLabels = options.tenantLabels ? new Set(options.tenantLabels) : undefined;
    const tenant = this.tenantLabels ? ["tenant"] : [];
    new Gauge({
      name: "agent_runtime_sessions_loaded",
      help: "Sessions loaded in this process",
      registers,
      collect() {
        this.set(runtime.sessions.liveCount);
      },
    });
    const running = this.running;
    new Gauge({
      name: "agent_runtime_sandboxes_running",
      help: "Sandboxes running an agent, by sandbox provider",
      labelNames: ["provider"],
      registers,
      collect() {
        this.set({ provider }, running.size);
      },
    });
    const pool = runtime.warmPool;
    if (pool) {
      new Gauge({
        name: "agent_runtime_warm_pool_agents",
        help: "Agents of the warm pool started and ready for a session",
        registers,
        collect() {
          this.set(pool.stats().size);
        },
      });
      new Counter({
        name: "agent_runtime_warm_pool_takes_total",
        help: "First messages of fresh sessions, by whether the warm pool had an agent for them (hit) or not (miss)",
        labelNames: ["result"],
        registers,
        collect() {
          const { hits, misses } = pool.stats();
          this.reset();
          this.inc({ result: "hit" }, hits);
          this.inc({ result: "miss" }, misses);
        },
      });
    }
    new Gauge({
      name: "agent_runtime_socket_clients",
      help: "Connected socket.io clients",
      registers,
      collect() {
        this.set(sockets());
      },
    });
    this.turnsTotal = new Counter({
      name: "agent_runtime_turns_total",
      help: "Turns ended, by architecture and outcome (the turn's stop reason)",
      labelNames: ["architecture", "outcome", ...tenant],
      registers,
    });
    this.turnDuration = new Histogram({
      name: "agent_runtime_turn_duration_seconds",
      help: "Time from a turn's start to its end (sandbox creation included when the turn made one)",
      labelNames: ["architecture", "outcome"],
      buckets: TURN_BUCKETS,
      registers,
    });
    this.firstDelta = new Histogram({
      name: "agent_runtime_time_to_first_delta_seconds",
      help: "Time from a turn's start to the first streamed delta of its answer",
      labelNames: ["architecture"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.sandboxCreate = new Histogram({
      name: "agent_runtime_sandbox_create_seconds",
      help: "Time the sandbox provider took to create a sandbox, by provider and outcome",
      labelNames: ["provider", "outcome"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.eventsEmitted = new Counter({
      name: "agent_runtime_events_emitted_total",
      help: "Session events emitted, by event type",
      labelNames: ["type"],
      registers,
    });
    this.syncSeconds = new Histogram({
      name: "agent_runtime_persistence_sync_seconds",
      help: "Time one sync of a session to persistence took, by outcome",
      labelNames: ["outcome"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.persistenceFailures = new Counter({
      name: "agent_runtime_persistence_failures_total",
      help: "Failed writes to persistence, by operation (sync: a session's sync; audit: audit records)",
      labelNames: ["operation"],
      registers,
    });
    this.modelTokens = new Counter({
      name: "agent_runtime_model_tokens_total",
      help: "Model tokens reported by agents, by direction (input, output, cache_read, cache_creation)",
      labelNames: ["direction", ...tenant],
      registers,
    });
    this.permissions = new Counter({
      name: "agent_runtime_permission_decisions_total",
      help: "Tool-permission requests resolved, by decision and reason",
      labelNames: ["decision", "reason"],
      registers,
    });
    this.toolCalls = new Counter({
      name: "agent_runtime_tool_calls_total",
      help: "Tool calls of agents (main conversation and subagents), by outcome of their result",
      labelNames: ["outcome"],
      registers,
    });
    for (const operation of ["sync", "audit"]) this.persistenceFailures.inc({ operation }, 0);
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** Counts a failed write of `operation` that no sync probe reports (e.g. audit records). */
  persistenceFailed(operation: "audit"): void {
    this.persistenceFailures.inc({ operation });
  }

  /** The text exposition of every metric. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Listener for `RuntimeProbes`. */
  readonly probeListener = {
    sessionOpened: (session: {
      sessionId: string;
      architecture: Architecture;
      tenantId: string | undefined;
    }) => {
      this.sessions.set(session.sessionId, {
        architecture: session.architecture,
        tenant: this.tenantLabel(session.tenantId),
      });
    },
    sessionClosed: (sessionId: string) => {
      this.sessions.delete(sessionId);
      this.running.delete(sessionId);
      this.turns.delete(sessionId);
    },
    phase: (phase: ProbePhase) => {
      const seconds = (phase.endedAt - phase.startedAt) / 1000;
      const outcome = phase.ok ? "success" : "failure";
      if (phase.name === "sandbox.create")
        this.sandboxCreate.observe({ provider: this.provider, outcome }, seconds);
      else if (phase.name === "sync") {
        this.syncSeconds.observe({ outcome }, seconds);
        if (!phase.ok) this.persistenceFailures.inc({ operation: "sync" });
      }
    },
  };

  /** Counts one session event (`SessionManager.subscribeAll`). */
  observe(event: SessionEvent): void {
    let counter = this.eventCounters.get(event.type);
    if (!counter) {
      counter = this.eventsEmitted.labels({ type: event.type });
      this.eventCounters.set(event.type, counter);
    }
    counter.inc();
    const session = this.sessions.get(event.sessionId);
    const architecture = session?.architecture ?? "unknown";
    switch (event.type) {
      case "session:status":
        if (event.runtime.sandboxStatus === "running") this.running.add(event.sessionId);
        else this.running.delete(event.sessionId);
        return;
      case "session:turn:started":
        this.turns.set(event.sessionId, { startedAt: Date.parse(event.timestamp), firstDelta: false });
        return;
      case "session:block:delta": {
        const turn = this.turns.get(event.sessionId);
        if (!turn || turn.firstDelta) return;
        turn.firstDelta = true;
        this.firstDelta.observe({ architecture }, secondsSince(turn.startedAt, event.timestamp));
        return;
      }
      case "session:turn:completed": {
        const outcome = event.stopReason;
        this.turnsTotal.inc({ architecture, outcome, ...this.tenantOf(session) });
        const turn = this.turns.get(event.sessionId);
        this.turns.delete(event.sessionId);
        if (turn)
          this.turnDuration.observe({ architecture, outcome }, secondsSince(turn.startedAt, event.timestamp));
        return;
      }
      case "session:metadata:update": {
        const usage = event.turnUsage;
        if (!usage) return;
        const tenant = this.tenantOf(session);
        this.modelTokens.inc({ direction: "input", ...tenant }, usage.inputTokens);
        this.modelTokens.inc({ direction: "output", ...tenant }, usage.outputTokens);
        this.modelTokens.inc({ direction: "cache_read", ...tenant }, usage.cacheReadTokens);
        this.modelTokens.inc({ direction: "cache_creation", ...tenant }, usage.cacheCreationTokens);
        return;
      }
      case "session:permission:resolved":
        this.permissions.inc({ decision: event.decision, reason: event.reason });
        return;
      case "session:block:complete":
        if (event.block.type === "tool_result")
          this.toolCalls.inc({ outcome: event.block.isError ? "error" : "success" });
        return;
      default:
        return;
    }
  }

  private tenantOf(session: { tenant: string } | undefined): Record<string, string> {
    return this.tenantLabels ? { tenant: session?.tenant ?? "none" } : {};
  }

  private tenantLabel(tenantId: string | undefined): string {
    if (tenantId === undefined) return "none";
    return this.tenantLabels?.has(tenantId) ? tenantId : "other";
  }
}

function secondsSince(startedAt: number, timestamp: string): number {
  return Math.max(0, (Date.parse(timestamp) - startedAt) / 1000);
}
