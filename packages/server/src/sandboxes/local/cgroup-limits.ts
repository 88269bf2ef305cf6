import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { readdir, readFile, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";

const CGROUP_ROOT = "/sys/fs/cgroup";
/** Folder, under the server's own cgroup, that holds one cgroup per sandbox. */
const PARENT_NAME = "agent-runtime";
/** Empty sandbox cgroups older than this are leftovers of a server that died. */
const SWEEP_MIN_AGE_MS = 60_000;

export interface CgroupLimitValues {
  readonly pids: number;
  readonly memoryBytes: number;
  /** CPU time per wall-clock time, in cores (e.g. 0.5 or 2); enforced as a CFS quota per 100 ms. */
  readonly cpus: number;
}

/** CFS period: the quota is `cpus` times this, per period. */
const CPU_PERIOD_US = 100_000;

function cpuQuotaUs(cpus: number): number {
  return Math.max(1000, Math.round(cpus * CPU_PERIOD_US));
}

/** The cgroups of one sandbox: every process of the sandbox is in them. */
export interface SandboxCgroup {
  /** Moves a host pid (a bwrap sandbox's init, before it runs anything) into the cgroups. */
  add(pid: number): Promise<void>;
  /** How often the limits were hit so far (compare two readings to attribute one process). */
  counters(): Promise<{ readonly oomKills: number; readonly pidsDenied: number }>;
  /**
   * Freezes every process in the cgroups (none is scheduled until `thaw`),
   * then asks the kernel to reclaim what memory it can from them. Resolves
   * once all are frozen; throws when the kernel did not freeze them within
   * a second (they are thawed again then). Absent where the host has no
   * freezer (`CgroupFactory.freezer`).
   */
  freeze?(): Promise<void>;
  /** Thaws what `freeze` froze; a no-op otherwise. */
  thaw?(): Promise<void>;
  /** SIGKILLs every process still in the cgroups (frozen ones too) and removes them. Idempotent; never throws. */
  destroy(): Promise<void>;
}

/** Creates per-sandbox cgroups; absent (`detectCgroups` returns undefined) when the host does not allow it. */
export interface CgroupFactory {
  /** "v2" (unified hierarchy) or "v1" (one hierarchy per controller). */
  readonly version: "v1" | "v2";
  /** Whether the `cpu` controller is there too, so `CgroupLimitValues.cpus` is enforced. */
  readonly cpu: boolean;
  /** Whether sandboxes' cgroups can be frozen (`SandboxCgroup.freeze`): v2 always, v1 with its `freezer` hierarchy. */
  readonly freezer: boolean;
  create(name: string, limits: CgroupLimitValues): Promise<SandboxCgroup>;
  /**
   * SIGKILLs the processes of, and removes, every sandbox cgroup whose name
   * `matches`, whichever server process created it (e.g. one that crashed
   * before its sandbox terminated). Never throws.
   */
  removeWhere(matches: (name: string) => boolean): Promise<void>;
}

/**
 * Finds where this process may create cgroups with the `pids` and `memory`
 * controllers (and `cpu`, where the host has it): below its own cgroup (`/proc/self/cgroup`), in a folder named
 * `agent-runtime`. cgroup v2 needs both controllers enabled for that folder,
 * which the kernel refuses when the server's own cgroup holds processes and
 * is not the root (run the server in a delegated cgroup, e.g. systemd's
 * `Delegate=yes`); cgroup v1 needs write access to both hierarchies (root).
 * Synchronous (a few small sysfs files); returns undefined when neither works.
 */
export function detectCgroups(): CgroupFactory | undefined {
  let own: string;
  try {
    own = readFileSync("/proc/self/cgroup", "utf8");
  } catch {
    return undefined;
  }
  const lines = own
    .trim()
    .split("\n")
    .map((line) => line.split(":"))
    .map(([, controllers, path]) => ({ controllers: (controllers ?? "").split(","), path: path ?? "/" }));
  return detectV2(lines) ?? detectV1(lines);
}

type CgroupLine = { controllers: string[]; path: string };

function detectV2(lines: CgroupLine[]): CgroupFactory | undefined {
  if (!existsSync(join(CGROUP_ROOT, "cgroup.controllers"))) return undefined;
  const unified = lines.find((line) => line.controllers.length === 1 && line.controllers[0] === "");
  if (!unified) return undefined;
  const ownDir = join(CGROUP_ROOT, unified.path);
  const parent = join(ownDir, PARENT_NAME);
  let cpu: boolean;
  try {
    enableControllers(ownDir);
    mkdirSync(parent, { recursive: true });
    enableControllers(parent);
    cpu = readFileSync(join(parent, "cgroup.subtree_control"), "utf8").split(/\s+/).includes("cpu");
    sweepEmptyCgroups(parent);
  } catch {
    return undefined;
  }
  return {
    version: "v2",
    cpu,
    freezer: true,
    async create(name, limits) {
      const dir = join(parent, name);
      await makeFresh(dir);
      await writeFile(join(dir, "pids.max"), String(limits.pids));
      await writeFile(join(dir, "memory.max"), String(limits.memoryBytes));
      await writeFile(join(dir, "memory.swap.max"), "0").catch(() => undefined);
      if (cpu) await writeFile(join(dir, "cpu.max"), `${cpuQuotaUs(limits.cpus)} ${CPU_PERIOD_US}`);
      return sandboxCgroup([dir], {
        oomKills: () => eventCount(join(dir, "memory.events"), "oom_kill"),
        pidsDenied: () => eventCount(join(dir, "pids.events"), "max"),
        kill: () => writeFile(join(dir, "cgroup.kill"), "1"),
        freezer: {
          freeze: async () => {
            await writeFile(join(dir, "cgroup.freeze"), "1");
            await settle(() =>
              readFile(join(dir, "cgroup.events"), "utf8").then((e) => /^frozen 1$/m.test(e)),
            );
          },
          thaw: () => writeFile(join(dir, "cgroup.freeze"), "0"),
          // Asks for everything: the kernel takes what it can (EAGAIN when short of it).
          reclaim: async () => {
            const current = (await readFile(join(dir, "memory.current"), "utf8")).trim();
            await writeFile(join(dir, "memory.reclaim"), current);
          },
        },
      });
    },
    removeWhere: (matches) =>
      removeMatching([parent], matches, (dir) => writeFile(join(dir, "cgroup.kill"), "1")),
  };
}

function enableControllers(dir: string): void {
  const enabled = readFileSync(join(dir, "cgroup.subtree_control"), "utf8").split(/\s+/);
  const missing = ["pids", "memory"].filter((controller) => !enabled.includes(controller));
  if (missing.length > 0)
    writeFileSync(join(dir, "cgroup.subtree_control"), missing.map((c) => `+${c}`).join(" "));
  // Optional: without it CPU time is not limited, and the factory says so.
  const available = readFileSync(join(dir, "cgroup.controllers"), "utf8").split(/\s+/);
  if (available.includes("cpu") && !enabled.includes("cpu")) {
    try {
      writeFileSync(join(dir, "cgroup.subtree_control"), "+cpu");
    } catch {
      // E.g. a realtime process in the way; the limit is then reported as not enforced.
    }
  }
}

function detectV1(lines: CgroupLine[]): CgroupFactory | undefined {
  const parents: Record<"pids" | "memory", string> = { pids: "", memory: "" };
  for (const controller of ["pids", "memory"] as const) {
    const line = lines.find((candidate) => candidate.controllers.includes(controller));
    const mount = join(CGROUP_ROOT, controller);
    if (!line || !existsSync(join(mount, "cgroup.procs"))) return undefined;
    parents[controller] = join(mount, line.path, PARENT_NAME);
    try {
      mkdirSync(parents[controller], { recursive: true });
      sweepEmptyCgroups(parents[controller]);
      const probe = join(parents[controller], `probe-${process.pid}`);
      mkdirSync(probe);
      rmdirSync(probe);
    } catch {
      return undefined;
    }
  }
  const cpuParent = detectV1Optional(lines, "cpu", "cpu.cfs_quota_us");
  const freezerParent = detectV1Optional(lines, "freezer", "cgroup.procs");
  const optionalParents = [cpuParent, freezerParent].filter((parent) => parent !== undefined);
  return {
    version: "v1",
    cpu: cpuParent !== undefined,
    freezer: freezerParent !== undefined,
    async create(name, limits) {
      const pidsDir = join(parents.pids, name);
      const memoryDir = join(parents.memory, name);
      const cpuDir = cpuParent === undefined ? undefined : join(cpuParent, name);
      const freezerDir = freezerParent === undefined ? undefined : join(freezerParent, name);
      await Promise.all(
        [pidsDir, memoryDir, cpuDir, freezerDir].map((dir) => dir !== undefined && makeFresh(dir)),
      );
      await writeFile(join(pidsDir, "pids.max"), String(limits.pids));
      await writeFile(join(memoryDir, "memory.limit_in_bytes"), String(limits.memoryBytes));
      // Without swap accounting this file is missing; there is no swap to escape to then.
      await writeFile(join(memoryDir, "memory.memsw.limit_in_bytes"), String(limits.memoryBytes)).catch(
        () => undefined,
      );
      if (cpuDir) {
        await writeFile(join(cpuDir, "cpu.cfs_period_us"), String(CPU_PERIOD_US));
        await writeFile(join(cpuDir, "cpu.cfs_quota_us"), String(cpuQuotaUs(limits.cpus)));
      }
      const dirs = [pidsDir, memoryDir, cpuDir, freezerDir].filter((dir) => dir !== undefined);
      return sandboxCgroup(dirs, {
        oomKills: () => eventCount(join(memoryDir, "memory.oom_control"), "oom_kill"),
        pidsDenied: () => eventCount(join(pidsDir, "pids.events"), "max"),
        ...(freezerDir === undefined
          ? {}
          : {
              freezer: {
                freeze: async () => {
                  await writeFile(join(freezerDir, "freezer.state"), "FROZEN");
                  await settle(() =>
                    readFile(join(freezerDir, "freezer.state"), "utf8").then(
                      (state) => state.trim() === "FROZEN",
                    ),
                  );
                },
                thaw: () => writeFile(join(freezerDir, "freezer.state"), "THAWED"),
                // v1 has no `memory.reclaim`; `force_empty` reclaims all it can from a cgroup, processes or not.
                reclaim: () => writeFile(join(memoryDir, "memory.force_empty"), "0"),
              },
            }),
      });
    },
    removeWhere: (matches) => removeMatching([parents.pids, parents.memory, ...optionalParents], matches),
  };
}

/**
 * The parent folder for sandboxes in the cgroup v1 hierarchy of an optional
 * `controller` (`cpu`, `freezer`), when this process may use it (`probe`: a
 * file its mount holds).
 */
function detectV1Optional(lines: CgroupLine[], controller: string, probe: string): string | undefined {
  const line = lines.find((candidate) => candidate.controllers.includes(controller));
  const mount = join(CGROUP_ROOT, controller);
  if (!line || !existsSync(join(mount, probe))) return undefined;
  const parent = join(mount, line.path, PARENT_NAME);
  try {
    mkdirSync(parent, { recursive: true });
    sweepEmptyCgroups(parent);
    return parent;
  } catch {
    return undefined;
  }
}

/**
 * Removes the cgroups of sandboxes that were never terminated (a crashed or
 * killed server). The kernel refuses to remove a cgroup that still holds a
 * process, so live sandboxes, including other servers', are left alone.
 */
function sweepEmptyCgroups(parent: string): void {
  const settled = Date.now() - SWEEP_MIN_AGE_MS;
  for (const entry of readdirSync(parent, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = join(parent, entry.name);
    try {
      // A sandbox being created right now has an empty cgroup for a moment: leave young ones alone.
      if (statSync(dir).mtimeMs > settled) continue;
      rmdirSync(dir);
    } catch {
      // Busy (a live sandbox) or not ours to remove.
    }
  }
}

/** Kills and removes the cgroups below `parents` whose name `matches`; `kill` empties one at once (v2). */
async function removeMatching(
  parents: readonly string[],
  matches: (name: string) => boolean,
  kill?: (dir: string) => Promise<void>,
): Promise<void> {
  for (const parent of parents) {
    const entries = await readdir(parent, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (!entry.isDirectory() || !matches(entry.name)) continue;
      const dir = join(parent, entry.name);
      await killAndRemove(dir, kill && (() => kill(dir))).catch(() => undefined);
    }
  }
}

/** Creates `dir`, first emptying and removing a leftover of the same name (e.g. after a crash). */
async function makeFresh(dir: string): Promise<void> {
  if (existsSync(dir)) await killAndRemove(dir);
  mkdirSync(dir);
}

async function eventCount(file: string, key: string): Promise<number> {
  try {
    const match = new RegExp(`^${key} (\\d+)$`, "m").exec(await readFile(file, "utf8"));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

async function procsOf(dir: string): Promise<number[]> {
  try {
    return (await readFile(join(dir, "cgroup.procs"), "utf8")).split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * Kills whatever is left in `dir` (repeatedly: a fork bomb forks while it is
 * being killed) and removes it. A frozen cgroup is thawed after the kill, so
 * its processes die without running another instruction of their own.
 */
async function killAndRemove(dir: string, kill?: () => Promise<void>): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    await kill?.().catch(() => undefined);
    for (const pid of await procsOf(dir)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await thawAny(dir);
    try {
      await rmdir(dir);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      await delay(20);
    }
  }
}

/** Thaws `dir` if it is a frozen cgroup, v1 (`freezer.state`) or v2 (`cgroup.freeze`); never throws. */
async function thawAny(dir: string): Promise<void> {
  await writeFile(join(dir, "freezer.state"), "THAWED").catch(() => undefined);
  await writeFile(join(dir, "cgroup.freeze"), "0").catch(() => undefined);
}

/** How long the kernel may take to freeze a sandbox's processes (a task in a system call finishes it first). */
const FREEZE_TIMEOUT_MS = 1000;

/** Polls `done` until it is true; throws after `FREEZE_TIMEOUT_MS`. */
async function settle(done: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + FREEZE_TIMEOUT_MS;
  for (let wait = 1; !(await done()); wait = Math.min(wait * 2, 50)) {
    if (Date.now() > deadline) throw new Error("the kernel did not freeze the sandbox's processes in time");
    await delay(wait);
  }
}

interface CgroupFreezer {
  /** Freezes and waits until every process is frozen. */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  /** Reclaims what memory the kernel can from the cgroup. */
  reclaim(): Promise<void>;
}

function sandboxCgroup(
  dirs: readonly string[],
  events: {
    oomKills: () => Promise<number>;
    pidsDenied: () => Promise<number>;
    kill?: () => Promise<void>;
    freezer?: CgroupFreezer;
  },
): SandboxCgroup {
  let destroying: Promise<void> | undefined;
  const { freezer } = events;
  return {
    ...(freezer === undefined
      ? {}
      : {
          async freeze() {
            try {
              await freezer.freeze();
            } catch (error) {
              await freezer.thaw().catch(() => undefined);
              throw error;
            }
            // Best effort: what cannot be reclaimed (anonymous memory without swap) stays.
            await freezer.reclaim().catch(() => undefined);
          },
          thaw: () => freezer.thaw(),
        }),
    async add(pid) {
      for (const dir of dirs) await writeFile(join(dir, "cgroup.procs"), String(pid));
    },
    async counters() {
      const [oomKills, pidsDenied] = await Promise.all([events.oomKills(), events.pidsDenied()]);
      return { oomKills, pidsDenied };
    },
    destroy() {
      destroying ??= Promise.all(dirs.map((dir) => killAndRemove(dir, events.kill))).then(() => undefined);
      return destroying;
    },
  };
}
