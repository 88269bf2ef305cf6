import { lstat } from "node:fs/promises";
import { relative, sep } from "node:path";
import type { RunnerOutput } from "@agent-runtime/protocol";
import { type FSWatcher, watch } from "chokidar";

export type FileLine = Extract<RunnerOutput, { type: "file" }>;

export interface WorkspaceWatcherOptions {
  readonly workspaceDir: string;
  /** Workspace-relative paths ignored with everything below them. `.claude` is always ignored. */
  readonly ignore: readonly string[];
  readonly onFile: (line: FileLine) => void;
  readonly onError: (error: unknown) => void;
}

/** How long a file must stay unchanged before it is reported, so writes are reported once complete. */
const STABILITY_MS = 50;

/**
 * Reports workspace changes made after `ready` resolves (existing files are
 * not reported). Paths are workspace-relative and `/`-separated. A file is
 * reported once its size has been stable for a short while.
 */
export async function watchWorkspace(options: WorkspaceWatcherOptions): Promise<FSWatcher> {
  const ignored = [...options.ignore, ".claude"].map((p) => p.replace(/^\.?\/+|\/+$/g, "")).filter(Boolean);
  const toRelative = (path: string) => relative(options.workspaceDir, path).split(sep).join("/");
  const isIgnored = (path: string) => {
    const rel = toRelative(path);
    return ignored.some((p) => rel === p || rel.startsWith(`${p}/`));
  };
  const watcher = watch(options.workspaceDir, {
    ignoreInitial: true,
    ignored: isIgnored,
    // A link to `/` must not make the watcher crawl (and index) the whole filesystem.
    followSymlinks: false,
    awaitWriteFinish: { stabilityThreshold: STABILITY_MS, pollInterval: 10 },
  });
  const report = (event: FileLine["event"]) => (path: string) => {
    void describe(event, path).then(options.onFile, options.onError);
  };
  const describe = async (event: FileLine["event"], path: string): Promise<FileLine> => {
    const line: FileLine = { type: "file", event, path: toRelative(path) };
    if (event === "deleted") return line;
    try {
      // lstat: a symlink is indexed as the link itself, never as what it points at.
      const info = await lstat(path);
      return { ...line, size: info.size, modifiedAt: info.mtime.toISOString() };
    } catch {
      return line;
    }
  };
  watcher.on("add", report("created"));
  watcher.on("change", report("modified"));
  watcher.on("unlink", report("deleted"));
  watcher.on("error", options.onError);
  await new Promise<void>((resolve) => watcher.once("ready", () => resolve()));
  return watcher;
}
