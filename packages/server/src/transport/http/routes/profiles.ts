import { getProfileResponseSchema, listProfilesResponseSchema } from "@agent-runtime/protocol";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AgentRuntime } from "../../../core/agent-runtime.js";

export const profileRoutes: FastifyPluginAsyncZod<{ runtime: AgentRuntime }> = async (app, { runtime }) => {
  app.get(
    "/agent-profiles",
    {
      schema: {
        tags: ["profiles"],
        summary: "List agent profiles",
        response: { 200: listProfilesResponseSchema },
      },
    },
    async () => ({
      profiles: (await runtime.profiles.list()).map(({ id, name, description }) => ({
        id,
        name,
        ...(description === undefined ? {} : { description }),
      })),
    }),
  );

  app.get(
    "/agent-profiles/:id",
    {
      schema: {
        tags: ["profiles"],
        summary: "One agent profile",
        params: z.object({ id: z.string().min(1).max(200) }),
        response: { 200: getProfileResponseSchema },
      },
    },
    async (request) => runtime.profiles.get(request.params.id),
  );
};
