import type { SessionEvent } from "@agent-runtime/protocol";
import {
  type Attributes,
  type Context,
  ROOT_CONTEXT,
  type Span,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import type { Logger } from "pino";
import type { RequestContexts } from "./request-tracing.js";
import type { ProbePhase, RuntimeProbeListener } from "./runtime-probes.js";

interface OpenTurn {
  readonly span: Span;
  readonly context: Context;
  readonly startedAt: number;
  firstToken: boolean;
  admission: Span | undefined;
  readonly tools: Map<string, Span>;
  readonly permissions: Map<string, Span>;
}

interface TracedSession {
  readonly architecture: string;
  readonly tenantId: string | undefined;
  turn: OpenTurn | undefined;
  /** The last turn's context until a sync after it is traced (the sync that stores the turn). */
  lastTurn: Context | undefined;
}

/**
 * One trace per turn, built from the session events and the core's probes:
 * a `turn` span (from the message's acceptance to the turn's end; a child
 * of the REST request that sent the message) with children `queue.message`
 * (waiting behind earlier turns), `queue.start` (waiting for a start slot),
 * `sandbox.create`, `workspace.restore`, `agent.start`,
 * `model.first_token` (turn start to the first streamed delta), one
 * `tool <name>` span per tool call, `permission.wait` per permission
 * request, and `sync` (writes during the turn and the one that stores it).
 * Spans carry the times the events happened, so none is held open by the
 * tracer longer than its turn.
 */
export class TurnTracer {
  private readonly sessions = new Map<string, TracedSession>();
  private readonly accepted = new Map<
    string,
    { sessionId: string; at: number; parent: Context | undefined }
  >();

  constructor(
    private readonly tracer: Tracer,
    private readonly contexts: RequestContexts,
    private readonly logger: Logger,
  ) {}

  readonly probeListener: RuntimeProbeListener = {
    sessionOpened: ({ sessionId, architecture, tenantId }) => {
      this.sessions.set(sessionId, { architecture, tenantId, turn: undefined, lastTurn: undefined });
    },
    sessionClosed: (sessionId) => {
      const session = this.sessions.get(sessionId);
      if (session?.turn) this.endTurn(session, session.turn, Date.now(), "closed");
      this.sessions.delete(sessionId);
      for (const [turnId, message] of this.accepted)
        if (message.sessionId === sessionId) this.accepted.delete(turnId);
    },
    messageAccepted: ({ sessionId, turnId, at }) => {
      this.accepted.set(turnId, { sessionId, at, parent: this.contexts.current() });
    },
    phase: (phase) => this.phase(phase),
  };

  /** Follows one session event (`SessionManager.subscribeAll`). */
  observe(event: SessionEvent): void {
    const session = this.sessions.get(event.sessionId);
    if (!session) return;
    const at = Date.parse(event.timestamp);
    if (event.type === "session:turn:started") {
      this.startTurn(session, event.sessionId, event.turnId, at);
      return;
    }
    const turn = session.turn;
    if (!turn) return;
    switch (event.type) {
      case "session:status":
        if (event.runtime.sandboxStatus === "queued") {
          turn.admission ??= this.child(turn, "queue.start", at);
        } else if (turn.admission) {
          end(turn.admission, at);
          turn.admission = undefined;
        }
        return;
      case "session:block:delta":
        if (!turn.firstToken) {
          turn.firstToken = true;
          end(this.child(turn, "model.first_token", turn.startedAt), at);
        }
        return;
      case "session:block:start":
        if (event.block.type === "tool_use")
          turn.tools.set(
            event.block.toolUseId,
            this.child(turn, `tool ${event.block.toolName}`, at, {
              "agent_runtime.tool.name": event.block.toolName,
              "agent_runtime.tool.use_id": event.block.toolUseId,
            }),
          );
        return;
      case "session:block:complete": {
        if (event.block.type !== "tool_result") return;
        const span = turn.tools.get(event.block.toolUseId);
        if (!span) return;
        turn.tools.delete(event.block.toolUseId);
        if (event.block.isError) span.setStatus({ code: SpanStatusCode.ERROR });
        end(span, at);
        return;
      }
      case "session:permission:requested":
        turn.permissions.set(
          event.request.requestId,
          this.child(turn, "permission.wait", at, { "agent_runtime.tool.name": event.request.toolName }),
        );
        return;
      case "session:permission:resolved": {
        const span = turn.permissions.get(event.requestId);
        if (!span) return;
        turn.permissions.delete(event.requestId);
        span.setAttributes({
          "agent_runtime.permission.decision": event.decision,
          "agent_runtime.permission.reason": event.reason,
        });
        end(span, at);
        return;
      }
      case "error":
        turn.span.addEvent("error", { "agent_runtime.error.code": event.code }, at);
        return;
      case "session:turn:completed":
        this.endTurn(session, turn, at, event.stopReason);
        this.logger.info(
          {
            sessionId: event.sessionId,
            turnId: event.turnId,
            stopReason: event.stopReason,
            traceId: turn.span.spanContext().traceId,
          },
          "turn ended",
        );
        return;
      default:
        return;
    }
  }

  private startTurn(session: TracedSession, sessionId: string, turnId: string, at: number): void {
    const message = this.accepted.get(turnId);
    this.accepted.delete(turnId);
    const parent = message?.parent ?? ROOT_CONTEXT;
    const startedAt = Math.min(message?.at ?? at, at);
    const span = this.tracer.startSpan(
      "turn",
      {
        startTime: startedAt,
        attributes: {
          "agent_runtime.session.id": sessionId,
          "agent_runtime.turn.id": turnId,
          "agent_runtime.architecture": session.architecture,
          ...(session.tenantId === undefined ? {} : { "agent_runtime.tenant.id": session.tenantId }),
        },
      },
      parent,
    );
    const turn: OpenTurn = {
      span,
      context: trace.setSpan(parent, span),
      startedAt: at,
      firstToken: false,
      admission: undefined,
      tools: new Map(),
      permissions: new Map(),
    };
    end(this.child(turn, "queue.message", startedAt), at);
    session.turn = turn;
    session.lastTurn = undefined;
  }

  private endTurn(session: TracedSession, turn: OpenTurn, at: number, stopReason: string): void {
    for (const span of [...turn.tools.values(), ...turn.permissions.values()]) end(span, at);
    if (turn.admission) end(turn.admission, at);
    turn.span.setAttribute("agent_runtime.turn.stop_reason", stopReason);
    if (stopReason === "error") turn.span.setStatus({ code: SpanStatusCode.ERROR });
    end(turn.span, at);
    session.turn = undefined;
    session.lastTurn = turn.context;
  }

  private phase(phase: ProbePhase): void {
    const session = this.sessions.get(phase.sessionId);
    if (!session) return;
    let parent = session.turn?.context;
    if (!parent && phase.name === "sync" && session.lastTurn) {
      parent = session.lastTurn;
      session.lastTurn = undefined;
    }
    if (!parent) return;
    const span = this.tracer.startSpan(phase.name, { startTime: phase.startedAt }, parent);
    if (!phase.ok) span.setStatus({ code: SpanStatusCode.ERROR });
    end(span, phase.endedAt);
  }

  private child(turn: OpenTurn, name: string, startTime: number, attributes?: Attributes): Span {
    return this.tracer.startSpan(name, { startTime, ...(attributes ? { attributes } : {}) }, turn.context);
  }
}

/** Ends `span` at `at` (every span here ends at or after the time it was started with). */
function end(span: Span, at: number): void {
  span.end(at);
}
