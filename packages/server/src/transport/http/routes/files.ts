import { Readable } from "node:stream";
import {
  errorResponseSchema,
  sessionIdRefSchema,
  workspaceFileSchema,
  writeFileRequestSchema,
} from "@agent-runtime/protocol";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AgentRuntime } from "../../../core/agent-runtime.js";
import { RuntimeError } from "../../../errors.js";
import { sendError } from "../error-handler.js";
import { requestedRange } from "../range-header.js";
import { sessionScope } from "../request-caller.js";

/** Longest file path a route takes: Linux's PATH_MAX, like the runner protocol's `file` lines. */
const MAX_PATH_LENGTH = 4096;

/** Limits of the workspace file routes (`/sessions/:id/files/*` and `/sessions/:id/workspace`). */
export interface FileRouteOptions {
  /**
   * Most bytes one file read answers: a larger file is refused with 413
   * `FILE_TOO_LARGE` (a `Range` within the limit still reads it) and is left
   * out of workspace archives, which name it. Reads stream, so memory does
   * not grow with this. @default 4_294_967_296 (4 GiB)
   */
  readonly maxReadBytes?: number;
  /**
   * Largest raw (`application/octet-stream`) body of a file write; a larger
   * one is refused with 413 `PAYLOAD_TOO_LARGE` as soon as it is declared or
   * passed. JSON writes are bounded by the server's `bodyLimit` instead.
   * @default 104_857_600 (100 MiB)
   */
  readonly maxWriteBytes?: number;
}

export const DEFAULT_MAX_FILE_READ_BYTES = 4 * 1024 ** 3;
const DEFAULT_MAX_FILE_WRITE_BYTES = 100 * 1024 ** 2;

const fileParams = z.object({ id: sessionIdRefSchema, "*": z.string().min(1).max(MAX_PATH_LENGTH) });

/** A file's bytes in an answer; `any` so a handler may send a stream, the metadata documents it. */
const fileBytes = z.any().meta({ type: "string", format: "binary", description: "The file's bytes" });

/** A raw body: the request stream itself, as the `application/octet-stream` parser hands it over. */
const rawBody = z.custom<Readable>((value) => value instanceof Readable);

/**
 * The two bodies of `PUT`, documented per content type in the OpenAPI
 * document (the `content` map that fastify's swagger plugin reads).
 */
const writeFileBody = z
  .union([writeFileRequestSchema, rawBody], {
    error: 'expected JSON {"content": string}, or raw bytes sent as application/octet-stream',
  })
  .meta({
    content: {
      "application/json": { schema: z.toJSONSchema(writeFileRequestSchema, { target: "openapi-3.0" }) },
      "application/octet-stream": { schema: { type: "string", format: "binary" } },
    },
  });

/**
 * Workspace files: index, read (raw bytes, streamed, with single `Range`
 * support), write (JSON text or raw bytes), delete. Paths are validated by
 * the session. A read never holds the file in server memory when the
 * sandbox provider and the storage adapter can stream it.
 */
export const fileRoutes: FastifyPluginAsyncZod<{ runtime: AgentRuntime; files?: FileRouteOptions }> = async (
  app,
  { runtime, files = {} },
) => {
  const { sessions } = runtime;
  const maxReadBytes = files.maxReadBytes ?? DEFAULT_MAX_FILE_READ_BYTES;
  const maxWriteBytes = files.maxWriteBytes ?? DEFAULT_MAX_FILE_WRITE_BYTES;

  // The body stays a stream (these routes only): the handler bounds and forwards it.
  app.addContentTypeParser("application/octet-stream", (request, payload, done) => {
    if (Number(request.headers["content-length"]) > maxWriteBytes) done(tooLarge(maxWriteBytes), undefined);
    else done(null, payload);
  });

  app.get(
    "/sessions/:id/files",
    {
      schema: {
        tags: ["files"],
        summary: "Workspace file index",
        params: z.object({ id: sessionIdRefSchema }),
        response: { 200: z.object({ files: z.array(workspaceFileSchema) }) },
      },
    },
    async (request) => ({
      files: (await sessions.get(request.params.id, sessionScope(request))).snapshot().files,
    }),
  );

  app.get(
    "/sessions/:id/files/*",
    {
      schema: {
        tags: ["files"],
        summary: "Read one workspace file (raw bytes; a single Range is honoured)",
        params: fileParams,
        produces: ["application/octet-stream"],
        response: {
          200: fileBytes,
          206: fileBytes,
          413: errorResponseSchema,
          416: errorResponseSchema,
        },
      },
    },
    async (request, reply) => {
      const path = request.params["*"];
      const reader = await (await sessions.get(request.params.id, sessionScope(request))).openFile(path);
      let streaming = false;
      try {
        const { size } = reader;
        const range = requestedRange(request.headers, size);
        if (range === "unsatisfiable") {
          reply.header("content-range", `bytes */${size}`);
          return sendError(
            reply,
            request,
            "RANGE_NOT_SATISFIABLE",
            `No byte of ${path} (${size} bytes) is in the range`,
          );
        }
        const length = range ? range.end - range.start + 1 : size;
        if (length > maxReadBytes) {
          throw new RuntimeError(
            "FILE_TOO_LARGE",
            `Reading ${path} would answer ${length} bytes (the file has ${size}), over the ${maxReadBytes}-byte limit of one read; read it in parts with a Range header`,
          );
        }
        reply
          .type("application/octet-stream")
          .header("x-content-type-options", "nosniff")
          .header("accept-ranges", "bytes")
          .header("content-length", length);
        if (range) reply.status(206).header("content-range", `bytes ${range.start}-${range.end}/${size}`);
        // HEAD: the headers only (fastify's HEAD route drains a stream body; this one is empty).
        if (request.method === "HEAD") return reply.send(Readable.from([]));
        streaming = true;
        return reply.send(reader.read(range));
      } finally {
        if (!streaming) await reader.close();
      }
    },
  );

  app.put(
    "/sessions/:id/files/*",
    {
      schema: {
        tags: ["files"],
        summary: "Write one workspace file: JSON {content} (text) or raw bytes (application/octet-stream)",
        params: fileParams,
        body: writeFileBody,
        response: { 204: z.undefined(), 413: errorResponseSchema },
      },
    },
    async (request, reply) => {
      const session = await sessions.get(request.params.id, sessionScope(request));
      const path = request.params["*"];
      const { body } = request;
      try {
        await sessions.admitStorage(session);
      } catch (error) {
        // The body is never read: the connection cannot carry another request.
        if (body instanceof Readable) reply.header("connection", "close");
        throw error;
      }
      if (!(body instanceof Readable)) {
        await session.writeFile(path, body.content);
        return reply.status(204).send();
      }
      try {
        await session.writeFileFrom(path, atMost(body, maxWriteBytes));
      } catch (error) {
        // The rest of the body is never read: the connection cannot carry another request.
        if (RuntimeError.is(error) && error.code === "PAYLOAD_TOO_LARGE") reply.header("connection", "close");
        throw error;
      }
      return reply.status(204).send();
    },
  );

  app.delete(
    "/sessions/:id/files/*",
    { schema: { tags: ["files"], summary: "Delete one workspace file", params: fileParams } },
    async (request, reply) => {
      const session = await sessions.get(request.params.id, sessionScope(request));
      await session.deleteFile(request.params["*"]);
      return reply.status(204).send();
    },
  );
};

/**
 * The chunks of a request body, failing with `PAYLOAD_TOO_LARGE` once more
 * than `max` bytes came. Stopping early leaves the request open (not
 * destroyed), so the error can still be answered.
 */
async function* atMost(body: Readable, max: number): AsyncGenerator<Uint8Array> {
  let received = 0;
  for await (const chunk of body.iterator({ destroyOnReturn: false })) {
    received += (chunk as Buffer).byteLength;
    if (received > max) throw tooLarge(max);
    yield chunk as Buffer;
  }
}

function tooLarge(max: number): RuntimeError {
  return new RuntimeError("PAYLOAD_TOO_LARGE", `The file is over the ${max}-byte limit of one write`);
}
