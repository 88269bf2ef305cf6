import { RuntimeError } from "../../errors.js";

/** One path segment of a prefix: unreserved URL characters only (nothing to encode, nothing to resolve). */
const SEGMENT = /^[A-Za-z0-9._~-]+$/;

/**
 * The route prefix `basePath` names, as the server uses it: `""` for none
 * (`undefined`, `""` or `"/"`), else `/segment[/segment…]` without a
 * trailing slash (`"/api/"` is `"/api"`). Throws `VALIDATION_FAILED` for
 * anything else: no leading slash, an empty, `.` or `..` segment, or a
 * character outside letters, digits, `.`, `_`, `~` and `-`.
 */
export function normalizeBasePath(basePath: string | undefined): string {
  if (basePath === undefined) return "";
  const trimmed = basePath.replace(/\/+$/, "");
  if (trimmed === "") {
    if (basePath === "" || basePath === "/") return "";
  } else if (trimmed.startsWith("/")) {
    const segments = trimmed.slice(1).split("/");
    if (segments.every((segment) => SEGMENT.test(segment) && segment !== "." && segment !== ".."))
      return trimmed;
  }
  throw new RuntimeError(
    "VALIDATION_FAILED",
    `${JSON.stringify(basePath)} is not a route prefix: write "/" and path segments of letters, digits, ".", "_", "~" or "-" (e.g. "/api")`,
  );
}

/**
 * The path a request for `url` has inside the prefix (`/api/sessions?x` →
 * `/sessions?x`, `/api` → `/`), or undefined when `url` is outside it
 * (`/sessions`, `/apix`). With no prefix, `url` itself.
 */
export function pathInsideBasePath(basePath: string, url: string): string | undefined {
  if (basePath === "") return url;
  if (!url.startsWith(basePath)) return undefined;
  const rest = url.slice(basePath.length);
  if (rest === "") return "/";
  if (rest.startsWith("/")) return rest;
  if (rest.startsWith("?")) return `/${rest}`;
  return undefined;
}

/**
 * Fastify's `rewriteUrl` for a prefix: a request inside it is routed by its
 * path inside it (the routes are declared without the prefix); one outside
 * keeps its URL, and `refuseOutsideBasePath` answers it `404`.
 */
export function basePathRewriter(basePath: string): (request: { url?: string }) => string {
  return (request) => {
    const url = request.url ?? "/";
    return pathInsideBasePath(basePath, url) ?? url;
  };
}

/** True when a request, by its URL as sent (`request.originalUrl`), is outside the prefix. */
export function isOutsideBasePath(basePath: string, originalUrl: string): boolean {
  return pathInsideBasePath(basePath, originalUrl) === undefined;
}
