import { execFile, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { promisify } from "node:util";
import { RuntimeError } from "../../errors.js";

const execFileAsync = promisify(execFile);

/*
 * Disk quota of a sandbox's workspace and home: a sparse ext4 image file in
 * the sandbox's folder, loop-mounted (host side, in the server's mount
 * namespace) while the sandbox runs. Both areas are folders on it, so
 * together they can hold at most the image's size, and the host loses at
 * most that much space: the image is sparse and only grows as data is
 * written. Needs root, `/dev/loop-control`, `mkfs.ext4` and `mount`
 * (util-linux); `detectDiskImages` probes all of it once.
 *
 * mkfs options, chosen for create time and host space (measured on a 1 GiB
 * image: ~5 ms mkfs, ~5 ms mount, 664 KiB allocated on the host):
 * - `lazy_itable_init=1,lazy_journal_init=1`: nothing is zeroed up front. On
 *   a regular file mke2fs discards (punches holes) first, so the inode
 *   tables read as zeros and are marked zeroed: the kernel's lazy-init thread
 *   has nothing to write either. Without `lazy_journal_init` mke2fs writes
 *   the whole journal (32 MiB for 1 GiB).
 * - `-J size=4`: a small journal instead of none. The journal keeps the
 *   file system consistent if the host crashes; 4 MiB (the default would be
 *   32 MiB) is enough for an agent's workload and leaves the quota usable.
 *   Images under 64 MiB (tests) have no journal: it would not fit well.
 * - `-m 0`: no blocks reserved for root. The agent's uid maps to the server's
 *   (root), so it could use reserved blocks anyway; the quota is the size.
 * - `-i 8192`: twice the default inodes (131072 per GiB), because
 *   `node_modules` and package caches are many small files; costs 16 MiB of
 *   a 1 GiB quota in inode tables (sparse on the host until used).
 */
function mkfsOptions(sizeBytes: number): string[] {
  const journal = sizeBytes >= 64 * MIB ? ["-J", "size=4"] : ["-O", "^has_journal"];
  return [
    "-q",
    "-F",
    "-t",
    "ext4",
    "-m",
    "0",
    "-i",
    "8192",
    ...journal,
    "-E",
    "lazy_itable_init=1,lazy_journal_init=1",
  ];
}
const MOUNT_OPTIONS = "loop,nosuid,nodev,noatime";
/** How long an unmount retries while the file system is busy (e.g. a host-side file read in flight). */
const UNMOUNT_RETRY_MS = 2000;
const MIB = 1024 * 1024;
/** Size of the probe image: large enough for the journal, so the probe runs the real options. */
const PROBE_BYTES = 64 * MIB;

/** The tools that make and mount images, found by `detectDiskImages`. */
export interface DiskTools {
  readonly mkfs: string;
  readonly mount: string;
  readonly umount: string;
}

export type DiskSupport =
  | { readonly supported: true; readonly tools: DiskTools }
  | { readonly supported: false; readonly reason: string };

/** A mounted sandbox image. */
export interface SandboxDisk {
  /** Unmounts the image (retrying while busy; left mounted when it stays busy, for the next `attachDisk`). Never throws. */
  release(): Promise<void>;
}

/**
 * Whether this host can loop-mount ext4 images, with the reason when not.
 * Synchronous because `capabilities` is: runs once per provider, on first
 * use, and takes a few tens of milliseconds (it makes, mounts and unmounts a
 * sparse 64 MiB image in `realRootDir`, so a host where `mount` is refused, e.g. a
 * container without the capability, is detected too).
 */
export function detectDiskImages(realRootDir: string): DiskSupport {
  if (process.getuid?.() !== 0) return unsupported("the server does not run as root");
  if (!existsSync("/dev/loop-control")) return unsupported("/dev/loop-control is missing");
  const mkfs = findTool("mkfs.ext4");
  const mount = findTool("mount");
  const umount = findTool("umount");
  if (!mkfs) return unsupported("mkfs.ext4 is not installed (Debian/Ubuntu: e2fsprogs)");
  if (!mount || !umount) return unsupported("mount/umount are not installed (util-linux)");
  const probe = join(realRootDir, `.disk-probe-${process.pid}-${randomUUID().slice(0, 8)}`);
  const image = `${probe}.img`;
  try {
    mkdirSync(probe, { recursive: true });
    writeFileSync(image, "", { mode: 0o600 });
    truncateSync(image, PROBE_BYTES);
    const made = run(mkfs, [...mkfsOptions(PROBE_BYTES), image]);
    if (made) return unsupported(`mkfs.ext4 failed: ${made}`);
    const mounted = run(mount, ["-o", MOUNT_OPTIONS, image, probe]);
    if (mounted) return unsupported(`loop mount failed: ${mounted}`);
    const unmounted = run(umount, [probe]);
    if (unmounted) return unsupported(`unmount failed: ${unmounted}`);
    return { supported: true, tools: { mkfs, mount, umount } };
  } catch (error) {
    return unsupported(`probe failed: ${(error as Error).message}`);
  } finally {
    if (mountSourcesAt(probe).length > 0) spawnSync(umount, ["-l", probe]);
    rmSync(image, { force: true });
    rmSync(probe, { recursive: true, force: true });
  }
}

/**
 * Mounts `image` at `mountDir`, first making the image (`sizeBytes`, sparse)
 * when it does not exist. An image already mounted there by a crashed server
 * is reused as it is; anything else mounted there is unmounted first.
 */
export async function attachDisk(
  tools: DiskTools,
  paths: { readonly image: string; readonly mountDir: string },
  sizeBytes: number,
): Promise<SandboxDisk> {
  const { image, mountDir } = paths;
  await mkdir(mountDir, { recursive: true });
  if (!existsSync(image)) await makeImage(tools, image, sizeBytes);
  const sources = mountSourcesAt(mountDir);
  const reuse = sources.length === 1 && backingFile(sources[0]!) === image;
  if (!reuse) {
    if (sources.length > 0) await detachDisk(tools, mountDir, { lazy: false });
    try {
      await execFileAsync(tools.mount, ["-o", MOUNT_OPTIONS, image, mountDir], { timeout: 30_000 });
    } catch (error) {
      throw new RuntimeError(
        "SANDBOX_FAILED",
        `Cannot mount the sandbox's disk image ${image}: ${stderrOf(error)}`,
        { cause: error },
      );
    }
  }
  if (mountSourcesAt(mountDir).length === 0) {
    throw new RuntimeError("SANDBOX_FAILED", `The sandbox's disk image is not mounted at ${mountDir}`);
  }
  return mountedDisk(tools, mountDir);
}

/** The image mounted at `mountDir` (also after its sandbox's folder moved there, see `Sandbox.rename`). */
export function mountedDisk(tools: Pick<DiskTools, "umount">, mountDir: string): SandboxDisk {
  let releasing: Promise<void> | undefined;
  return {
    release() {
      releasing ??= detachDisk(tools, mountDir, { lazy: false }).catch(() => undefined);
      return releasing;
    },
  };
}

/**
 * Unmounts everything mounted at `mountDir` (stacked mounts included),
 * retrying for 2 s while busy. Then, with `lazy`, detaches what is still busy
 * (it goes away when its last user closes it; for deletion), otherwise throws
 * `SANDBOX_FAILED`. No-op when nothing is mounted.
 */
export async function detachDisk(
  tools: Pick<DiskTools, "umount">,
  mountDir: string,
  options: { readonly lazy: boolean },
): Promise<void> {
  const deadline = Date.now() + UNMOUNT_RETRY_MS;
  let lastError: unknown;
  while (mountSourcesAt(mountDir).length > 0) {
    try {
      await execFileAsync(tools.umount, [mountDir], { timeout: 30_000 });
      continue;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() < deadline) {
      await delay(50);
      continue;
    }
    if (!options.lazy) {
      throw new RuntimeError("SANDBOX_FAILED", `Cannot unmount ${mountDir}: ${stderrOf(lastError)}`, {
        cause: lastError,
      });
    }
    await execFileAsync(tools.umount, ["-l", mountDir], { timeout: 30_000 });
  }
}

/** Devices mounted at `dir` in this process's mount namespace, bottom first (from `/proc/self/mountinfo`). */
export function mountSourcesAt(dir: string): string[] {
  let info: string;
  try {
    info = readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return [];
  }
  const sources: string[] = [];
  for (const line of info.split("\n")) {
    const fields = line.split(" ");
    const separator = fields.indexOf("-");
    if (separator < 0 || unescapeMountPath(fields[4] ?? "") !== dir) continue;
    sources.push(unescapeMountPath(fields[separator + 2] ?? ""));
  }
  return sources;
}

/** Makes a sparse ext4 image; a crash halfway leaves only a temporary file, never a broken image. */
async function makeImage(tools: DiskTools, image: string, sizeBytes: number): Promise<void> {
  const temp = `${image}.${randomUUID().slice(0, 8)}.tmp`;
  try {
    const file = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      await file.truncate(sizeBytes);
    } finally {
      await file.close();
    }
    await execFileAsync(tools.mkfs, [...mkfsOptions(sizeBytes), temp], { timeout: 60_000 });
    await rename(temp, image);
  } catch (error) {
    await rm(temp, { force: true });
    throw new RuntimeError("SANDBOX_FAILED", `Cannot make the sandbox's disk image: ${stderrOf(error)}`, {
      cause: error,
    });
  }
}

/** The file behind a loop device (`/dev/loopN`), or undefined. */
function backingFile(device: string): string | undefined {
  const match = /^\/dev\/(loop\d+)$/.exec(device);
  if (!match) return undefined;
  try {
    return readFileSync(`/sys/block/${match[1]}/loop/backing_file`, "utf8").trim();
  } catch {
    return undefined;
  }
}

function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

function findTool(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/sbin", "/usr/bin", "/bin"];
  for (const dir of dirs) {
    if (!dir.startsWith("/")) continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

/** Runs a command synchronously; returns its error output when it fails, else undefined. */
function run(command: string, args: readonly string[]): string | undefined {
  const result = spawnSync(command, args, { encoding: "utf8", timeout: 10_000 });
  if (result.status === 0) return undefined;
  return (result.stderr || result.error?.message || `exit ${result.status}`).trim();
}

function stderrOf(error: unknown): string {
  return ((error as { stderr?: string }).stderr?.trim() || (error as Error).message) ?? String(error);
}

function unsupported(reason: string): DiskSupport {
  return { supported: false, reason };
}
