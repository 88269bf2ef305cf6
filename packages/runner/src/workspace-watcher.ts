import type { Dirent, Stats } from "node:fs";
import { lstatSync, readdirSync, readlinkSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { isIgnoredWorkspacePath, type RunnerOutput } from "@agent-runtime/protocol";
import { watch } from "chokidar";

export type FileLine = Extract<RunnerOutput, { type: "file" }>;

export interface WorkspaceWatcherOptions {
  readonly workspaceDir: string;
  /** Workspace-relative paths ignored with everything below them (see `isIgnoredWorkspacePath`). */
  readonly ignore: readonly string[];
  readonly onFile: (line: FileLine) => void;
  /** A watcher error, or a file left unreported because it is not a regular file (with the reason). */
  readonly onError: (error: unknown) => void;
}

export interface WorkspaceWatcher {
  /**
   * Compares the workspace on disk with what has been reported and reports
   * every difference now: after it resolves, each file written, changed or
   * deleted before the call has been reported, whether or not the watcher
   * has seen it yet (a file in a folder made a moment ago, a write still
   * settling). The runner calls it before it ends a turn.
   */
  settle(): Promise<void>;
  close(): Promise<void>;
}

/** How long a file must stay unchanged before the watcher reports it, so writes are reported once complete. */
const STABILITY_MS = 50;

/** What was last reported of a file: a new report is made only when one of these changed. */
interface Reported {
  readonly size: number;
  readonly mtimeMs: number;
  readonly linkTarget: string | undefined;
}

/** Longest link target reported (Linux's PATH_MAX); a longer one cannot be made on Linux anyway. */
const MAX_LINK_TARGET_BYTES = 4096;

/**
 * Reports workspace changes made after it resolves (files already there are
 * known, not reported). Paths are workspace-relative and `/`-separated, any
 * name Linux accepts. The watcher reports a file once its size has been
 * stable for a short while; `settle` reports at once. Each change is
 * reported once, whoever sees it first: a file new to the reports is
 * `created`, a known one whose size or time changed `modified`, a known one
 * gone `deleted`. Regular files and symbolic links are reported (a link
 * with its `linkTarget`, never followed: what it names is reported where it
 * is, if it is in the workspace); a FIFO, socket or device is not (nothing
 * of it is stored or restored), and `onError` says so once, naming it.
 */
export async function watchWorkspace(options: WorkspaceWatcherOptions): Promise<WorkspaceWatcher> {
  const toRelative = (path: string) => relative(options.workspaceDir, path).split(sep).join("/");
  const isIgnored = (rel: string) => rel !== "" && isIgnoredWorkspacePath(rel, options.ignore);
  const reported = new Map<string, Reported>();
  const leftOut = new Set<string>();

  /** Reports `rel` as `info` (from `lstat`, undefined when gone) shows it, if that differs from its last report. */
  const apply = (rel: string, info: Stats | undefined): void => {
    const known = reported.get(rel);
    const tracked = info?.isFile() || info?.isSymbolicLink();
    const reason = info && !tracked && !info.isDirectory() ? notReportedBecause(info) : undefined;
    if (reason && !leftOut.has(rel)) {
      leftOut.add(rel);
      options.onError(new Error(`${JSON.stringify(rel)} is not reported: ${reason}`));
    }
    const linkTarget = info?.isSymbolicLink() ? readLink(rel) : undefined;
    if (!info || !tracked || (info.isSymbolicLink() && linkTarget === undefined)) {
      if (!reason) leftOut.delete(rel);
      if (known) {
        reported.delete(rel);
        options.onFile({ type: "file", event: "deleted", path: rel });
      }
      return;
    }
    leftOut.delete(rel);
    if (
      known &&
      known.size === info.size &&
      known.mtimeMs === info.mtimeMs &&
      known.linkTarget === linkTarget
    )
      return;
    reported.set(rel, { size: info.size, mtimeMs: info.mtimeMs, linkTarget });
    options.onFile({
      type: "file",
      event: known ? "modified" : "created",
      path: rel,
      size: info.size,
      modifiedAt: info.mtime.toISOString(),
      ...(linkTarget !== undefined ? { linkTarget } : {}),
    });
  };
  /** A link's target, or undefined when it is gone or its target is not one the protocol carries. */
  const readLink = (rel: string): string | undefined => {
    try {
      const target = readlinkSync(join(options.workspaceDir, rel));
      return Buffer.byteLength(target) <= MAX_LINK_TARGET_BYTES ? target : undefined;
    } catch {
      return undefined;
    }
  };
  /**
   * `lstat` of `rel`, or undefined when it is gone or only reachable through
   * a link (a parent that is a link, or not a folder): such a path names no
   * file of the workspace, and reporting it would put a file below a link in
   * the index. `folders` caches the parents' answers for one batch.
   */
  const stat = (rel: string, folders: Map<string, boolean>): Stats | undefined => {
    const segments = rel.split("/");
    for (let end = 1; end < segments.length; end++) {
      const parent = segments.slice(0, end).join("/");
      let isFolder = folders.get(parent);
      if (isFolder === undefined) {
        isFolder =
          lstatSync(join(options.workspaceDir, parent), { throwIfNoEntry: false })?.isDirectory() ?? false;
        folders.set(parent, isFolder);
      }
      if (!isFolder) return undefined;
    }
    return lstatSync(join(options.workspaceDir, rel), { throwIfNoEntry: false });
  };

  /**
   * Every file below the workspace that is not a folder (regular or not, so
   * `apply` names what it leaves out), by relative path, skipping ignored
   * paths and not entering links. Reads
   * synchronously: a workspace of 10,000 files takes tens of milliseconds,
   * several times less than the same reads one promise each.
   */
  const walk = (): Set<string> => {
    const found = new Set<string>();
    const visit = (rel: string): void => {
      let entries: Dirent[];
      try {
        entries = readdirSync(join(options.workspaceDir, rel), { withFileTypes: true });
      } catch {
        return;
      }
      for (const entry of entries) {
        const child = rel === "" ? entry.name : `${rel}/${entry.name}`;
        if (isIgnored(child)) continue;
        if (entry.isDirectory()) visit(child);
        else found.add(child);
      }
    };
    visit("");
    return found;
  };

  /**
   * Reports the files `which` names as they are on disk now. One batch at a
   * time, each read after the previous batch was reported, so the watcher and
   * `settle` never both report one change, nor an older state after a newer one.
   */
  let reports = Promise.resolve();
  const report = (which: () => Iterable<string>): Promise<void> => {
    reports = reports
      .then(() => {
        const folders = new Map<string, boolean>();
        for (const rel of which()) apply(rel, stat(rel, folders));
      })
      .catch(options.onError);
    return reports;
  };

  const folders = new Map<string, boolean>();
  for (const rel of walk()) {
    const info = stat(rel, folders);
    const linkTarget = info?.isSymbolicLink() ? readLink(rel) : undefined;
    if (info?.isFile() || linkTarget !== undefined) {
      reported.set(rel, { size: info!.size, mtimeMs: info!.mtimeMs, linkTarget });
    }
  }

  const watcher = watch(options.workspaceDir, {
    ignoreInitial: true,
    ignored: (path: string) => isIgnored(toRelative(path)),
    // A link to `/` must not make the watcher crawl (and index) the whole filesystem.
    followSymlinks: false,
    awaitWriteFinish: { stabilityThreshold: STABILITY_MS, pollInterval: 10 },
  });
  const onChange = (path: string) => void report(() => [toRelative(path)]);
  watcher.on("add", onChange);
  watcher.on("change", onChange);
  watcher.on("unlink", onChange);
  watcher.on("error", options.onError);
  await new Promise<void>((resolve) => watcher.once("ready", () => resolve()));

  return {
    settle: async () => {
      await report(() => {
        const onDisk = walk();
        return [...[...reported.keys()].filter((rel) => !onDisk.has(rel)), ...onDisk];
      });
    },
    close: () => watcher.close(),
  };
}

/** Why a file that is neither a regular file nor a folder is left out. */
function notReportedBecause(info: Stats): string {
  if (info.isFIFO()) return "a FIFO is not a regular file";
  if (info.isSocket()) return "a socket is not a regular file";
  return "a device is not a regular file";
}
