import { posix, sep } from "node:path";
import { RuntimeError } from "./errors.js";

/** Longest accepted relative path, in UTF-8 bytes (Linux's PATH_MAX; the runner protocol's limit too). */
export const MAX_RELATIVE_PATH_BYTES = 4096;

/** Longest accepted single path segment, in UTF-8 bytes (Linux's NAME_MAX). */
export const MAX_SEGMENT_BYTES = 255;

/** Longest path quoted in an `INVALID_PATH` message, so an error never echoes a huge input. */
const MAX_QUOTED_LENGTH = 200;

const utf8 = new TextEncoder();

/**
 * The one rule for "a relative path confined to a root", applied to every
 * path that comes from a client, a profile or a sandbox before the runtime
 * names a file with it. Returns the canonical segments (no empty or `.`
 * segments, never none). Throws `INVALID_PATH` when `relativePath` is not a
 * string, is empty or names the root itself, is longer than
 * `MAX_RELATIVE_PATH_BYTES`, has a segment longer than `MAX_SEGMENT_BYTES`,
 * contains NUL, is absolute, or has any `..` segment (even one that would
 * stay inside). Every other name Linux accepts is a name (a backslash is an
 * ordinary character). Names only: symlinks are the sandbox provider's
 * concern.
 */
export function confinedSegments(relativePath: string): string[] {
  if (typeof relativePath !== "string") throw invalidPath(relativePath, "is not a string");
  if (
    relativePath.length > MAX_RELATIVE_PATH_BYTES ||
    utf8.encode(relativePath).byteLength > MAX_RELATIVE_PATH_BYTES
  )
    throw invalidPath(relativePath, `is longer than ${MAX_RELATIVE_PATH_BYTES} bytes`);
  if (relativePath.includes("\0")) throw invalidPath(relativePath, "contains NUL");
  if (relativePath.startsWith("/")) throw invalidPath(relativePath, "is absolute");
  const segments = relativePath.split("/").filter((segment) => segment !== "" && segment !== ".");
  if (segments.some((segment) => segment === "..")) throw invalidPath(relativePath, "leaves its folder");
  if (segments.length === 0) throw invalidPath(relativePath, "names no file below its folder");
  if (segments.some((segment) => utf8.encode(segment).byteLength > MAX_SEGMENT_BYTES))
    throw invalidPath(relativePath, `has a segment longer than ${MAX_SEGMENT_BYTES} bytes`);
  return segments;
}

/**
 * The absolute path of `relativePath` below `root` (a `/`-separated absolute
 * folder), normalised. Throws `INVALID_PATH` as `confinedSegments` does.
 */
export function resolveConfinedPath(root: string, relativePath: string): string {
  return posix.join(root, ...confinedSegments(relativePath));
}

/** The `INVALID_PATH` error for `path` (quoted, shortened when long) with the rule it breaks. */
export function invalidPath(path: unknown, reason: string): RuntimeError {
  const quoted = JSON.stringify(path) ?? String(path);
  const shown = quoted.length > MAX_QUOTED_LENGTH ? `${quoted.slice(0, MAX_QUOTED_LENGTH)}…` : quoted;
  return new RuntimeError("INVALID_PATH", `Invalid path ${shown}: ${reason}`);
}

/**
 * The first folder of the workspace-relative `path` that is one of `links`
 * (paths of symbolic links), if any: such a path is reached through a link,
 * so the runtime never writes, restores or archives it as a file.
 */
export function linkAbove(path: string, links: ReadonlySet<string>): string | undefined {
  if (links.size === 0) return undefined;
  const segments = path.split("/");
  for (let end = 1; end < segments.length; end++) {
    const folder = segments.slice(0, end).join("/");
    if (links.has(folder)) return folder;
  }
  return undefined;
}

/** True when `path` is `parent` or below it (both absolute and resolved; real host paths where links matter). */
export function isWithin(parent: string, path: string): boolean {
  return path === parent || path.startsWith(parent.endsWith(sep) ? parent : parent + sep);
}
