import { errorResponseSchema, tenantIdSchema, tenantUsageResponseSchema } from "@agent-runtime/protocol";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AgentRuntime } from "../../../core/agent-runtime.js";
import { RuntimeError } from "../../../errors.js";
import { requestCaller } from "../request-caller.js";

/**
 * Usage and quotas per tenant (see `SessionManager.tenantUsage`): `GET /usage`
 * answers the caller's own tenant (a tenant's key or token; not one limited
 * to given sessions), `GET /tenants/:id/usage` any tenant, for admins only.
 */
export const usageRoutes: FastifyPluginAsyncZod<{ runtime: AgentRuntime }> = async (app, { runtime }) => {
  app.get(
    "/usage",
    {
      schema: {
        tags: ["tenants"],
        summary: "The caller's tenant: usage totals, what it holds now, its quotas",
        response: { 200: tenantUsageResponseSchema, 400: errorResponseSchema, 403: errorResponseSchema },
      },
    },
    async (request) => {
      const caller = requestCaller(request);
      if (caller.role !== "tenant")
        throw new RuntimeError(
          "VALIDATION_FAILED",
          "An admin has no tenant of its own: use GET /tenants/:id/usage",
        );
      if (caller.sessionIds)
        throw new RuntimeError(
          "FORBIDDEN",
          "A caller limited to given sessions does not read its tenant's usage",
        );
      return runtime.sessions.tenantUsage(caller.tenantId);
    },
  );

  app.get(
    "/tenants/:id/usage",
    {
      schema: {
        tags: ["tenants"],
        summary: "A tenant's usage totals, what it holds now, its quotas (admin)",
        params: z.object({ id: tenantIdSchema }),
        response: { 200: tenantUsageResponseSchema, 403: errorResponseSchema },
      },
    },
    async (request) => {
      if (requestCaller(request).role !== "admin")
        throw new RuntimeError("FORBIDDEN", "Only an admin key reads a tenant's usage here; use GET /usage");
      return runtime.sessions.tenantUsage(request.params.id);
    },
  );
};
