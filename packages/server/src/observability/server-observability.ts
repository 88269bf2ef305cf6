import type { TracerProvider } from "@opentelemetry/api";
import type { Server as SocketServer } from "socket.io";
import type { AgentRuntime } from "../core/agent-runtime.js";
import type { HttpApp } from "../transport/http/http-app.js";
import { installAuditHook } from "./audit-hook.js";
import { AuditTrail } from "./audit-trail.js";
import { observabilityRoutes } from "./observability-routes.js";
import { type ReadinessOptions, ReadinessProbe } from "./readiness.js";
import { installRequestTracing, RequestContexts } from "./request-tracing.js";
import { type MetricsOptions, RuntimeMetrics } from "./runtime-metrics.js";
import { TurnTracer } from "./turn-tracer.js";

/** What an operator sees of a server: metrics, readiness, the audit trail, traces. */
export interface ObservabilityOptions {
  /** Prometheus metrics (`GET /metrics`): per-tenant labels, process metrics. */
  readonly metrics?: MetricsOptions;
  /** `GET /ready`: check timeout and how long a sandbox check is reused. */
  readonly readiness?: ReadinessOptions;
  /**
   * OpenTelemetry traces: a trace per turn and a span per REST request,
   * through this provider (`tracingFromEnv` builds one from the `OTEL_*`
   * variables). Absent: no tracing, and nothing of it runs. @default undefined
   */
  readonly tracing?: { readonly tracerProvider: TracerProvider };
  /**
   * Stored audit records older than this are deleted (hourly, when the
   * persistence adapter can: `pruneAuditRecords`); 0 keeps every record.
   * @default 0
   */
  readonly auditRetentionMs?: number;
}

/** The observability parts attached to one server (see `attachObservability`). */
export interface ServerObservability {
  readonly metrics: RuntimeMetrics;
  readonly audit: AuditTrail;
  /** Stores the audit records still waiting; later ones are logged only. Call before persistence closes. */
  close(): Promise<void>;
}

/**
 * Wires metrics, readiness, the audit trail and (when configured) tracing
 * into a server: the core is observed through its session events and
 * probes, the REST app through hooks. Call before the app listens.
 */
export async function attachObservability(
  app: HttpApp,
  io: SocketServer,
  runtime: AgentRuntime,
  options: ObservabilityOptions = {},
): Promise<ServerObservability> {
  const metrics = new RuntimeMetrics(runtime, () => io.of("/").sockets.size, options.metrics);
  const audit = new AuditTrail({
    persistence: runtime.persistence,
    logger: runtime.logger,
    onWriteFailed: () => metrics.persistenceFailed("audit"),
    retentionMs: options.auditRetentionMs ?? 0,
  });
  // Observers live as long as the runtime: a server and its runtime end together.
  runtime.sessions.subscribeAll((event) => metrics.observe(event));
  runtime.probes.add(metrics.probeListener);
  if (options.tracing) {
    const contexts = new RequestContexts();
    const tracer = options.tracing.tracerProvider.getTracer("agent-runtime");
    installRequestTracing(app, tracer, contexts);
    const turns = new TurnTracer(tracer, contexts, runtime.logger);
    runtime.sessions.subscribeAll((event) => turns.observe(event));
    runtime.probes.add(turns.probeListener);
  }
  installAuditHook(app, { runtime, trail: audit });
  await app.register(observabilityRoutes, {
    metrics,
    readiness: new ReadinessProbe(runtime.persistence, runtime.sandboxProvider, options.readiness),
    trail: audit,
    logger: runtime.logger,
  });
  return {
    metrics,
    audit,
    close: () => audit.close(),
  };
}
