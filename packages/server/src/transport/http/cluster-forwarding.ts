import { sessionIdRefSchema } from "@agent-runtime/protocol";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Cluster } from "../../cluster/cluster.js";
import { FORWARDED_BY_HEADER, forwardRequest } from "../../cluster/forward-request.js";
import { errorMessage } from "../../errors.js";
import { errorReply } from "../error-reply.js";
import { sendError } from "./error-handler.js";

/** The routes of one session (their `:id` is the session's id). */
const SESSION_ROUTES = "/sessions/:id";

/** Methods whose requests carry a body to forward. */
const WITHOUT_BODY = new Set(["GET", "HEAD", "DELETE", "OPTIONS"]);

/**
 * Cluster mode: a request for a session (a route under `/sessions/:id`) that
 * another node runs is forwarded to that node, its body streamed there and
 * its answer streamed back, so any node answers any request. The owner
 * authenticates the request again (the client's headers go along), and a
 * forwarded request is never forwarded again. A session whose node stopped
 * announcing itself, with a lease not yet expired, answers 503
 * `NODE_UNAVAILABLE` with `Retry-After`; an owner that cannot be reached or
 * does not answer, 503 `NODE_UNAVAILABLE` / 504 `NODE_TIMEOUT`. Clients retry
 * those: within the lease TTL another node takes the session over.
 *
 * Runs after authentication and rate limiting, so what a node forwards was
 * accepted here first.
 */
export function installClusterForwarding(app: FastifyInstance, cluster: Cluster): void {
  app.addHook("onRequest", async (request, reply) => {
    if (!request.routeOptions.url?.startsWith(SESSION_ROUTES)) return;
    const sessionId = (request.params as { id?: unknown } | undefined)?.id;
    if (typeof sessionId !== "string" || request.headers[FORWARDED_BY_HEADER] !== undefined) return;
    // An id no session can have is answered here (400 by the route's validation), never looked up.
    if (!sessionIdRefSchema.safeParse(sessionId).success) return;
    // A JSON body announced over the route's limit is refused here (413), as the owner would: forwarding
    // it would only have the owner cut the upload off, which the forwarder could not tell from a failure.
    if (overJsonLimit(request)) return;
    const route = await cluster.route(sessionId).catch((error: unknown) => {
      request.log.warn({ err: errorMessage(error) }, "cluster: finding a session's node failed");
      return { kind: "local" as const };
    });
    if (route.kind === "local") return;
    if (route.kind === "unavailable") {
      reply.header("retry-after", String(Math.max(1, Math.ceil(route.retryAfterMs / 1000))));
      return sendError(
        reply,
        request,
        "NODE_UNAVAILABLE",
        `Session ${sessionId} runs on node ${route.nodeId}, which is not reachable now; retry (another node takes it over within the lease's expiry)`,
      );
    }
    request.forwardedTo = route.node.nodeId;
    return forward(request, reply, cluster, route.node);
  });
}

declare module "fastify" {
  interface FastifyRequest {
    /** Cluster mode: the node this request was forwarded to (which answers, audits and traces it). */
    forwardedTo?: string;
  }
}

/** True for a JSON request whose announced length is over its route's body limit. */
function overJsonLimit(request: FastifyRequest): boolean {
  const limit = request.routeOptions.bodyLimit;
  const declared = Number(request.headers["content-length"]);
  const json = /^application\/json\b/i.test(String(request.headers["content-type"] ?? ""));
  return json && limit !== undefined && Number.isFinite(declared) && declared > limit;
}

async function forward(
  request: FastifyRequest,
  reply: FastifyReply,
  cluster: Cluster,
  node: { nodeId: string; advertiseUrl: string },
): Promise<FastifyReply> {
  const controller = new AbortController();
  const onClose = () => {
    if (!reply.raw.writableFinished) controller.abort("client went away");
  };
  reply.raw.once("close", onClose);
  try {
    const answer = await forwardRequest({
      target: node,
      fromNodeId: cluster.nodeId,
      method: request.method,
      path: request.originalUrl,
      headers: request.headers,
      ...(WITHOUT_BODY.has(request.method) ? {} : { body: request.raw }),
      signal: controller.signal,
    });
    reply.hijack();
    reply.raw.writeHead(answer.status, answer.headers);
    answer.body.on("error", () => reply.raw.destroy());
    answer.body.pipe(reply.raw);
    return reply;
  } catch (error) {
    reply.raw.off("close", onClose);
    if (controller.signal.aborted) return reply;
    const { status } = errorReply(error);
    if (status >= 500)
      request.log.warn({ err: errorMessage(error), nodeId: node.nodeId }, "cluster: forwarding failed");
    throw error;
  }
}
