import type { WorkspaceFile } from "@agent-runtime/protocol";
import { minimatch } from "minimatch";

/** Which workspace files to keep; a file must pass every part given. */
export interface WorkspaceFileFilter {
  /**
   * Glob patterns on the workspace-relative path (`*`, `**`, `?`, `[…]`,
   * `{a,b}`; dot files match); a file passes when one matches. `*.md`
   * matches top-level files only: `**\/*.md` matches at any depth.
   */
  readonly glob?: string | readonly string[];
  /** Extensions, with or without the dot, any case (`"ts"`, `".d.ts"`); a file passes when it has one. */
  readonly extensions?: readonly string[];
}

/** A predicate on workspace-relative paths for `filter`. */
function workspaceFileMatcher(filter: WorkspaceFileFilter): (path: string) => boolean {
  const globs =
    filter.glob === undefined ? undefined : typeof filter.glob === "string" ? [filter.glob] : filter.glob;
  const extensions = filter.extensions?.map((e) => `.${e.replace(/^\./, "").toLowerCase()}`);
  return (path) => {
    if (globs && !globs.some((glob) => minimatch(path, glob, { dot: true, platform: "linux" }))) return false;
    if (extensions) {
      const name = path.slice(path.lastIndexOf("/") + 1).toLowerCase();
      if (!extensions.some((e) => name.length > e.length && name.endsWith(e))) return false;
    }
    return true;
  };
}

/** The files that pass `filter`, in order; `files` itself when there is nothing to filter by. */
export function filterWorkspaceFiles(
  files: readonly WorkspaceFile[],
  filter: WorkspaceFileFilter | undefined,
): readonly WorkspaceFile[] {
  if (!filter || (filter.glob === undefined && filter.extensions === undefined)) return files;
  const matches = workspaceFileMatcher(filter);
  return files.filter((file) => matches(file.path));
}
