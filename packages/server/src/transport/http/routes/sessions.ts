import {
  blockPageSchema,
  blockSchema,
  createSessionRequestSchema,
  createSessionResponseSchema,
  interruptResponseSchema,
  listSessionsQuerySchema,
  listSessionsResponseSchema,
  MAX_ATTACHMENT_BYTES,
  MAX_MESSAGE_LENGTH,
  permissionAnswerRequestSchema,
  permissionAnswerResponseSchema,
  sendMessageRequestSchema,
  sendMessageResponseSchema,
  sessionBlocksQuerySchema,
  sessionDataSchema,
  sessionIdRefSchema,
  sessionQuerySchema,
} from "@agent-runtime/protocol";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AgentRuntime } from "../../../core/agent-runtime.js";
import { sessionScope } from "../request-caller.js";

const sessionParams = z.object({ id: sessionIdRefSchema });

/*
 * Body limits of these routes, sized to what their schemas accept (a
 * character may take 6 bytes as a JSON escape), so that a larger body is
 * refused with 413 as it arrives instead of read and parsed.
 */
/** `POST /sessions`: a profile id, a model name and up to 200 tool names. */
const CREATE_BODY_LIMIT = 64 * 1024;
/** A message of `MAX_MESSAGE_LENGTH` characters, and its attachments as base64. */
const MESSAGE_BODY_LIMIT = 6 * MAX_MESSAGE_LENGTH + Math.ceil((MAX_ATTACHMENT_BYTES * 4) / 3) + 64 * 1024;
/** A permission answer with its 2,000-character message. */
const PERMISSION_BODY_LIMIT = 16 * 1024;
/** Routes that take no body. */
const NO_BODY_LIMIT = 1024;

/** Session lifecycle, messages and interrupts. Creations and deletions go to the runtime's session-list feed. */
export const sessionRoutes: FastifyPluginAsyncZod<{
  runtime: AgentRuntime;
}> = async (app, { runtime }) => {
  const { sessions } = runtime;

  for (const url of ["/sessions", "/sessions/create"]) {
    app.post(
      url,
      {
        bodyLimit: CREATE_BODY_LIMIT,
        schema: {
          tags: ["sessions"],
          summary: url === "/sessions" ? "Create a session (no sandbox yet)" : "Create a session (alias)",
          body: createSessionRequestSchema,
          response: { 201: createSessionResponseSchema },
        },
      },
      async (request, reply) => {
        return reply.status(201).send((await sessions.create(request.body, sessionScope(request))).summary());
      },
    );
  }

  app.get(
    "/sessions",
    {
      schema: {
        tags: ["sessions"],
        summary: "A page of the sessions, newest first (`nextCursor` is the next page's `cursor`)",
        querystring: listSessionsQuerySchema,
        response: { 200: listSessionsResponseSchema },
      },
    },
    async (request) => sessions.listPage(request.query, sessionScope(request)),
  );

  app.get(
    "/sessions/:id",
    {
      schema: {
        tags: ["sessions"],
        summary:
          "Session data: metadata, runtime state, the newest `blocksLimit` blocks (older ones: `/sessions/:id/blocks`), files, subagents",
        params: sessionParams,
        querystring: sessionQuerySchema,
        response: { 200: sessionDataSchema },
      },
    },
    async (request) =>
      (await sessions.get(request.params.id, sessionScope(request))).snapshot({
        blocksLimit: request.query.blocksLimit,
      }),
  );

  app.get(
    "/sessions/:id/blocks",
    {
      schema: {
        tags: ["sessions"],
        summary: "A page of the main conversation's blocks, in start order (`before` or `after` a block id)",
        params: sessionParams,
        querystring: sessionBlocksQuerySchema,
        response: { 200: blockPageSchema },
      },
    },
    async (request) =>
      (await sessions.get(request.params.id, sessionScope(request))).blockPage(request.query),
  );

  app.delete(
    "/sessions/:id",
    {
      bodyLimit: NO_BODY_LIMIT,
      schema: {
        tags: ["sessions"],
        summary: "Destroy a session (sync, terminate its sandbox, delete it)",
        params: sessionParams,
      },
    },
    async (request, reply) => {
      await sessions.destroy(request.params.id, sessionScope(request));
      return reply.status(204).send();
    },
  );

  for (const url of ["/sessions/:id/messages", "/sessions/:id/message"]) {
    app.post(
      url,
      {
        bodyLimit: MESSAGE_BODY_LIMIT,
        schema: {
          tags: ["sessions"],
          summary: url.endsWith("messages") ? "Send a user message" : "Send a user message (alias)",
          params: sessionParams,
          body: sendMessageRequestSchema,
          response: { 202: sendMessageResponseSchema },
        },
      },
      async (request, reply) => {
        return reply
          .status(202)
          .send(await sessions.sendMessage(request.params.id, request.body, sessionScope(request)));
      },
    );
  }

  app.post(
    "/sessions/:id/interrupt",
    {
      bodyLimit: NO_BODY_LIMIT,
      schema: {
        tags: ["sessions"],
        summary: "Stop the running turn",
        params: sessionParams,
        response: { 200: interruptResponseSchema },
      },
    },
    async (request) => ({
      interrupted: (await sessions.get(request.params.id, sessionScope(request))).interrupt(),
    }),
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
      const session = await sessions.get(request.params.id, sessionScope(request));
      return {
        subagentId: request.params.subagentId,
        blocks: session.subagentBlocks(request.params.subagentId),
      };
    },
  );

  app.post(
    "/sessions/:id/permissions/:requestId",
    {
      bodyLimit: PERMISSION_BODY_LIMIT,
      schema: {
        tags: ["sessions"],
        summary: "Answer a tool-permission request",
        params: sessionParams.extend({ requestId: z.string().min(1).max(200) }),
        body: permissionAnswerRequestSchema,
        response: { 200: permissionAnswerResponseSchema },
      },
    },
    async (request) => {
      const session = await sessions.get(request.params.id, sessionScope(request));
      return session.answerPermission(request.params.requestId, request.body);
    },
  );
};
