import type { SandboxSecret } from "../sandbox-provider.js";

/** An absolute path of non-empty segments without `%` or `\`, none of them `.` or `..`. */
const PLAIN_PATH = /^(?:\/[A-Za-z0-9\-._~!$&'()*+,;=:@]+)+$/;
/** `METHOD /path`: a method-qualified entry of `SandboxSecret.paths`. */
const METHOD_AND_PATH = /^([A-Z]+) (\/.*)$/;

/** Whether `path` is a plain absolute path. */
export function isPlainPath(path: string): boolean {
  return PLAIN_PATH.test(path) && !path.split("/").some((segment) => segment === "." || segment === "..");
}

/** Whether `entry` is a valid entry of `SandboxSecret.paths`: a plain absolute path, or `METHOD /plain/path`. */
export function isSecretPath(entry: string): boolean {
  const qualified = METHOD_AND_PATH.exec(entry);
  return isPlainPath(qualified ? qualified[2]! : entry);
}

/** Whether the entry `covered` of `SandboxSecret.paths` covers a `method` request to the plain `path`. */
function covers(covered: string, method: string, path: string): boolean {
  const qualified = METHOD_AND_PATH.exec(covered);
  if (qualified) return qualified[1] === method && qualified[2] === path;
  return path === covered || path.startsWith(`${covered}/`);
}

/**
 * The secrets of an endpoint that cover a `method` request to `target` (see
 * `SandboxSecret.paths`; a secret without `paths` covers every request).
 * Empty when none does: the request must not be forwarded. A target that is
 * not a plain absolute path (an absolute URL, `*`, dot segments,
 * percent-encoding) is covered only by secrets without `paths`.
 */
export function secretsCovering(
  secrets: readonly SandboxSecret[],
  method: string,
  target: string,
): SandboxSecret[] {
  const path = target.split("?", 1)[0] ?? "";
  const plain = isPlainPath(path);
  return secrets.filter(
    (secret) =>
      secret.paths === undefined || (plain && secret.paths.some((covered) => covers(covered, method, path))),
  );
}
