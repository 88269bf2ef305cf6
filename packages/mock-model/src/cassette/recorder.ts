import { isUtf8 } from "node:buffer";
import type { IncomingHttpHeaders, ServerResponse } from "node:http";
import type { FastifyInstance } from "fastify";
import { sendApiError } from "../http/api-errors.js";
import { preciseNow } from "../http/clock.js";
import { type RouteContext, recordRequest } from "../http/route-context.js";
import { CassetteWriter } from "./cassette-file.js";
import { normalizeRequest } from "./normalize-request.js";
import { acceptRawBodies } from "./raw-body.js";
import { redactText, secretsOf } from "./redact.js";
import type { ResponseBody } from "./schema.js";
import { SseEventParser } from "./sse-events.js";

export interface RecordOptions {
  /** Base URL requests are forwarded to; the request path is appended (`https://api.anthropic.com`, `https://openrouter.ai/api`). */
  upstream: string;
  /** The cassette file to write; replaced if it exists. Its directory must exist. */
  cassette: string;
}

/** Connection-level headers, and those `fetch` sets itself. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "expect",
  "host",
  "content-length",
  "accept-encoding",
  "content-encoding",
]);

/**
 * Record mode: every route (except `/_mock/…`) is forwarded to the upstream
 * with its method, headers (authentication included) and body unchanged,
 * except that the body is asked for uncompressed (`accept-encoding:
 * identity`). The answer is streamed back as it arrives, and once it is
 * complete an entry is added to the cassette. Requests the client abandons
 * or the upstream breaks off are not recorded; an unreachable upstream is
 * answered 502 in the route's error shape and not recorded.
 * Resolves once the (empty) cassette is written, so a bad path fails at start.
 */
export async function registerRecorder(
  app: FastifyInstance,
  context: RouteContext,
  options: RecordOptions,
): Promise<void> {
  const writer = new CassetteWriter(options.cassette);
  await writer.start();
  app.addHook("onClose", () => writer.flush());
  acceptRawBodies(app);
  const upstreamBase = options.upstream.replace(/\/+$/, "");
  const upstreamOrigin = new URL(options.upstream).origin;

  app.all("*", async (request, reply) => {
    const raw = request.body as Buffer | undefined;
    const secrets = secretsOf(request.headers, request.url);
    const normalized = normalizeRequest(request.method, request.url, raw, secrets);
    const position = writer.reserve();
    recordRequest(context, request, {
      ...normalized.log,
      source: "upstream",
      matched: `cassette #${position}`,
    });

    const abort = new AbortController();
    reply.raw.on("close", () => {
      if (!reply.raw.writableFinished) abort.abort();
    });
    const started = preciseNow();
    let upstream: Response;
    try {
      upstream = await fetch(`${upstreamBase}${request.url}`, {
        method: request.method,
        headers: forwardedHeaders(request.headers),
        body: raw && raw.length > 0 ? raw : undefined,
        redirect: "manual",
        signal: abort.signal,
      });
    } catch (error) {
      if (abort.signal.aborted) return reply.hijack();
      const message = `[mock-model] upstream ${upstreamOrigin} failed: ${(error as Error).message}`;
      context.logger.warn(`${request.method} ${request.url}: ${message}`);
      return sendApiError(reply, request.url, 502, message);
    }
    const latencyMs = preciseNow() - started;
    const contentType = upstream.headers.get("content-type") ?? undefined;

    reply.hijack();
    const out = reply.raw;
    out.writeHead(upstream.status, responseHeaders(upstream.headers));
    out.flushHeaders();
    const headersAt = preciseNow();
    const sse = contentType?.startsWith("text/event-stream") ? new SseEventParser() : undefined;
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of upstream.body ?? []) {
        const bytes = chunk as Uint8Array;
        if (sse) sse.push(bytes, preciseNow() - headersAt);
        else chunks.push(Buffer.from(bytes));
        if (!out.write(bytes)) await drained(out);
      }
    } catch (error) {
      if (!abort.signal.aborted)
        context.logger.warn(`${request.method} ${request.url}: ${(error as Error).message}`);
      out.destroy();
      return;
    }
    if (abort.signal.aborted) return;
    out.end();
    const body: ResponseBody = sse
      ? {
          type: "sse",
          events: sse
            .finish(preciseNow() - headersAt)
            .map((event) => ({ ...event, data: redactText(event.data, secrets) })),
        }
      : textOrBase64(Buffer.concat(chunks), secrets);
    writer.fill(position, {
      request: normalized.key,
      response: { status: upstream.status, contentType, latencyMs: Math.round(latencyMs * 10) / 10, body },
    });
  });
}

function forwardedHeaders(headers: IncomingHttpHeaders): Headers {
  const forwarded = new Headers();
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    for (const item of Array.isArray(value) ? value : [value]) forwarded.append(name, item);
  }
  forwarded.set("accept-encoding", "identity");
  return forwarded;
}

function responseHeaders(headers: Headers): Record<string, string | string[]> {
  const result: Record<string, string | string[]> = {};
  for (const [name, value] of headers) {
    if (!HOP_BY_HOP.has(name)) result[name] = name === "set-cookie" ? headers.getSetCookie() : value;
  }
  return result;
}

function textOrBase64(bytes: Buffer, secrets: readonly string[]): ResponseBody {
  if (isUtf8(bytes)) return { type: "text", text: redactText(bytes.toString("utf8"), secrets) };
  return { type: "base64", data: bytes.toString("base64") };
}

/** Resolves when the response can take more data, or when it closed. */
function drained(out: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      out.off("drain", done);
      out.off("close", done);
      resolve();
    };
    out.on("drain", done);
    out.on("close", done);
  });
}
