import type { Stats } from "node:fs";
import { lstat } from "node:fs/promises";
import { relative, sep } from "node:path";
import { isIgnoredWorkspacePath, type RunnerOutput } from "@agent-runtime/protocol";
import { type FSWatcher, watch } from "chokidar";

export type FileLine = Extract<RunnerOutput, { type: "file" }>;

export interface WorkspaceWatcherOptions {
  readonly workspaceDir: string;
  /** Workspace-relative paths ignored with everything below them (see `isIgnoredWorkspacePath`). */
  readonly ignore: readonly string[];
  readonly onFile: (line: FileLine) => void;
  /** A watcher error, or a file left unreported because it is not a regular file (with the reason). */
  readonly onError: (error: unknown) => void;
}

/** How long a file must stay unchanged before it is reported, so writes are reported once complete. */
const STABILITY_MS = 50;

/**
 * Reports workspace changes made after `ready` resolves (existing files are
 * not reported). Paths are workspace-relative and `/`-separated, any name
 * Linux accepts. A file is reported once its size has been stable for a
 * short while. Regular files are reported; a symbolic link, FIFO, socket or
 * device is not (nothing of it is stored or restored), and `onError` says
 * so, naming it; a file replaced by a link is reported deleted.
 */
export async function watchWorkspace(options: WorkspaceWatcherOptions): Promise<FSWatcher> {
  const toRelative = (path: string) => relative(options.workspaceDir, path).split(sep).join("/");
  const isIgnored = (path: string) => {
    const rel = toRelative(path);
    return isIgnoredWorkspacePath(rel, options.ignore);
  };
  const watcher = watch(options.workspaceDir, {
    ignoreInitial: true,
    ignored: isIgnored,
    // A link to `/` must not make the watcher crawl (and index) the whole filesystem.
    followSymlinks: false,
    awaitWriteFinish: { stabilityThreshold: STABILITY_MS, pollInterval: 10 },
  });
  const report = (event: FileLine["event"]) => (path: string) => {
    void describe(event, path).then((line) => line && options.onFile(line), options.onError);
  };
  const describe = async (event: FileLine["event"], path: string): Promise<FileLine | undefined> => {
    const line: FileLine = { type: "file", event, path: toRelative(path) };
    if (event === "deleted") return line;
    let info: Stats;
    try {
      info = await lstat(path);
    } catch {
      return line;
    }
    if (info.isSymbolicLink()) {
      // Not tracked (the workspace listing leaves links out too): what a link names inside the workspace is
      // tracked where it is; what it names outside is not the workspace's. A file replaced by a link leaves the index.
      if (event === "created") {
        options.onError(
          new Error(`${JSON.stringify(line.path)} is not reported: a symbolic link is not tracked`),
        );
      }
      return { ...line, event: "deleted" };
    }
    const special = specialKind(info);
    if (special) {
      options.onError(
        new Error(`${JSON.stringify(line.path)} is not reported: ${special} is not a regular file`),
      );
      return undefined;
    }
    return { ...line, size: info.size, modifiedAt: info.mtime.toISOString() };
  };
  watcher.on("add", report("created"));
  watcher.on("change", report("modified"));
  watcher.on("unlink", report("deleted"));
  watcher.on("error", options.onError);
  await new Promise<void>((resolve) => watcher.once("ready", () => resolve()));
  return watcher;
}

/** What a file that is neither a regular file, a symlink nor a folder is, for the reason it is left out. */
function specialKind(info: Stats): string | undefined {
  if (info.isFIFO()) return "a FIFO";
  if (info.isSocket()) return "a socket";
  if (info.isCharacterDevice() || info.isBlockDevice()) return "a device";
  return undefined;
}
