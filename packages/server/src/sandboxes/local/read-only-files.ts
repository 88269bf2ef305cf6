import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readlinkSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { RuntimeError } from "../../errors.js";
import { isCode } from "./host-file-access.js";
import { areaPath, type SandboxLayout, type SandboxPath, sandboxAreas } from "./sandbox-paths.js";
import { temporaryName } from "./temporary-name.js";

/** bwrap arguments for one `exec`, and the descriptors they refer to (child fd `firstFd + i` is `fds[i]`). */
export interface ReadOnlyMounts {
  readonly args: readonly string[];
  /** Open directory descriptors; the caller closes them once the process is spawned. */
  readonly fds: readonly number[];
}

/**
 * Runtime-owned files the agent must not change (settings, hooks).
 *
 * A mode bit cannot protect them: the agent's uid owns every file of its
 * folders and may chmod. Instead the runtime keeps the authoritative copy in
 * `<sandbox>/runtime/read-only/<area>/<path>`, which is never mounted
 * writable, and every `exec` (`mounts()`) bind-mounts it read-only over the
 * file's path and bind-mounts each folder between the area and the file onto
 * itself: mount points cannot be written, removed or renamed (EROFS/EBUSY), so
 * the agent can neither change the file nor move a parent folder away and
 * create its own file in its place. Protection applies to processes started
 * after the file was written; a copy that an older process changed is
 * restored from the authoritative one at the next `exec`.
 */
export class ReadOnlyFiles {
  private readonly files = new Map<string, SandboxPath>();
  private readonly dir: string;

  constructor(private readonly layout: SandboxLayout) {
    this.dir = join(layout.runtimeDir, "read-only");
  }

  /** Reads the files a previous incarnation of the sandbox protected. */
  async load(): Promise<void> {
    for (const area of sandboxAreas) {
      const areaDir = join(this.dir, area);
      const names = await readdir(areaDir, { recursive: true, withFileTypes: true }).catch(() => []);
      for (const entry of names) {
        if (!entry.isFile()) continue;
        const path = areaPath(this.layout, area, relative(areaDir, join(entry.parentPath, entry.name)));
        this.files.set(path.inside, path);
      }
    }
  }

  has(path: SandboxPath): boolean {
    return this.files.has(path.inside);
  }

  /** Stores the authoritative copy; the caller also writes the file in the sandbox's folder. */
  async save(path: SandboxPath, content: string | Uint8Array): Promise<void> {
    const copy = this.copyPath(path);
    await mkdir(dirname(copy), { recursive: true });
    const temp = join(dirname(copy), temporaryName());
    await writeFile(temp, content, { mode: 0o444 });
    await rename(temp, copy);
    this.files.set(path.inside, path);
  }

  async read(path: SandboxPath): Promise<Uint8Array> {
    return new Uint8Array(await readFile(this.copyPath(path)));
  }

  /** Stops protecting the file; idempotent. */
  async forget(path: SandboxPath): Promise<void> {
    if (!this.files.delete(path.inside)) return;
    await rm(this.copyPath(path), { force: true });
  }

  /**
   * Restores each protected file and its parent folders in the sandbox's
   * folder (replacing symlinks the agent put there), then returns the mounts.
   * Synchronous because `exec` is. Throws `SANDBOX_FAILED` when a protected
   * path is occupied by a folder or a parent cannot be verified.
   */
  mounts(firstFd: number): ReadOnlyMounts {
    const args: string[] = [];
    const fds: number[] = [];
    const roots: number[] = [];
    const parents = new Map<string, number>();
    try {
      for (const path of [...this.files.values()].sort((a, b) => a.inside.localeCompare(b.inside))) {
        const root = this.layout.areas[path.area];
        const segments = path.relative.split("/");
        let parentFd = openOwnDir(root.host, root.host);
        roots.push(parentFd);
        for (let index = 1; index < segments.length; index++) {
          const inside = `${root.inside}/${segments.slice(0, index).join("/")}`;
          const known = parents.get(inside);
          parentFd =
            known ??
            openOwnDir(
              `/proc/self/fd/${parentFd}/${segments[index - 1]}`,
              join(root.host, ...segments.slice(0, index)),
            );
          if (known !== undefined) continue;
          parents.set(inside, parentFd);
          args.push("--bind-fd", String(firstFd + fds.length), inside);
          fds.push(parentFd);
        }
        this.restore(path, `/proc/self/fd/${parentFd}/${segments.at(-1)}`);
        args.push("--ro-bind", this.copyPath(path), path.inside);
      }
    } catch (error) {
      for (const fd of fds) closeSync(fd);
      throw error;
    } finally {
      for (const fd of roots) closeSync(fd);
    }
    return { args, fds };
  }

  private restore(path: SandboxPath, target: string): void {
    const copy = readFileSync(this.copyPath(path));
    const stats = lstatSync(target, { throwIfNoEntry: false });
    if (stats?.isDirectory()) {
      throw new RuntimeError("SANDBOX_FAILED", `A folder occupies the read-only file ${path.inside}`);
    }
    if (stats?.isFile() && holds(target, copy)) return;
    const temp = `${dirname(target)}/${temporaryName()}`;
    writeFileSync(temp, copy, { mode: 0o444, flag: "wx" });
    renameSync(temp, target);
  }

  private copyPath(path: SandboxPath): string {
    return join(this.dir, path.area, ...path.relative.split("/"));
  }
}

/**
 * Whether `target` is a regular file holding exactly `copy`. Never follows a
 * symlink and never waits on a FIFO that the agent may have swapped in since
 * it was looked at.
 */
function holds(target: string, copy: Buffer): boolean {
  let fd: number;
  try {
    fd = openSync(target, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return false;
  }
  try {
    const stats = fstatSync(fd);
    return stats.isFile() && stats.size === copy.length && readFileSync(fd).equals(copy);
  } finally {
    closeSync(fd);
  }
}

/**
 * Opens a real folder (never a symlink) at `path`, creating it when missing and
 * replacing a symlink or file the agent put there, and checks that it is
 * `expected` on the host.
 */
function openOwnDir(path: string, expected: string): number {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (error) {
    if (!isCode(error, "ENOENT", "ELOOP", "ENOTDIR")) throw error;
    if (!isCode(error, "ENOENT")) unlinkSync(path);
    mkdirSync(path);
    fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  }
  if (readlinkSync(`/proc/self/fd/${fd}`) !== expected) {
    closeSync(fd);
    throw new RuntimeError("SANDBOX_FAILED", `Cannot verify the folder of a read-only file: ${expected}`);
  }
  return fd;
}
