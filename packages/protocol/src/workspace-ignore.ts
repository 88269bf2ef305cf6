/** What a profile leaves untracked unless it says otherwise (`AgentProfile.untrackedPaths`). */
export const DEFAULT_UNTRACKED_PATHS: readonly string[] = [".git", "node_modules"];

/** Workspace folders never tracked, whatever the configuration says: the agent's runtime-owned settings. */
export const ALWAYS_IGNORED: readonly string[] = [".claude"];

/**
 * True when the workspace-relative, `/`-separated `path` is not tracked:
 * each entry of `ignore` (and of `ALWAYS_IGNORED`) ignores itself and
 * everything below it. The runner's watcher and the server's re-scan of a
 * kept workspace both decide with this.
 */
export function isIgnoredWorkspacePath(path: string, ignore: readonly string[]): boolean {
  return [...ignore, ...ALWAYS_IGNORED]
    .map((entry) => entry.replace(/^\.?\/+|\/+$/g, ""))
    .some((entry) => entry !== "" && (path === entry || path.startsWith(`${entry}/`)));
}
