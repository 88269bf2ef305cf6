import { sessionIdRefSchema } from "@agent-runtime/protocol";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AgentRuntime } from "../../../core/agent-runtime.js";
import { sessionScope } from "../request-caller.js";
import { OMITTED_ENTRY_NAME, workspaceArchive } from "../workspace-archive.js";
import { DEFAULT_MAX_FILE_READ_BYTES, type FileRouteOptions } from "./files.js";

/**
 * `GET /sessions/:id/workspace`: the whole workspace as a `.tar.gz`, entries
 * named by workspace-relative path (no leading folder), streamed file by
 * file as the client reads, so server memory stays bounded whatever the
 * files' sizes. Unknown sessions answer 404 before any byte is sent. A file
 * left out (over `files.maxReadBytes`, not a regular file, or deleted
 * meanwhile) is named with its reason in a last entry
 * `.agent-runtime-omitted.json` and logged as a warning; any other read
 * failure mid-stream aborts the response, so an incomplete download never
 * looks complete.
 */
export const workspaceRoutes: FastifyPluginAsyncZod<{
  runtime: AgentRuntime;
  files?: FileRouteOptions;
}> = async (app, { runtime, files = {} }) => {
  const maxFileBytes = files.maxReadBytes ?? DEFAULT_MAX_FILE_READ_BYTES;
  app.get(
    "/sessions/:id/workspace",
    {
      schema: {
        tags: ["files"],
        summary: "Download the whole workspace (.tar.gz)",
        params: z.object({ id: sessionIdRefSchema }),
        produces: ["application/gzip"],
        // `any` so the handler may send a stream; the metadata documents the bytes.
        response: {
          200: z.any().meta({
            type: "string",
            format: "binary",
            description: `A gzipped tar of the workspace; files left out are named in its last entry, ${OMITTED_ENTRY_NAME}`,
          }),
        },
      },
    },
    async (request, reply) => {
      const session = await runtime.sessions.get(request.params.id, sessionScope(request));
      return reply
        .type("application/gzip")
        .header("content-disposition", `attachment; filename="workspace-${safeName(session.id)}.tar.gz"`)
        .header("cache-control", "no-store")
        .send(
          workspaceArchive({
            files: session.snapshot().files,
            open: (path) => session.openFile(path),
            maxFileBytes,
            onOmitted: ({ path, reason }) =>
              request.log.warn(
                { sessionId: session.id, path },
                `Left out of the workspace archive (named in ${OMITTED_ENTRY_NAME}): ${reason}`,
              ),
          }),
        );
    },
  );
};

/** The session id restricted to filename-safe characters (ids are UUIDs; this only guards the header). */
function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64);
}
