import { RuntimeError } from "../errors.js";

/** The two folders of a sandbox the agent may write, as absolute paths inside it. */
export interface SandboxAreas {
  readonly workspaceDir: string;
  readonly homeDir: string;
}

/** A validated path strictly below one of the areas. */
export interface AreaPath {
  /** Normalised absolute path (no empty, `.` or `..` segments). */
  readonly path: string;
  /** The area folder it is below. */
  readonly root: string;
  /** Segments below `root`, never empty. */
  readonly segments: readonly string[];
}

const MAX_PATH_LENGTH = 4096;

/**
 * Validates an absolute sandbox path, for every provider. Throws
 * `INVALID_PATH` for relative paths, `.` or `..` segments, NUL bytes,
 * over-long paths and paths not strictly below the workspace or home folder.
 * It does not look inside the sandbox: symlinks are dealt with where files
 * are accessed.
 */
export function resolveAreaPath(areas: SandboxAreas, path: string): AreaPath {
  if (
    typeof path !== "string" ||
    !path.startsWith("/") ||
    path.length > MAX_PATH_LENGTH ||
    path.includes("\0")
  ) {
    throw invalidPath(path, "must be an absolute path");
  }
  const segments = path.split("/").filter((segment) => segment !== "");
  if (segments.some((segment) => segment === "." || segment === "..")) {
    throw invalidPath(path, "must not contain '.' or '..' segments");
  }
  const normalized = `/${segments.join("/")}`;
  for (const root of [areas.workspaceDir, areas.homeDir]) {
    if (normalized.startsWith(`${root}/`)) {
      return { path: normalized, root, segments: normalized.slice(root.length + 1).split("/") };
    }
  }
  throw invalidPath(path, `must be below ${areas.workspaceDir} or ${areas.homeDir}`);
}

export function invalidPath(path: unknown, reason: string): RuntimeError {
  return new RuntimeError("INVALID_PATH", `Invalid sandbox path ${JSON.stringify(path)}: ${reason}`);
}
