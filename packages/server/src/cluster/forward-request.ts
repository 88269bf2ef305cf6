import { request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Readable } from "node:stream";
import { z } from "zod";
import { errorMessage } from "../errors.js";
import { validateInput } from "../profiles/validate-input.js";
import { ClusterError } from "./cluster-error.js";
import { nodeIdSchema } from "./cluster-ids.js";
import { advertiseUrlSchema, type ClusterNode } from "./node-registry.js";

/**
 * Names the node that forwarded a request. The owner answers a request that
 * carries it itself (or with an error); it never forwards it again, so a
 * session that moves while a request is in flight cannot make it loop.
 */
export const FORWARDED_BY_HEADER = "x-agent-runtime-forwarded-by";

/** Headers of one connection, not of the request (RFC 9110 §7.6.1), and the ones the forwarder sets itself. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
]);

const optionsSchema = z.object({
  target: z.object({ nodeId: nodeIdSchema, advertiseUrl: advertiseUrlSchema }),
  fromNodeId: nodeIdSchema,
  method: z.string().regex(/^[A-Z]{1,16}$/, "an upper-case HTTP method"),
  // Origin-form only: a path that starts with one "/", printable ASCII, bounded.
  path: z
    .string()
    .max(8_192)
    .regex(/^\/(?!\/)[\x21-\x7e]*$/, "a path starting with a single '/', printable ASCII only"),
  timeoutMs: z.number().int().min(1).max(600_000).default(10_000),
  idleTimeoutMs: z.number().int().min(1).max(3_600_000).default(60_000),
});

export interface ForwardRequestOptions {
  /** The owner node, as the registry lists it. */
  target: ClusterNode;
  /** This node's id, sent in `FORWARDED_BY_HEADER`. */
  fromNodeId: string;
  /** e.g. `POST`. */
  method: string;
  /** The request's path and query as the client sent them (origin-form, e.g. `/sessions/abc/messages?x=1`); appended to the target's base path. */
  path: string;
  /**
   * The client's headers, credentials included: the owner authenticates and
   * authorises the request again. Hop-by-hop headers are dropped.
   */
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The request body: bytes, or a stream piped to the owner as it comes. */
  body?: Uint8Array | Readable;
  /** Longest wait for the owner's status line and headers. @default 10_000 */
  timeoutMs?: number;
  /** Longest pause in the owner's answer body before it is cut off. @default 60_000 */
  idleTimeoutMs?: number;
  /** Aborts the forwarded request (the client went away); the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** The owner's answer, whatever its status: the caller relays it to the client. */
export interface ForwardedResponse {
  readonly status: number;
  /** Without hop-by-hop headers. */
  readonly headers: IncomingHttpHeaders;
  /**
   * The answer body as it arrives. Errors with `NODE_TIMEOUT` when the owner
   * pauses longer than `idleTimeoutMs`; the caller must consume or destroy it.
   */
  readonly body: Readable;
}

/**
 * Forwards one HTTP request to the node that owns its session and resolves
 * with the owner's answer once its headers arrive. Rejects with
 * `NODE_UNAVAILABLE` (503) when the owner cannot be reached, drops the
 * connection before answering, or the request was forwarded once already;
 * with `NODE_TIMEOUT` (504) when no answer starts within `timeoutMs`; with
 * `VALIDATION_FAILED` on malformed options (nothing is sent). A client
 * retries either cluster error: by then the session may have a new owner.
 */
export async function forwardRequest(options: ForwardRequestOptions): Promise<ForwardedResponse> {
  const { target, fromNodeId, method, path, timeoutMs, idleTimeoutMs } = validateInput(
    optionsSchema,
    options,
    "forwarded request",
  );
  const forwardedBy = options.headers[FORWARDED_BY_HEADER];
  if (forwardedBy !== undefined) {
    throw new ClusterError(
      "NODE_UNAVAILABLE",
      `the request was forwarded by node ${String(forwardedBy)} to a node that does not own its session any more; retry`,
    );
  }
  const base = new URL(target.advertiseUrl);
  const url = new URL(`${base.pathname.replace(/\/+$/, "")}${path}`, base.origin);
  const headers = forwardedHeaders(options.headers, options.body);
  headers[FORWARDED_BY_HEADER] = fromNodeId;
  const unavailable = (cause: unknown) =>
    new ClusterError(
      "NODE_UNAVAILABLE",
      `the session's owner node ${target.nodeId} could not be reached: ${errorMessage(cause)}`,
      { cause, details: { nodeId: target.nodeId } },
    );

  return new Promise<ForwardedResponse>((resolve, reject) => {
    const { signal } = options;
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const request = (url.protocol === "https:" ? httpsRequest : httpRequest)(url, { method, headers });
    let answered = false;
    const onAbort = () =>
      request.destroy(signal?.reason instanceof Error ? signal.reason : new Error("aborted"));
    signal?.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(() => {
      request.destroy(
        new ClusterError(
          "NODE_TIMEOUT",
          `the session's owner node ${target.nodeId} did not answer within ${timeoutMs} ms`,
          { details: { nodeId: target.nodeId } },
        ),
      );
    }, timeoutMs);

    request.on("response", (response) => {
      answered = true;
      clearTimeout(timer);
      response.setTimeout(idleTimeoutMs, () => {
        response.destroy(
          new ClusterError(
            "NODE_TIMEOUT",
            `the answer of owner node ${target.nodeId} paused for more than ${idleTimeoutMs} ms`,
          ),
        );
      });
      response.on("close", () => signal?.removeEventListener("abort", onAbort));
      const answerHeaders: IncomingHttpHeaders = {};
      const dropped = connectionHeaders(response.headers.connection);
      for (const [name, value] of Object.entries(response.headers)) {
        if (!HOP_BY_HOP.has(name) && !dropped.has(name)) answerHeaders[name] = value;
      }
      resolve({ status: response.statusCode ?? 502, headers: answerHeaders, body: response });
    });
    request.on("error", (error) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (answered) return;
      if (signal?.aborted) reject(signal.reason);
      else if (ClusterError.is(error)) reject(error);
      else reject(unavailable(error));
    });

    const { body } = options;
    if (body === undefined) {
      request.end();
    } else if (body instanceof Uint8Array) {
      request.end(body);
    } else {
      body.on("error", (error) => request.destroy(error));
      body.pipe(request);
    }
  });
}

function forwardedHeaders(
  incoming: ForwardRequestOptions["headers"],
  body: ForwardRequestOptions["body"],
): OutgoingHttpHeaders {
  const dropped = connectionHeaders(incoming.connection);
  const headers: OutgoingHttpHeaders = {};
  for (const [rawName, value] of Object.entries(incoming)) {
    const name = rawName.toLowerCase();
    if (value === undefined || HOP_BY_HOP.has(name) || dropped.has(name)) continue;
    headers[name] = typeof value === "string" ? value : [...value];
  }
  if (body instanceof Uint8Array) headers["content-length"] = String(body.byteLength);
  // A length announced for a body that is not sent would make the owner read the next request on
  // the same kept-alive connection as that body: requests and answers between the nodes would fall
  // out of step (a client's GET with a Content-Length is enough).
  else if (body === undefined) delete headers["content-length"];
  return headers;
}

/** The headers a `Connection` header names as hop-by-hop. */
function connectionHeaders(value: string | readonly string[] | undefined): Set<string> {
  const list = typeof value === "string" ? value : (value ?? []).join(",");
  return new Set(
    list
      .split(",")
      .map((name) => name.trim().toLowerCase())
      .filter(Boolean),
  );
}
