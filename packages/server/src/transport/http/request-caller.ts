import type { FastifyInstance, FastifyRequest } from "fastify";
import type { SessionScope } from "../../core/session-scope.js";
import { RuntimeError } from "../../errors.js";
import { type Caller, scopeOf } from "../api-keys.js";

declare module "fastify" {
  interface FastifyRequest {
    /** Who sent the request; set by the authentication hook on every route that is not public. */
    caller: Caller | null;
  }
}

/** Declares `request.caller` (set by the authentication hook). */
export function decorateCaller(app: FastifyInstance): void {
  app.decorateRequest("caller", null);
}

/**
 * The sessions the request's caller reaches (see `scopeOf`). Throws
 * `UNAUTHORIZED` on a request the authentication hook did not resolve (a
 * session route registered as public would be a bug, not an open door).
 */
export function sessionScope(request: FastifyRequest): SessionScope | undefined {
  if (!request.caller)
    throw new RuntimeError("UNAUTHORIZED", "A valid API key is required (Authorization: Bearer <key>)");
  return scopeOf(request.caller);
}
