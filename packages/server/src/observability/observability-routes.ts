import { errorResponseSchema, listAuditQuerySchema, listAuditResponseSchema } from "@agent-runtime/protocol";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { Logger } from "pino";
import { z } from "zod";
import { RuntimeError } from "../errors.js";
import { sendError } from "../transport/http/error-handler.js";
import { requestCaller } from "../transport/http/request-caller.js";
import type { AuditTrail } from "./audit-trail.js";
import type { ReadinessProbe } from "./readiness.js";
import type { RuntimeMetrics } from "./runtime-metrics.js";

const checkSchema = z.object({ ok: z.boolean() });
const readySchema = z.object({
  status: z.literal("ready"),
  checks: z.object({ storage: checkSchema, sandbox: checkSchema, cluster: checkSchema.optional() }),
});

/**
 * `GET /metrics` (Prometheus text; admins only when keys are configured),
 * `GET /ready` (public readiness for load balancers: 200, or 503
 * `NOT_READY` naming the failing checks; the reasons go to the log, not to
 * the anonymous caller), `GET /audit` (the stored audit trail, newest first:
 * every tenant's for an admin, a tenant's own for its key).
 */
export const observabilityRoutes: FastifyPluginAsyncZod<{
  metrics: RuntimeMetrics;
  readiness: ReadinessProbe;
  trail: AuditTrail;
  logger: Logger;
}> = async (app, { metrics, readiness, trail, logger }) => {
  app.get(
    "/metrics",
    {
      schema: {
        tags: ["observability"],
        summary: "Prometheus metrics (text exposition format; admin)",
        produces: ["text/plain"],
      },
    },
    async (request, reply) => {
      if (requestCaller(request).role !== "admin")
        throw new RuntimeError("FORBIDDEN", "Only an admin key reads the metrics");
      const text = await metrics.scrape();
      return reply.type(metrics.contentType).send(text);
    },
  );

  app.get(
    "/ready",
    {
      schema: {
        tags: ["health"],
        summary: "Readiness: storage reachable, sandbox provider usable (public)",
        response: { 200: readySchema, 503: errorResponseSchema },
      },
    },
    async (request, reply) => {
      const { ready, checks } = await readiness.check();
      const shown = {
        storage: { ok: checks.storage.ok },
        sandbox: { ok: checks.sandbox.ok },
        ...(checks.cluster ? { cluster: { ok: checks.cluster.ok } } : {}),
      };
      if (ready) return { status: "ready" as const, checks: shown };
      const failing = Object.entries(checks).filter(([, check]) => !check.ok);
      logger.warn(
        { checks: Object.fromEntries(failing.map(([name, check]) => [name, check.message])) },
        "not ready",
      );
      return sendError(
        reply,
        request,
        "NOT_READY",
        `Not ready: ${failing.map(([name]) => name).join(", ")}`,
        { checks: shown },
      );
    },
  );

  app.get(
    "/audit",
    {
      schema: {
        tags: ["observability"],
        summary:
          "The audit trail of state-changing requests, newest first (admin: any tenant; a tenant: its own)",
        querystring: listAuditQuerySchema,
        response: {
          200: listAuditResponseSchema,
          400: errorResponseSchema,
          403: errorResponseSchema,
          501: errorResponseSchema,
        },
      },
    },
    async (request) => {
      const caller = requestCaller(request);
      if (caller.sessionIds)
        throw new RuntimeError(
          "FORBIDDEN",
          "A caller limited to given sessions does not read the audit trail",
        );
      const { tenantId, ...rest } = request.query;
      if (caller.role === "admin") return trail.list({ ...rest, tenantId });
      if (tenantId !== undefined && tenantId !== caller.tenantId)
        throw new RuntimeError("FORBIDDEN", "A tenant's key reads its own tenant's audit trail only");
      return trail.list({ ...rest, tenantId: caller.tenantId });
    },
  );
};
