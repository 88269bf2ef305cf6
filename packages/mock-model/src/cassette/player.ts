import { setTimeout as sleep } from "node:timers/promises";
import type { FastifyInstance, FastifyReply } from "fastify";
import { sendApiError } from "../http/api-errors.js";
import { type RouteContext, recordRequest } from "../http/route-context.js";
import { CassetteMatcher } from "./cassette-matcher.js";
import { normalizeRequest } from "./normalize-request.js";
import { acceptRawBodies } from "./raw-body.js";
import { secretsOf } from "./redact.js";
import type { Cassette, CassetteResponse } from "./schema.js";
import { formatSseEvent } from "./sse-events.js";

/** `original`: wait the recorded latency and the recorded gaps between events; `fast`: no waiting. */
export type ReplayPacing = "original" | "fast";

/** The prefix of the error message a request gets when no cassette entry answers it. */
export const NO_CASSETTE_ENTRY = "[mock-model] No entry in cassette";

/**
 * Replay mode: every route (except `/_mock/…`) is answered from the
 * cassette (see `CassetteMatcher` for the order entries are tried in) with
 * the recorded status, content type and body; SSE bodies are written event
 * by event. A request nothing answers gets a 404 or 409 in the route's
 * error shape (OpenAI's for `/v1/chat/completions`, Anthropic's otherwise),
 * its message starting with `NO_CASSETTE_ENTRY` and naming the file.
 */
export function registerPlayer(
  app: FastifyInstance,
  context: RouteContext,
  options: { cassette: Cassette; path: string; pacing: ReplayPacing },
): void {
  acceptRawBodies(app);
  const matcher = new CassetteMatcher(options.cassette.entries);

  app.all("*", async (request, reply) => {
    const secrets = secretsOf(request.headers, request.url);
    const normalized = normalizeRequest(
      request.method,
      request.url,
      request.body as Buffer | undefined,
      secrets,
    );
    const match = matcher.take(normalized.key);
    if (!match.entry) {
      recordRequest(context, request, { ...normalized.log, source: undefined, matched: undefined });
      const message = `${NO_CASSETTE_ENTRY} ${options.path} matches ${request.method} ${request.url}: ${match.reason}`;
      context.logger.warn(message);
      return sendApiError(reply, request.url, match.status, message);
    }
    recordRequest(context, request, {
      ...normalized.log,
      source: "cassette",
      matched: `${match.kind} #${match.position}`,
    });
    await play(reply, match.entry.response, options.pacing);
  });
}

async function play(reply: FastifyReply, response: CassetteResponse, pacing: ReplayPacing): Promise<void> {
  const original = pacing === "original";
  if (original) await sleep(response.latencyMs);
  const { body } = response;
  if (body.type !== "sse") {
    if (response.contentType) reply.header("content-type", response.contentType);
    const payload = body.type === "text" ? body.text : Buffer.from(body.data, "base64");
    await reply.status(response.status).send(payload);
    return;
  }
  reply.hijack();
  const out = reply.raw;
  out.writeHead(response.status, {
    "content-type": response.contentType ?? "text/event-stream",
    "cache-control": "no-cache",
    connection: "keep-alive",
  });
  out.flushHeaders();
  const start = performance.now();
  for (const event of body.events) {
    const wait = original ? event.atMs - (performance.now() - start) : 0;
    if (wait > 0) await sleep(wait);
    if (out.destroyed) return;
    out.write(formatSseEvent(event));
  }
  out.end();
}
