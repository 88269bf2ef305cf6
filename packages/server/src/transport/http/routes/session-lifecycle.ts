import {
  sessionIdRefSchema,
  stopSessionResponseSchema,
  syncSessionResponseSchema,
  updateSessionRequestSchema,
  updateSessionResponseSchema,
} from "@agent-runtime/protocol";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AgentRuntime } from "../../../core/agent-runtime.js";
import { sessionScope } from "../request-caller.js";

const sessionParams = z.object({ id: sessionIdRefSchema });
/** A model name and a permission policy with up to 200 tool names. */
const UPDATE_BODY_LIMIT = 64 * 1024;
const NO_BODY_LIMIT = 1024;

/**
 * What changes a loaded session without a message: its options (from the
 * next turn), unloading it (`stop`: everything kept, unlike `DELETE`), and a
 * sync on demand.
 */
export const sessionLifecycleRoutes: FastifyPluginAsyncZod<{ runtime: AgentRuntime }> = async (
  app,
  { runtime },
) => {
  const { sessions } = runtime;

  app.patch(
    "/sessions/:id",
    {
      bodyLimit: UPDATE_BODY_LIMIT,
      schema: {
        tags: ["sessions"],
        summary:
          "Change the session's options (a partial merge; null removes one); applied from the next turn",
        params: sessionParams,
        body: updateSessionRequestSchema,
        response: { 200: updateSessionResponseSchema },
      },
    },
    async (request) => {
      const session = await sessions.get(request.params.id, sessionScope(request));
      return { sessionOptions: session.updateOptions(request.body.sessionOptions) };
    },
  );

  app.post(
    "/sessions/:id/stop",
    {
      bodyLimit: NO_BODY_LIMIT,
      schema: {
        tags: ["sessions"],
        summary:
          "Unload the session: sync, end a running turn, terminate the sandbox, keep everything (the next message brings it back)",
        params: sessionParams,
        response: { 200: stopSessionResponseSchema },
      },
    },
    async (request) => {
      await sessions.stop(request.params.id, sessionScope(request));
      return { stopped: true as const };
    },
  );

  app.post(
    "/sessions/:id/sync",
    {
      bodyLimit: NO_BODY_LIMIT,
      schema: {
        tags: ["sessions"],
        summary: "Store what the session holds now; answers once the write is durable",
        params: sessionParams,
        response: { 200: syncSessionResponseSchema },
      },
    },
    async (request) => {
      const session = await sessions.get(request.params.id, sessionScope(request));
      await session.sync();
      return { syncedAt: new Date().toISOString() };
    },
  );
};
