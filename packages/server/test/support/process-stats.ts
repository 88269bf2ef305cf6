import { readFileSync, writeFileSync } from "node:fs";

/** A `/proc/<pid>/status` figure in bytes (`VmRSS`: resident now; `VmHWM`: peak resident since start or reset). */
function statusBytes(pid: number, field: "VmRSS" | "VmHWM"): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status);
  if (!match) throw new Error(`no ${field} for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** The resident memory of process `pid`, in bytes. */
export function residentBytes(pid: number): number {
  return statusBytes(pid, "VmRSS");
}

/** The peak resident memory of process `pid` since it started or since `resetPeakResident`, in bytes. */
export function peakResidentBytes(pid: number): number {
  return statusBytes(pid, "VmHWM");
}

/** Resets the peak that `peakResidentBytes` reports to the current resident memory (Linux `clear_refs`). */
export function resetPeakResident(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, "5");
}

export const MIB = 1024 * 1024;

/** CPU time process `pid` has used so far (user and system), in ms. */
export function cpuTimeMs(pid: number): number {
  // Fields after the command name (which may hold spaces); utime and stime are the 12th and 13th, in clock ticks.
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** Linux's `USER_HZ`, fixed at 100 on every architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;
