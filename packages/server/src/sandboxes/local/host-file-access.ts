import { constants, type Stats } from "node:fs";
import {
  type FileHandle,
  lchown,
  lstat,
  mkdir,
  open,
  readdir,
  readlink,
  rename,
  symlink,
  unlink,
  writeFile,
} from "node:fs/promises";
import { join, posix } from "node:path";
import { confinedSegments, invalidPath } from "../../confined-path.js";
import { RuntimeError } from "../../errors.js";
import type { WorkspaceEntry } from "../sandbox-provider.js";
import { isWithin, type SandboxPath } from "./sandbox-paths.js";
import { temporaryName } from "./temporary-name.js";

/*
 * Host-side access to a sandbox's folders while the agent may be changing
 * them. Every step goes through an open directory handle whose real path was
 * checked to be inside the area (`/proc/self/fd/N/name` works like `openat`),
 * so a symlink, or a folder swapped for one between two calls, can never make
 * the runtime (which runs as root here) read, write or delete outside it.
 */

interface Area {
  /** Real host path of the area folder (`<sandbox>/workspace` or `<sandbox>/home`). */
  readonly root: string;
  /** Host user that files and folders the runtime creates here are given to (the sandbox's uid). */
  readonly owner?: { readonly uid: number; readonly gid: number };
}

/**
 * Writes `content` (text as UTF-8, bytes, or a stream of bytes) at `target`,
 * creating parent folders. The file is written under a temporary name and
 * renamed over `target` once complete, so a failed write (a failing stream)
 * leaves the earlier file as it was. A symlink at `target` is replaced,
 * never followed.
 */
export async function writeAreaFile(
  area: Area,
  target: SandboxPath,
  content: string | Uint8Array | AsyncIterable<Uint8Array>,
  mode = 0o644,
): Promise<void> {
  const parent = await openParent(area, target, { create: true });
  const name = basename(target);
  const temp = temporaryName();
  try {
    const file = await open(
      at(parent, temp),
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL,
      mode,
    );
    try {
      if (area.owner) await file.chown(area.owner.uid, area.owner.gid);
      await writeFile(file, content);
    } catch (error) {
      await file.close();
      await unlink(at(parent, temp)).catch(() => undefined);
      throw error;
    }
    await file.close();
    await replaceWith(parent, temp, name, target);
  } finally {
    await parent.close();
  }
}

/**
 * Renames `temp` over `name` (both below `parent`): what was at `name` is
 * replaced at once. `temp` is removed when that fails; a folder at `name`
 * is refused (`INVALID_PATH`).
 */
async function replaceWith(
  parent: FileHandle,
  temp: string,
  name: string,
  target: SandboxPath,
): Promise<void> {
  await rename(at(parent, temp), at(parent, name)).catch(async (error: unknown) => {
    await unlink(at(parent, temp)).catch(() => undefined);
    throw isCode(error, "EISDIR", "ENOTEMPTY", "EEXIST") ? invalidPath(target.inside, "is a folder") : error;
  });
}

/**
 * Makes `target` a symbolic link to `linkTarget` (any text; it is never
 * followed here), creating parent folders. A file or link at `target` is
 * replaced; a folder there is refused (`INVALID_PATH`).
 */
export async function writeAreaLink(area: Area, target: SandboxPath, linkTarget: string): Promise<void> {
  const parent = await openParent(area, target, { create: true });
  const temp = temporaryName();
  try {
    await symlink(linkTarget, at(parent, temp));
    if (area.owner) await lchown(at(parent, temp), area.owner.uid, area.owner.gid);
    await replaceWith(parent, temp, basename(target), target);
  } finally {
    await parent.close();
  }
}

/** How many symlinks a read follows before it gives up, like the kernel's ELOOP. */
const MAX_SYMLINKS = 16;

/** Reads a whole regular file, opened as `openAreaFile` opens it. */
export async function readAreaFile(area: Area, target: SandboxPath): Promise<Uint8Array> {
  const file = await openAreaFile(area, target);
  try {
    return new Uint8Array(await file.readFile());
  } finally {
    await file.close();
  }
}

/**
 * Opens a regular file for reading; the caller closes the handle. Symlinks
 * are followed only while they stay inside the area. The runtime never opens
 * what a symlink points to before knowing it is inside: the last component
 * is looked at without following it, a symlink there is resolved here, path
 * by path, and anything but a regular file is refused unopened
 * (`INVALID_PATH`, "is not a regular file"), so the agent can neither make
 * the host open a device or file of its choosing nor make a read wait on a
 * FIFO. A name swapped meanwhile for a socket, FIFO or symlink is refused the
 * same way (the open does not follow, block or succeed on it).
 */
export async function openAreaFile(area: Area, target: SandboxPath, followed = 0): Promise<FileHandle> {
  const parent = await openParent(area, target, { create: false }).catch(notFoundAs(target));
  let link: string;
  try {
    const name = at(parent, basename(target));
    const stats = await lstat(name).catch(notFoundAs(target));
    if (!stats.isSymbolicLink()) return await openRegularFile(area, name, target, stats);
    link = await readlink(name).catch(notFoundAs(target));
  } finally {
    await parent.close();
  }
  if (followed >= MAX_SYMLINKS) throw new RuntimeError("FILE_NOT_FOUND", `No file at ${target.inside}`);
  return openAreaFile(area, linkTarget(target, link), followed + 1);
}

/** Opens `path` (a name below an open, verified folder) when it is a regular file inside the area. */
async function openRegularFile(
  area: Area,
  path: string,
  target: SandboxPath,
  stats: Stats,
): Promise<FileHandle> {
  if (!stats.isFile()) throw notRegularFile(target);
  const file = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW).catch(
    (error: unknown) => {
      if (isCode(error, "ELOOP", "ENXIO")) throw notRegularFile(target);
      return notFoundAs(target)(error);
    },
  );
  try {
    await assertInside(area, file, target);
    if (!(await file.stat()).isFile()) throw notRegularFile(target);
    return file;
  } catch (error) {
    await file.close();
    throw error;
  }
}

function notRegularFile(target: SandboxPath): RuntimeError {
  return invalidPath(target.inside, "is not a regular file");
}

/** Where the symlink at `target` (with contents `link`) leads, as a path of the same area; throws when outside it. */
function linkTarget(target: SandboxPath, link: string): SandboxPath {
  const root = target.inside.slice(0, target.inside.length - target.relative.length - 1);
  const normalised = posix.isAbsolute(link)
    ? posix.relative(root, posix.normalize(link))
    : posix.normalize(posix.join(posix.dirname(target.relative), link));
  if (
    normalised === "" ||
    normalised === "." ||
    normalised === ".." ||
    normalised.startsWith("../") ||
    posix.isAbsolute(normalised)
  ) {
    throw invalidPath(target.inside, "resolves outside the sandbox");
  }
  // The agent chose the link's text: the names it leads to obey the rule of every path (`INVALID_PATH`).
  const resolved = confinedSegments(normalised).join("/");
  return {
    area: target.area,
    relative: resolved,
    inside: `${root}/${resolved}`,
    host: join(target.host.slice(0, target.host.length - target.relative.length - 1), ...resolved.split("/")),
  };
}

/** Deletes a file or symlink (never what it points to); missing files are ignored. */
export async function deleteAreaFile(area: Area, target: SandboxPath): Promise<void> {
  let parent: FileHandle;
  try {
    parent = await openParent(area, target, { create: false });
  } catch (error) {
    if (isCode(error, "ENOENT", "ENOTDIR")) return;
    throw error;
  }
  try {
    const path = at(parent, basename(target));
    const stats = await lstat(path).catch((error: unknown) => {
      if (isCode(error, "ENOENT")) return undefined;
      throw error;
    });
    if (stats === undefined) return;
    if (stats.isDirectory()) throw invalidPath(target.inside, "is a folder");
    await unlink(path).catch((error: unknown) => {
      if (!isCode(error, "ENOENT")) throw error;
    });
  } finally {
    await parent.close();
  }
}

/**
 * Every regular file and symbolic link (with its target, not followed) below
 * the area, depth first. Left out: FIFOs, sockets and devices (never opened,
 * so a FIFO cannot block the listing), and names that are not valid UTF-8
 * (their decoded names name no file).
 */
export async function listAreaFiles(area: Area): Promise<WorkspaceEntry[]> {
  const entries: WorkspaceEntry[] = [];
  const visit = async (dir: FileHandle, prefix: string): Promise<void> => {
    for (const entry of await readdir(at(dir))) {
      const stats = await lstat(at(dir, entry)).catch(() => undefined);
      const path = prefix ? `${prefix}/${entry}` : entry;
      if (stats?.isFile()) {
        entries.push({ path, size: stats.size, modifiedAt: stats.mtime.toISOString() });
      } else if (stats?.isSymbolicLink()) {
        const linkTarget = await readlink(at(dir, entry)).catch(() => undefined);
        if (linkTarget !== undefined) {
          entries.push({ path, size: stats.size, modifiedAt: stats.mtime.toISOString(), linkTarget });
        }
      } else if (stats?.isDirectory()) {
        const child = await openVerifiedDir(area, at(dir, entry), path).catch(() => undefined);
        if (child) await visit(child, path).finally(() => child.close());
      }
    }
  };
  const root = await openVerifiedDir(area, area.root, "/");
  await visit(root, "").finally(() => root.close());
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

async function openParent(
  area: Area,
  target: SandboxPath,
  options: { create: boolean },
): Promise<FileHandle> {
  const segments = target.relative.split("/").slice(0, -1);
  let dir = await openVerifiedDir(area, area.root, target.inside);
  try {
    for (const segment of segments) {
      if (options.create) {
        const made = await mkdir(at(dir, segment)).then(
          () => true,
          (error: unknown) => {
            if (!isCode(error, "EEXIST")) throw error;
            return false;
          },
        );
        // lchown: never follows a symlink the agent may have put in its place meanwhile.
        if (made && area.owner) await lchown(at(dir, segment), area.owner.uid, area.owner.gid);
      }
      const next = await openVerifiedDir(area, at(dir, segment), target.inside);
      await dir.close();
      dir = next;
    }
    return dir;
  } catch (error) {
    await dir.close();
    throw isCode(error, "ENOTDIR") && options.create
      ? invalidPath(target.inside, "a parent is a file")
      : error;
  }
}

async function openVerifiedDir(area: Area, path: string, shownPath: string): Promise<FileHandle> {
  const dir = await open(path, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await assertInside(area, dir, shownPath);
    return dir;
  } catch (error) {
    await dir.close();
    throw error;
  }
}

async function assertInside(area: Area, handle: FileHandle, shown: SandboxPath | string): Promise<void> {
  const real = await readlink(`/proc/self/fd/${handle.fd}`);
  if (!isWithin(area.root, real)) {
    throw invalidPath(typeof shown === "string" ? shown : shown.inside, "resolves outside the sandbox");
  }
}

/** A path that resolves through the open directory, like `openat(dir, name)`. */
function at(dir: FileHandle, name?: string): string {
  return name === undefined ? `/proc/self/fd/${dir.fd}` : `/proc/self/fd/${dir.fd}/${name}`;
}

function basename(target: SandboxPath): string {
  return target.relative.slice(target.relative.lastIndexOf("/") + 1);
}

/**
 * Rethrows a file system error met on the way to `target` as what a client
 * is told: nothing there (`FILE_NOT_FOUND`), a name the file system refuses
 * (`INVALID_PATH`) or a file the host may not open (`FORBIDDEN`); any other
 * error (the host's own failure) as it is.
 */
function notFoundAs(target: SandboxPath): (error: unknown) => never {
  return (error) => {
    if (isCode(error, "ENOENT", "ENOTDIR", "ELOOP")) {
      throw new RuntimeError("FILE_NOT_FOUND", `No file at ${target.inside}`);
    }
    if (isCode(error, "ENAMETOOLONG")) throw invalidPath(target.inside, "names a file longer than allowed");
    if (isCode(error, "EISDIR")) throw invalidPath(target.inside, "is a folder");
    if (isCode(error, "EACCES", "EPERM"))
      throw new RuntimeError("FORBIDDEN", `No access to ${target.inside}`);
    throw error;
  };
}

export function isCode(error: unknown, ...codes: string[]): boolean {
  return (
    typeof error === "object" && error !== null && codes.includes((error as { code?: string }).code ?? "")
  );
}
