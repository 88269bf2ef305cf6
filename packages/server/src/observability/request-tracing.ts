import { AsyncLocalStorage } from "node:async_hooks";
import {
  type Context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import type { FastifyInstance, FastifyRequest } from "fastify";

declare module "fastify" {
  interface FastifyRequest {
    /** The request's span while it is open, when tracing is on. */
    traceSpan: Span | null;
    /** The request's trace id, when tracing is on (audit records and log lines carry it). */
    traceId: string | null;
  }
}

/**
 * The trace context of the REST request being handled, for the core's
 * observers: a turn started by `POST /sessions/:id/messages` becomes part of
 * that request's trace. Set per request (`AsyncLocalStorage.enterWith` in
 * the first hook), so it follows the request's handler and what it calls.
 */
export class RequestContexts {
  private readonly storage = new AsyncLocalStorage<Context>();

  /** The context of the request whose work runs now, if any. */
  current(): Context | undefined {
    return this.storage.getStore();
  }

  enter(ctx: Context): void {
    this.storage.enterWith(ctx);
  }
}

/**
 * Traces every REST request: one server span from its arrival to its
 * answer, named by route (`POST /sessions/:id/messages`), continuing a
 * caller's `traceparent` when a global propagator is registered, with the
 * trace id in the request's log lines.
 */
export function installRequestTracing(app: FastifyInstance, tracer: Tracer, contexts: RequestContexts): void {
  app.decorateRequest("traceSpan", null);
  app.decorateRequest("traceId", null);
  app.addHook("onRequest", async (request) => {
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const span = tracer.startSpan(
      `HTTP ${request.method}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          "http.request.method": request.method,
          "url.path": request.url.split("?")[0] ?? "",
          "agent_runtime.request_id": request.id,
        },
      },
      parent,
    );
    request.traceSpan = span;
    const { traceId, spanId } = span.spanContext();
    request.traceId = traceId;
    request.log = request.log.child({ traceId, spanId });
    contexts.enter(trace.setSpan(parent, span));
  });
  app.addHook("onResponse", async (request, reply) => endRequestSpan(request, reply.statusCode));
  // A client that went away before the answer: the span ends with the status fastify would have logged.
  app.addHook("onRequestAbort", async (request) => endRequestSpan(request, 499));
}

function endRequestSpan(request: FastifyRequest, status: number): void {
  const span = request.traceSpan;
  if (!span) return;
  request.traceSpan = null;
  const route = request.routeOptions.url;
  if (route) {
    span.updateName(`${request.method} ${route}`);
    span.setAttribute("http.route", route);
  }
  span.setAttribute("http.response.status_code", status);
  if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
}

/** The trace id of `request`, when it is traced. */
export function traceIdOf(request: FastifyRequest): string | undefined {
  return request.traceId ?? undefined;
}
