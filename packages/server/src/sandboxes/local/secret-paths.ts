import type { SandboxSecret } from "../sandbox-provider.js";

/** An absolute path of non-empty segments without `%` or `\`, none of them `.` or `..`. */
const PLAIN_PATH = /^(?:\/[A-Za-z0-9\-._~!$&'()*+,;=:@]+)+$/;

/** Whether `path` is a plain absolute path (see `SandboxSecret.paths`). */
export function isPlainPath(path: string): boolean {
  return PLAIN_PATH.test(path) && !path.split("/").some((segment) => segment === "." || segment === "..");
}

/**
 * The secrets of an endpoint that cover the request target `target` (its
 * path before the query is, or is below, one of a secret's `paths`; a secret
 * without `paths` covers every target). Empty when none does: the request
 * must not be forwarded. A target that is not a plain absolute path (an
 * absolute URL, `*`, dot segments, percent-encoding) is covered only by
 * secrets without `paths`.
 */
export function secretsCovering(secrets: readonly SandboxSecret[], target: string): SandboxSecret[] {
  const path = target.split("?", 1)[0] ?? "";
  const plain = isPlainPath(path);
  return secrets.filter(
    (secret) =>
      secret.paths === undefined ||
      (plain && secret.paths.some((covered) => path === covered || path.startsWith(`${covered}/`))),
  );
}
