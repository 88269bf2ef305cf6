import {
  errorResponseSchema,
  eventsQuerySchema,
  eventsResponseSchema,
  type SessionEvent,
  sessionIdRefSchema,
} from "@agent-runtime/protocol";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AgentRuntime } from "../../../core/agent-runtime.js";
import type { Credentials } from "../../credentials.js";
import { errorReplyFor } from "../../error-reply.js";
import { sendError } from "../error-handler.js";
import { sessionScope } from "../request-caller.js";

/**
 * `GET /sessions/:id/events?after=SEQ`: JSON replay of the events after a
 * cursor, or with `Accept: text/event-stream` a live SSE stream (replay, then
 * live events; `Last-Event-ID` works as the cursor). When the cursor is too
 * old, JSON answers 409 `CONFLICT` (with the current `lastSeq`: load the session instead); SSE sends a `session:snapshot`.
 * A stream whose credential stops being accepted (see `Credentials.watch`: a token's expiry, a
 * rotation removing its key) is sent an `error` event (`TOKEN_EXPIRED` or `UNAUTHORIZED`) and ended.
 */
export const eventRoutes: FastifyPluginAsyncZod<{ runtime: AgentRuntime; credentials: Credentials }> = async (
  app,
  { runtime, credentials },
) => {
  app.get(
    "/sessions/:id/events",
    {
      schema: {
        tags: ["sessions"],
        summary: "Replay events after a cursor (JSON), or stream them (SSE)",
        params: z.object({ id: sessionIdRefSchema }),
        querystring: eventsQuerySchema,
        response: { 200: eventsResponseSchema, 409: errorResponseSchema },
      },
    },
    async (request, reply) => {
      const session = await runtime.sessions.get(request.params.id, sessionScope(request));
      const lastEventId = Number.parseInt(String(request.headers["last-event-id"] ?? ""), 10);
      const after = Number.isFinite(lastEventId) ? lastEventId : request.query.after;
      const wantsStream = (request.headers.accept ?? "").includes("text/event-stream");

      if (!wantsStream) {
        const events = session.log.eventsAfter(after);
        if (events === null) {
          return sendError(
            reply,
            request,
            "CONFLICT",
            `Events after ${after} are no longer held; load GET /sessions/${session.id} instead`,
            { lastSeq: session.log.lastSeq },
          );
        }
        return { events, lastSeq: session.log.lastSeq };
      }

      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        connection: "keep-alive",
        "x-accel-buffering": "no",
      });
      const write = (event: SessionEvent) =>
        raw.write(`id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
      const resumed = session.resume(after);
      if (resumed.kind === "snapshot") {
        const { snapshot } = resumed;
        raw.write(
          `id: ${snapshot.lastSeq}\nevent: session:snapshot\ndata: ${JSON.stringify({ sessionId: session.id, seq: snapshot.lastSeq, session: snapshot })}\n\n`,
        );
      } else {
        for (const event of resumed.events) write(event);
      }
      const unsubscribe = session.subscribe(write);
      const heartbeat = setInterval(() => raw.write(": keep-alive\n\n"), 15_000);
      const { caller } = request;
      const stopKeyWatch = caller
        ? credentials.watch(caller, ({ code, message }) => {
            const { body } = errorReplyFor(code, message, { requestId: request.id });
            raw.end(`event: error\ndata: ${JSON.stringify(body.error)}\n\n`);
          })
        : () => undefined;
      request.raw.on("close", () => {
        clearInterval(heartbeat);
        unsubscribe();
        stopKeyWatch();
      });
    },
  );
};
