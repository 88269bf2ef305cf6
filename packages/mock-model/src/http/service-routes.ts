import type { FastifyInstance } from "fastify";
import { sendAnthropicError } from "./api-errors.js";
import { NO_MODEL_CALL, type RouteContext, recordRequest } from "./route-context.js";

/** A fixed date for model listings, so answers are deterministic. */
const MODELS_CREATED_AT = "2025-01-01T00:00:00Z";

/**
 * Registers the routes around the model calls: the model list (one body
 * that parses as both Anthropic's and OpenAI's shape), Claude Code's
 * connectivity check (`/api/hello`) and the not-found handler, which logs and answers in Anthropic's error shape.
 */
export function registerServiceRoutes(app: FastifyInstance, context: RouteContext, models: string[]): void {
  const model = (id: string) => ({
    id,
    type: "model",
    object: "model",
    display_name: id,
    created_at: MODELS_CREATED_AT,
    created: Date.parse(MODELS_CREATED_AT) / 1000,
    owned_by: "mock-model",
  });

  app.get("/v1/models", async (request) => {
    recordRequest(context, request, { api: "other", ...NO_MODEL_CALL });
    return {
      object: "list",
      data: models.map(model),
      has_more: false,
      first_id: models[0] ?? null,
      last_id: models.at(-1) ?? null,
    };
  });

  app.get<{ Params: { id: string } }>("/v1/models/:id", async (request) => {
    recordRequest(context, request, { api: "other", ...NO_MODEL_CALL });
    return model(request.params.id);
  });

  app.get("/api/hello", async (request) => {
    recordRequest(context, request, { api: "other", ...NO_MODEL_CALL });
    return { message: "hello from the mock model" };
  });

  app.setNotFoundHandler(async (request, reply) => {
    recordRequest(context, request, { api: "other", ...NO_MODEL_CALL });
    context.logger.warn(`unknown route: ${request.method} ${request.url}`);
    return sendAnthropicError(reply, 404, `The mock model does not serve ${request.method} ${request.url}`);
  });
}

/**
 * Registers the inspection routes: `GET /_mock/requests` (the request log)
 * and `DELETE /_mock/requests`; without `enabled`, every `/_mock/…` route
 * answers 404 (and is never forwarded or replayed).
 */
export function registerInspectionRoutes(
  app: FastifyInstance,
  context: RouteContext,
  enabled: boolean,
): void {
  if (!enabled) {
    app.all("/_mock/*", async (request, reply) =>
      sendAnthropicError(reply, 404, `The mock model does not serve ${request.method} ${request.url}`),
    );
    return;
  }
  app.get("/_mock/requests", async () => ({ requests: context.log.entries }));
  app.delete("/_mock/requests", async (_request, reply) => {
    context.log.clear();
    return reply.status(204).send();
  });
}
