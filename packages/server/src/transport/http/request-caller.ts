import type { FastifyInstance, FastifyRequest } from "fastify";
import type { SessionScope } from "../../core/session-scope.js";
import { RuntimeError } from "../../errors.js";
import { type Caller, scopeOf } from "../api-keys.js";
import type { Resolution } from "../credentials.js";

declare module "fastify" {
  interface FastifyRequest {
    /** Who sent the request; set by the authentication hook on every route that is not public. */
    caller: Caller | null;
    /** What the request's bearer credential resolved to; set on every request before the rate limit. */
    credential: Resolution | null;
  }
}

/** Declares `request.caller` and `request.credential` (set by the authentication hooks). */
export function decorateCaller(app: FastifyInstance): void {
  app.decorateRequest("caller", null);
  app.decorateRequest("credential", null);
}

/**
 * The request's caller. Throws `UNAUTHORIZED` on a request the
 * authentication hook did not resolve (a route registered as public that
 * asks for its caller would be a bug, not an open door).
 */
export function requestCaller(request: FastifyRequest): Caller {
  if (!request.caller)
    throw new RuntimeError(
      "UNAUTHORIZED",
      "A valid API key or token is required (Authorization: Bearer <key or token>)",
    );
  return request.caller;
}

/**
 * The sessions the request's caller reaches (see `scopeOf`). Throws
 * `UNAUTHORIZED` on a request the authentication hook did not resolve (a
 * session route registered as public would be a bug, not an open door).
 */
export function sessionScope(request: FastifyRequest): SessionScope | undefined {
  return scopeOf(requestCaller(request));
}
