import { statSync } from "node:fs";
import { chmod, lchown, lstat, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { RuntimeError } from "../../errors.js";

/** The file in a sandbox's folder that records its host uid. */
const UID_FILE = "host-uid";

export interface HostUserRange {
  /** First host uid (and gid) handed to sandboxes. */
  readonly first: number;
  /** How many there are: at most this many sandbox folders can exist at once. */
  readonly count: number;
}

/**
 * Which unprivileged host uid each sandbox runs as.
 *
 * A server running as root gives every sandbox folder a uid of its own from
 * `range` (gid the same number), recorded in `<sandboxDir>/host-uid` so that
 * the sandbox keeps it, and the files it owns, across terminate and create,
 * and released when the folder is removed. bwrap runs as that uid, so the
 * agent's uid inside maps to it and never to host root, and two sandboxes
 * cannot touch each other's files even outside their mount namespaces.
 *
 * A server running as another user cannot switch uids: every sandbox runs as
 * the server's own uid, which is not root (`distinct` is false then).
 */
export class HostUsers {
  /** Whether sandboxes get uids of their own (the server runs as root). */
  readonly distinct: boolean;
  private used: Promise<Map<number, string>> | undefined;
  private next = 0;

  constructor(
    private readonly realRootDir: string,
    private readonly range: HostUserRange,
    private readonly serverUid = process.getuid?.() ?? 0,
  ) {
    this.distinct = this.serverUid === 0;
  }

  /** The uid of the sandbox in `sandboxDir` (which exists), allocating one on first use. */
  async of(sandboxDir: string): Promise<number> {
    if (!this.distinct) return this.serverUid;
    const used = await this.usedUids();
    const recorded = await readUid(sandboxDir);
    if (recorded !== undefined && this.inRange(recorded)) {
      used.set(recorded, sandboxDir);
      return recorded;
    }
    for (let tried = 0; tried < this.range.count; tried++) {
      const uid = this.range.first + ((this.next + tried) % this.range.count);
      if (used.has(uid)) continue;
      this.next = (this.next + tried + 1) % this.range.count;
      used.set(uid, sandboxDir);
      const temp = join(sandboxDir, `.${UID_FILE}.tmp`);
      await writeFile(temp, `${uid}\n`);
      await rename(temp, join(sandboxDir, UID_FILE));
      return uid;
    }
    throw new RuntimeError(
      "SANDBOX_FAILED",
      `All ${this.range.count} sandbox host uids from ${this.range.first} are in use; remove sandboxes or widen hostUids`,
    );
  }

  /** The sandbox folder `from` was renamed to `to`: its uid (recorded in the folder) goes with it. */
  moved(from: string, to: string): void {
    if (!this.distinct || !this.used) return;
    void this.used.then((used) => {
      for (const [uid, dir] of used) if (dir === from) used.set(uid, to);
    });
  }

  /** Forgets the uid of a removed sandbox folder. */
  async release(sandboxDir: string): Promise<void> {
    if (!this.distinct || !this.used) return;
    const used = await this.used;
    for (const [uid, dir] of used) if (dir === sandboxDir) used.delete(uid);
  }

  private inRange(uid: number): boolean {
    return uid >= this.range.first && uid < this.range.first + this.range.count;
  }

  /** Reads every sandbox folder's recorded uid, once. */
  private usedUids(): Promise<Map<number, string>> {
    this.used ??= (async () => {
      const used = new Map<number, string>();
      const entries = await readdir(this.realRootDir, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        if (!entry.isDirectory()) continue;
        const dir = join(this.realRootDir, entry.name);
        const uid = await readUid(dir);
        if (uid !== undefined) used.set(uid, dir);
      }
      return used;
    })();
    return this.used;
  }
}

async function readUid(sandboxDir: string): Promise<number | undefined> {
  try {
    const uid = Number((await readFile(join(sandboxDir, UID_FILE), "utf8")).trim());
    return Number.isSafeInteger(uid) && uid > 0 ? uid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Makes `dir` (a workspace or home folder) private to `uid`: mode 0700 and,
 * when it belongs to someone else (a folder made before sandboxes had uids of
 * their own, or a new one the server just made), everything below given to
 * `uid` too, without following symlinks. Cheap when it already is.
 */
export async function giveFolderTo(dir: string, uid: number): Promise<void> {
  const stats = await lstat(dir);
  if (stats.uid !== uid || stats.gid !== uid) {
    const visit = async (path: string): Promise<void> => {
      await lchown(path, uid, uid);
      const entries = await readdir(path, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        const child = join(path, entry.name);
        if (entry.isDirectory()) await visit(child);
        else await lchown(child, uid, uid).catch(() => undefined);
      }
    };
    await visit(dir);
  }
  if ((stats.mode & 0o777) !== 0o700) await chmod(dir, 0o700);
}

/**
 * The folders among `paths` and their parents that a process of `uid` (and
 * gid `uid`, no other groups) cannot enter: no search (x) permission for it.
 * Paths must be absolute and real; missing ones are left out.
 */
export function unreachableFolders(paths: readonly string[], uid: number): string[] {
  const blocked = new Set<string>();
  for (const path of paths) {
    for (let dir = path; ; dir = dirname(dir)) {
      const stats = statSync(dir, { throwIfNoEntry: false });
      if (stats?.isDirectory()) {
        const bit = stats.uid === uid ? 0o100 : stats.gid === uid ? 0o010 : 0o001;
        if ((stats.mode & bit) === 0) blocked.add(dir);
      }
      if (dirname(dir) === dir) break;
    }
  }
  return [...blocked].sort();
}
