import type { AddressInfo } from "node:net";
import Fastify, { type FastifyError, type FastifyRequest } from "fastify";
import { z } from "zod";
import { registerAnthropicRoutes } from "./anthropic/routes.js";
import { loadCassette } from "./cassette/cassette-file.js";
import { type ReplayPacing, registerPlayer } from "./cassette/player.js";
import { type RecordOptions, registerRecorder } from "./cassette/recorder.js";
import { MockModelError } from "./errors.js";
import { registerGeminiRoutes } from "./gemini/routes.js";
import { sendApiError } from "./http/api-errors.js";
import { preciseNow } from "./http/clock.js";
import type { MockModelHooks } from "./http/hooks.js";
import type { RecordedRequest } from "./http/request-log.js";
import { RequestLog } from "./http/request-log.js";
import type { MockModelLogger, RouteContext } from "./http/route-context.js";
import { registerInspectionRoutes, registerServiceRoutes } from "./http/service-routes.js";
import { registerOpenAiRoutes } from "./openai/routes.js";
import { registerOpenAiResponsesRoutes } from "./openai-responses/routes.js";
import { parseScript } from "./script/parse-script.js";
import { createResponder } from "./script/responder.js";
import type { Script, ScriptInput } from "./script/schema.js";

export interface MockModelOptions extends MockModelHooks {
  /** The rules to answer with (object or parsed JSON). @default no rules: every request gets the fallback (or demo) answer */
  script?: ScriptInput | Script;
  /** TCP port; 0 picks a free one. @default 0 */
  port?: number;
  /** Interface to listen on. @default "127.0.0.1" */
  host?: string;
  /** Adds the built-in demo behaviours after the script's rules. @default false */
  demo?: boolean;
  /** Model ids listed by `GET /v1/models` (any model name is accepted in requests). @default DEFAULT_MODELS */
  models?: string[];
  /** How many requests the log keeps (oldest dropped first). @default 1000 */
  maxRecordedRequests?: number;
  /**
   * Serves the request log over HTTP (`GET`/`DELETE /_mock/requests`). Turn it
   * off when untrusted clients share the server (the log holds every
   * client's prompts); `requests` still works in-process. @default true
   */
  inspection?: boolean;
  /** Receives one line per answered model call and per unknown route. @default silent */
  logger?: MockModelLogger;
  /**
   * Record mode: forward every request to `upstream` and write what it answers to the `cassette` file
   * (see `registerRecorder`). Excludes `script`, `demo` and `replay`. @default off
   */
  record?: RecordOptions;
  /**
   * Replay mode: answer every request from a cassette file written by record mode, given as its path or as
   * `{cassette, pacing}` (see `registerPlayer`). Excludes `script`, `demo` and `record`. @default off
   */
  replay?: string | ReplayOptions;
}

export interface ReplayOptions {
  /** The cassette file. */
  cassette: string;
  /** `original` waits the recorded latency and gaps between streamed events. @default "fast" */
  pacing?: ReplayPacing;
}

/** A running mock model server. */
export interface MockModel {
  /** Base URL, e.g. `http://127.0.0.1:4100`; use it as `ANTHROPIC_BASE_URL` (or with `/v1` as an OpenAI base URL). */
  readonly url: string;
  readonly port: number;
  /** The recorded requests, oldest first; a live view that grows as requests arrive. */
  readonly requests: readonly RecordedRequest[];
  /** Empties `requests`. */
  clearRequests(): void;
  /** Stops listening and closes connections; resolves when the server is down. Idempotent. */
  close(): Promise<void>;
}

export const DEFAULT_MODELS = ["claude-sonnet-4-5", "claude-opus-4-5", "claude-haiku-4-5", "mock-model"];

const plainOptionsSchema = z.object({
  port: z.number().int().min(0).max(65535).default(0),
  host: z.string().min(1).default("127.0.0.1"),
  demo: z.boolean().default(false),
  models: z.array(z.string().min(1)).min(1).default(DEFAULT_MODELS),
  maxRecordedRequests: z.number().int().positive().default(1000),
  inspection: z.boolean().default(true),
  record: z
    .strictObject({
      upstream: z.url({ protocol: /^https?$/, error: "expected an http(s) URL" }),
      cassette: z.string().min(1),
    })
    .optional(),
  replay: z
    .union([
      z
        .string()
        .min(1)
        .transform((cassette) => ({ cassette, pacing: "fast" as const })),
      z.strictObject({ cassette: z.string().min(1), pacing: z.enum(["original", "fast"]).default("fast") }),
    ])
    .optional(),
});

const SILENT: MockModelLogger = { info: () => {}, warn: () => {} };

/** Bodies can be large: Claude Code sends its full tool list and the whole conversation on every call. */
const BODY_LIMIT_BYTES = 64 * 1024 * 1024;

/**
 * Starts a mock model server and resolves once it listens.
 * @throws MockModelError `invalid_script` / `invalid_options` for bad options, `invalid_cassette` for a replay
 *   cassette that is missing or invalid; cassette write errors in record mode and listen errors (e.g. EADDRINUSE)
 *   as they are.
 */
export async function startMockModel(options: MockModelOptions = {}): Promise<MockModel> {
  const plain = plainOptionsSchema.safeParse(options);
  if (!plain.success) throw new MockModelError("invalid_options", z.prettifyError(plain.error));
  const { port, host, demo, models, maxRecordedRequests, inspection, record, replay } = plain.data;
  const modes = [
    options.script !== undefined || demo ? "script/demo" : "",
    record ? "record" : "",
    replay ? "replay" : "",
  ];
  if (modes.filter(Boolean).length > 1)
    throw new MockModelError("invalid_options", `choose one of ${modes.filter(Boolean).join(", ")}`);
  const script = parseScript(options.script ?? { rules: [] });
  const cassette = replay ? await loadCassette(replay.cassette) : undefined;

  const log = new RequestLog(maxRecordedRequests);
  const context: RouteContext = {
    responder: createResponder(script, { demo }),
    log,
    hooks: { onRequest: options.onRequest, onChunk: options.onChunk },
    logger: options.logger ?? SILENT,
    arrivals: new WeakMap<FastifyRequest, number>(),
    held: new Set(),
  };

  const app = Fastify({ bodyLimit: BODY_LIMIT_BYTES, logger: false });
  app.addHook("onRequest", async (request) => {
    context.arrivals.set(request, preciseNow());
  });
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) context.logger.warn(`error on ${request.method} ${request.url}: ${error.message}`);
    return sendApiError(reply, request.url, status, error.message);
  });
  // A stalled stream would keep `close()` waiting for its client.
  app.addHook("preClose", async () => {
    for (const response of context.held) response.destroy();
  });
  registerInspectionRoutes(app, context, inspection);
  if (record) {
    await registerRecorder(app, context, record);
  } else if (replay && cassette) {
    registerPlayer(app, context, { cassette, path: replay.cassette, pacing: replay.pacing });
  } else {
    registerAnthropicRoutes(app, context);
    registerOpenAiRoutes(app, context);
    registerOpenAiResponsesRoutes(app, context);
    registerGeminiRoutes(app, context);
    registerServiceRoutes(app, context, models);
  }

  await app.listen({ port, host });
  const actualPort = (app.server.address() as AddressInfo).port;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${actualPort}`,
    port: actualPort,
    requests: log.entries,
    clearRequests: () => log.clear(),
    close: () => {
      closing ??= app.close();
      return closing;
    },
  };
}
