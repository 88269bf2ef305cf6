import { posix } from "node:path";
import { RuntimeError } from "../errors.js";

/** Longest accepted workspace-relative path. */
export const MAX_WORKSPACE_PATH_LENGTH = 1024;

/**
 * Validates a workspace-relative path from untrusted input and returns the
 * absolute sandbox path under `workspaceDir`. Throws `INVALID_PATH` for empty,
 * absolute, NUL-containing, over-long paths and any `..` segment, so no
 * caller ever reaches outside the workspace by name. (Symlinks are the
 * sandbox provider's concern.)
 */
export function resolveWorkspacePath(workspaceDir: string, relativePath: string): string {
  if (relativePath.length === 0 || relativePath.length > MAX_WORKSPACE_PATH_LENGTH) {
    throw new RuntimeError("INVALID_PATH", "Path is empty or too long");
  }
  if (relativePath.includes("\0") || relativePath.includes("\\")) {
    throw new RuntimeError("INVALID_PATH", "Path contains forbidden characters");
  }
  if (relativePath.startsWith("/"))
    throw new RuntimeError("INVALID_PATH", "Path must be relative to the workspace");
  const segments = relativePath.split("/");
  if (segments.some((segment) => segment === "..")) {
    throw new RuntimeError("INVALID_PATH", "Path must not contain '..'");
  }
  const normalized = posix.normalize(relativePath);
  if (normalized === "." || normalized.startsWith("../")) {
    throw new RuntimeError("INVALID_PATH", "Path must name a file inside the workspace");
  }
  return posix.join(workspaceDir, normalized);
}
