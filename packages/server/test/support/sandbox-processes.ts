import { readdirSync, readFileSync } from "node:fs";

/**
 * Host pids of every process of the sandbox: those in its cgroups (named
 * `local-<sandbox>-…`) or naming its folder, and all their descendants.
 */
export function sandboxPids(sandboxName: string): number[] {
  const found = new Set<number>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (
        readFileSync(`/proc/${pid}/cgroup`, "utf8").includes(`/local-${sandboxName}-`) ||
        readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(`/${sandboxName}/`)
      ) {
        found.add(pid);
      }
    } catch {
      // Gone meanwhile.
    }
  }
  const queue = [...found];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    for (const task of safeReaddir(`/proc/${pid}/task`)) {
      const children = safeRead(`/proc/${pid}/task/${task}/children`).split(" ").filter(Boolean).map(Number);
      for (const child of children) {
        if (!found.has(child)) {
          found.add(child);
          queue.push(child);
        }
      }
    }
  }
  return [...found];
}

const safeReaddir = (path: string) => {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
};
const safeRead = (path: string) => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
};

/** Command lines (arguments joined by spaces) of the sandbox's processes. */
export function sandboxCommands(sandboxName: string): string[] {
  return sandboxPids(sandboxName).map((pid) => safeRead(`/proc/${pid}/cmdline`).split("\0").join(" ").trim());
}

/** Whether the freezer of process `pid`'s cgroup holds it frozen (cgroup v1 `freezer.state`, or v2 `cgroup.events`). */
export function frozen(pid: number): boolean {
  const lines = readFileSync(`/proc/${pid}/cgroup`, "utf8").trim().split("\n");
  const v1 = lines.map((line) => line.split(":")).find(([, controllers]) => controllers === "freezer");
  if (v1?.[2] && v1[2] !== "/") {
    return readFileSync(`/sys/fs/cgroup/freezer${v1[2]}/freezer.state`, "utf8").trim() === "FROZEN";
  }
  const v2 = lines.map((line) => line.split(":")).find(([id]) => id === "0");
  if (!v2?.[2]) return false;
  return /^frozen 1$/m.test(readFileSync(`/sys/fs/cgroup${v2[2]}/cgroup.events`, "utf8"));
}
