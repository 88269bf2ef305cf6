import { readdirSync, readFileSync } from "node:fs";

/** One live process as `/proc` shows it. */
export interface ProcessSample {
  readonly pid: number;
  readonly ppid: number;
  /** `argv`, as `/proc/<pid>/cmdline` holds it. */
  readonly argv: readonly string[];
  /** User + system CPU time of the process itself (not of its reaped children), in seconds. */
  readonly cpuSeconds: number;
  /** Resident set (`VmRSS`), in bytes. */
  readonly rssBytes: number;
  /**
   * Proportional set (`Pss` of `smaps_rollup`): pages shared with other
   * processes (e.g. the `node` binary's text) count divided by the number of
   * sharers. NaN where it cannot be read.
   */
  readonly pssBytes: number;
  /** Unique set (`Private_Clean` + `Private_Dirty`): what this process alone holds, freed when it exits. NaN where unreadable. */
  readonly ussBytes: number;
}

/** Clock ticks per second of `/proc/<pid>/stat` (USER_HZ, 100 on every Linux architecture Node supports). */
const USER_HZ = 100;

/** Every live process below `root` (children, their children, …), not `root` itself. */
export function descendantsOf(root: number): ProcessSample[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readProc(pid, "stat");
    if (stat === undefined) continue;
    // `comm` may hold spaces and parentheses: the fields follow the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    parents.set(pid, Number(fields[1]));
  }
  const below = new Set<number>([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parents) {
      if (!below.has(pid) && below.has(ppid)) {
        below.add(pid);
        grew = true;
      }
    }
  }
  below.delete(root);
  return [...below].map(sample).filter((found): found is ProcessSample => found !== undefined);
}

function sample(pid: number): ProcessSample | undefined {
  const stat = readProc(pid, "stat");
  const status = readProc(pid, "status");
  const cmdline = readProc(pid, "cmdline");
  if (stat === undefined || status === undefined || cmdline === undefined) return undefined;
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // After the state (field 3): ppid is field 4, utime 14, stime 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const rss = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
  const rollup = readProc(pid, "smaps_rollup") ?? "";
  const kb = (field: string) => {
    const value = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1];
    return value === undefined ? Number.NaN : Number(value) * 1024;
  };
  return {
    pid,
    ppid: Number(fields[1]),
    argv: cmdline.split("\0").filter((part) => part !== ""),
    cpuSeconds: (utime + stime) / USER_HZ,
    rssBytes: rss,
    pssBytes: kb("Pss"),
    ussBytes: kb("Private_Clean") + kb("Private_Dirty"),
  };
}

function readProc(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return undefined;
  }
}

/** Those of `processes` below `pid` (children, their children, …), from one sample of them all. */
export function processesBelow(pid: number, processes: readonly ProcessSample[]): ProcessSample[] {
  const found: ProcessSample[] = [];
  const parents = new Set([pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const process of processes) {
      if (!parents.has(process.pid) && parents.has(process.ppid)) {
        parents.add(process.pid);
        found.push(process);
        grew = true;
      }
    }
  }
  return found;
}
