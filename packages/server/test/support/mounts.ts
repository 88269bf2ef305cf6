import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** Mount points below `dir` in this process's namespace (`/proc/mounts`), in mount order. */
export function mountsBelow(dir: string): string[] {
  return readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[1] ?? "")
    .filter((mountPoint) => mountPoint.startsWith(dir));
}

/** Lazily unmounts everything below `dir`, innermost first (a test's leftover sandbox disks). */
export function unmountAllBelow(dir: string): void {
  for (const mountPoint of mountsBelow(dir).reverse()) execFileSync("umount", ["-l", mountPoint]);
}
