import { workspaceFileSchema, writeFileRequestSchema } from "@agent-runtime/protocol";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AgentRuntime } from "../../../core/agent-runtime.js";

/** Longest file path a route takes: Linux's PATH_MAX, like the runner protocol's `file` lines. */
const MAX_PATH_LENGTH = 4096;

const fileParams = z.object({ id: z.string().min(1).max(200), "*": z.string().min(1).max(MAX_PATH_LENGTH) });

/** Workspace files: index, read (raw bytes), write, delete. Paths are validated by the session. */
export const fileRoutes: FastifyPluginAsyncZod<{ runtime: AgentRuntime }> = async (app, { runtime }) => {
  const { sessions } = runtime;

  app.get(
    "/sessions/:id/files",
    {
      schema: {
        tags: ["files"],
        summary: "Workspace file index",
        params: z.object({ id: z.string().min(1).max(200) }),
        response: { 200: z.object({ files: z.array(workspaceFileSchema) }) },
      },
    },
    async (request) => ({ files: (await sessions.get(request.params.id)).snapshot().files }),
  );

  app.get(
    "/sessions/:id/files/*",
    { schema: { tags: ["files"], summary: "Read one workspace file (raw bytes)", params: fileParams } },
    async (request, reply) => {
      const session = await sessions.get(request.params.id);
      const content = await session.readFile(request.params["*"]);
      return reply
        .type("application/octet-stream")
        .header("x-content-type-options", "nosniff")
        .send(Buffer.from(content));
    },
  );

  app.put(
    "/sessions/:id/files/*",
    {
      schema: {
        tags: ["files"],
        summary: "Write one workspace file",
        params: fileParams,
        body: writeFileRequestSchema,
      },
    },
    async (request, reply) => {
      const session = await sessions.get(request.params.id);
      await session.writeFile(request.params["*"], request.body.content);
      return reply.status(204).send();
    },
  );

  app.delete(
    "/sessions/:id/files/*",
    { schema: { tags: ["files"], summary: "Delete one workspace file", params: fileParams } },
    async (request, reply) => {
      const session = await sessions.get(request.params.id);
      await session.deleteFile(request.params["*"]);
      return reply.status(204).send();
    },
  );
};
