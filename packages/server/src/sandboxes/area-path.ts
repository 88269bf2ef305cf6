import { confinedSegments, invalidPath } from "../confined-path.js";

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

/**
 * Validates an absolute sandbox path, for every provider: it must start
 * with `<workspaceDir>/` or `<homeDir>/` (checked in that order) and the rest
 * must pass `confinedSegments` (no `..`, NUL or empty remainder,
 * bounded length). Throws `INVALID_PATH` otherwise. It does not look inside
 * the sandbox: symlinks are dealt with where files are accessed.
 */
export function resolveAreaPath(areas: SandboxAreas, path: string): AreaPath {
  if (typeof path !== "string" || !path.startsWith("/")) throw invalidPath(path, "is not absolute");
  for (const root of [areas.workspaceDir, areas.homeDir]) {
    if (path.startsWith(`${root}/`)) {
      const segments = confinedSegments(path.slice(root.length + 1));
      return { path: `${root}/${segments.join("/")}`, root, segments };
    }
  }
  throw invalidPath(path, `is not below ${areas.workspaceDir} or ${areas.homeDir}`);
}
