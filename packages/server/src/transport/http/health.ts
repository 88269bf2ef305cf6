import { healthResponseSchema } from "@agent-runtime/protocol";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";

export interface HealthInfo {
  readonly version: string;
  readonly demoModel: boolean;
  readonly authRequired: boolean;
}

/** `GET /health`: public liveness and version. */
export const healthRoutes: FastifyPluginAsyncZod<{ info: HealthInfo }> = async (app, { info }) => {
  app.get(
    "/health",
    {
      schema: {
        tags: ["health"],
        summary: "Liveness and version (public)",
        response: { 200: healthResponseSchema },
      },
    },
    async () => ({ status: "ok" as const, ...info }),
  );
};
