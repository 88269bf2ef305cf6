import {
  blockSchema,
  createSessionRequestSchema,
  createSessionResponseSchema,
  interruptResponseSchema,
  listSessionsResponseSchema,
  permissionAnswerRequestSchema,
  permissionAnswerResponseSchema,
  sendMessageRequestSchema,
  sendMessageResponseSchema,
  sessionDataSchema,
} from "@agent-runtime/protocol";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AgentRuntime } from "../../../core/agent-runtime.js";

const sessionParams = z.object({ id: z.string().min(1).max(200) });

/** Session lifecycle, messages and interrupts. Creations and deletions go to the runtime's session-list feed. */
export const sessionRoutes: FastifyPluginAsyncZod<{
  runtime: AgentRuntime;
}> = async (app, { runtime }) => {
  const { sessions } = runtime;

  for (const url of ["/sessions", "/sessions/create"]) {
    app.post(
      url,
      {
        schema: {
          tags: ["sessions"],
          summary: url === "/sessions" ? "Create a session (no sandbox yet)" : "Create a session (alias)",
          body: createSessionRequestSchema,
          response: { 201: createSessionResponseSchema },
        },
      },
      async (request, reply) => {
        return reply.status(201).send((await sessions.create(request.body)).summary());
      },
    );
  }

  app.get(
    "/sessions",
    {
      schema: { tags: ["sessions"], summary: "List sessions", response: { 200: listSessionsResponseSchema } },
    },
    async () => ({ sessions: await sessions.list() }),
  );

  app.get(
    "/sessions/:id",
    {
      schema: {
        tags: ["sessions"],
        summary: "Session data: metadata, runtime state, blocks, files, subagents",
        params: sessionParams,
        response: { 200: sessionDataSchema },
      },
    },
    async (request) => (await sessions.get(request.params.id)).snapshot(),
  );

  app.delete(
    "/sessions/:id",
    {
      schema: {
        tags: ["sessions"],
        summary: "Destroy a session (sync, terminate its sandbox, delete it)",
        params: sessionParams,
      },
    },
    async (request, reply) => {
      await sessions.destroy(request.params.id);
      return reply.status(204).send();
    },
  );

  for (const url of ["/sessions/:id/messages", "/sessions/:id/message"]) {
    app.post(
      url,
      {
        schema: {
          tags: ["sessions"],
          summary: url.endsWith("messages") ? "Send a user message" : "Send a user message (alias)",
          params: sessionParams,
          body: sendMessageRequestSchema,
          response: { 202: sendMessageResponseSchema },
        },
      },
      async (request, reply) => {
        const session = await sessions.get(request.params.id);
        return reply.status(202).send(session.sendMessage(request.body.content));
      },
    );
  }

  app.post(
    "/sessions/:id/interrupt",
    {
      schema: {
        tags: ["sessions"],
        summary: "Stop the running turn",
        params: sessionParams,
        response: { 200: interruptResponseSchema },
      },
    },
    async (request) => ({ interrupted: (await sessions.get(request.params.id)).interrupt() }),
  );

  app.get(
    "/sessions/:id/subagents/:subagentId",
    {
      schema: {
        tags: ["sessions"],
        summary: "A subagent's blocks",
        params: sessionParams.extend({ subagentId: z.string().min(1).max(200) }),
        response: { 200: z.object({ subagentId: z.string(), blocks: z.array(blockSchema) }) },
      },
    },
    async (request) => {
      const session = await sessions.get(request.params.id);
      return {
        subagentId: request.params.subagentId,
        blocks: session.subagentBlocks(request.params.subagentId),
      };
    },
  );

  app.post(
    "/sessions/:id/permissions/:requestId",
    {
      schema: {
        tags: ["sessions"],
        summary: "Answer a tool-permission request",
        params: sessionParams.extend({ requestId: z.string().min(1).max(200) }),
        body: permissionAnswerRequestSchema,
        response: { 200: permissionAnswerResponseSchema },
      },
    },
    async (request) => {
      const session = await sessions.get(request.params.id);
      return session.answerPermission(request.params.requestId, request.body);
    },
  );
};
