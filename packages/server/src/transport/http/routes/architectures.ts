import { listArchitecturesResponseSchema } from "@agent-runtime/protocol";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { AgentRuntime } from "../../../core/agent-runtime.js";

/** `GET /agent-architectures`: the architectures sessions may use and their declared capabilities. */
export const architectureRoutes: FastifyPluginAsyncZod<{ runtime: AgentRuntime }> = async (
  app,
  { runtime },
) => {
  app.get(
    "/agent-architectures",
    {
      schema: {
        tags: ["architectures"],
        summary: "Agent architectures and their capabilities",
        response: { 200: listArchitecturesResponseSchema },
      },
    },
    async () => ({
      architectures: [...runtime.architectures.values()].map(({ id, capabilities }) => ({
        id,
        capabilities,
      })),
    }),
  );
};
