import { randomUUID } from "node:crypto";
import type { AuditRecord } from "@agent-runtime/protocol";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AgentRuntime } from "../core/agent-runtime.js";
import { callerTenant } from "../transport/api-keys.js";
import type { AuditTrail } from "./audit-trail.js";

/** Methods that change state; every request with one of them that reaches a route is audited. */
const CHANGING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Audit action names by `METHOD route`; any other changing route is named by its method and route. */
const ACTIONS: Readonly<Record<string, string>> = {
  "POST /sessions": "session.create",
  "POST /sessions/create": "session.create",
  "PATCH /sessions/:id": "session.update",
  "DELETE /sessions/:id": "session.delete",
  "POST /sessions/:id/messages": "session.message",
  "POST /sessions/:id/message": "session.message",
  "POST /sessions/:id/interrupt": "session.interrupt",
  "POST /sessions/:id/stop": "session.stop",
  "POST /sessions/:id/sync": "session.sync",
  "POST /sessions/:id/permissions/:requestId": "permission.decide",
  "PUT /sessions/:id/files/*": "file.write",
  "DELETE /sessions/:id/files/*": "file.delete",
  "POST /auth/tokens": "token.mint",
};

declare module "fastify" {
  interface FastifyRequest {
    /** The tenant of the session a changing request of an admin targets, looked up before its handler. */
    auditTenant: string | null;
  }
}

/** Most characters of a target (a file path) an audit record keeps. */
const MAX_TARGET = 1024;
/** Largest answer read for a created session's id or an error code (larger ones are neither). */
const MAX_PARSED_ANSWER = 65_536;

/**
 * Records every state-changing REST request in `trail` once it is answered:
 * who (tenant, key id, role), what (action, route, session and target), the
 * request and trace ids, and the outcome. Bodies, keys and tokens are never
 * recorded. For an admin's request on a session, the session's tenant is
 * looked up first (before a delete removes it).
 */
export function installAuditHook(
  app: FastifyInstance,
  options: { runtime: AgentRuntime; trail: AuditTrail },
): void {
  app.decorateRequest("auditTenant", null);
  app.addHook("preHandler", async (request) => {
    if (!CHANGING.has(request.method) || request.caller?.role !== "admin") return;
    const sessionId = paramsOf(request).id;
    if (sessionId === undefined) return;
    const summary = await options.runtime.sessions.currentSummary(sessionId).catch(() => null);
    request.auditTenant = summary?.tenantId ?? null;
  });
  app.decorateRequest("createdSession", null);
  app.decorateRequest("auditErrorCode", null);
  app.addHook("onSend", async (request, reply, payload) => {
    if (!CHANGING.has(request.method) || typeof payload !== "string" || payload.length > MAX_PARSED_ANSWER)
      return payload;
    const created = actionOf(request) === "session.create" && reply.statusCode === 201;
    if (!created && reply.statusCode < 400) return payload;
    try {
      const answer = JSON.parse(payload) as {
        sessionId?: unknown;
        tenantId?: unknown;
        error?: { code?: unknown };
      };
      // A created session's id and tenant are in its answer; a refusal's code in its error.
      if (created && typeof answer.sessionId === "string") request.createdSession = answer.sessionId;
      if (created && typeof answer.tenantId === "string") request.auditTenant = answer.tenantId;
      if (typeof answer.error?.code === "string") request.auditErrorCode = answer.error.code;
    } catch {
      // Not JSON: nothing to learn.
    }
    return payload;
  });
  app.addHook("onResponse", async (request, reply) => {
    // A request forwarded to another node of a cluster is audited there, once.
    if (!CHANGING.has(request.method) || !request.routeOptions.url || request.forwardedTo) return;
    options.trail.record(recordOf(request, reply.statusCode));
  });
}

declare module "fastify" {
  interface FastifyRequest {
    /** The id of the session a `session.create` request created. */
    createdSession: string | null;
    /** The error code a refused changing request was answered with. */
    auditErrorCode: string | null;
  }
}

function actionOf(request: FastifyRequest): string {
  const route = request.routeOptions.url ?? "";
  return ACTIONS[`${request.method} ${route}`] ?? `${request.method} ${route}`;
}

function paramsOf(request: FastifyRequest): Record<string, string | undefined> {
  const params = request.params;
  return params && typeof params === "object" ? (params as Record<string, string | undefined>) : {};
}

function recordOf(request: FastifyRequest, status: number): AuditRecord {
  const params = paramsOf(request);
  const caller = request.caller ?? (request.credential?.ok ? request.credential.caller : null);
  const tenantId = (caller ? callerTenant(caller) : undefined) ?? request.auditTenant ?? undefined;
  const sessionId = params.id ?? request.createdSession ?? undefined;
  const target = params.requestId ?? params["*"];
  const errorCode = status >= 400 ? request.auditErrorCode : undefined;
  return {
    id: randomUUID(),
    at: new Date().toISOString(),
    requestId: request.id,
    ...(request.traceId ? { traceId: request.traceId } : {}),
    ...(tenantId === undefined ? {} : { tenantId }),
    role: caller ? caller.role : "anonymous",
    keyId: caller?.keyId ?? "",
    action: actionOf(request),
    method: request.method,
    route: request.routeOptions.url ?? "",
    ...(sessionId === undefined ? {} : { sessionId }),
    ...(target === undefined ? {} : { target: target.slice(0, MAX_TARGET) }),
    outcome: status < 400 ? "success" : "failure",
    status,
    ...(errorCode ? { errorCode } : {}),
  };
}
