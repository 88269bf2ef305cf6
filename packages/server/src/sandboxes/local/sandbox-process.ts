import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import type { Readable } from "node:stream";
import { setTimeout as delay } from "node:timers/promises";
import type { ExitStatus, SandboxProcess } from "../sandbox-provider.js";

/** Exit status reported when the process could not be started at all (like a shell's "command not found"). */
const SPAWN_FAILED: ExitStatus = { code: 127, signal: null };

/**
 * Adapts a spawned child (bwrap, or the command itself without isolation) to
 * `SandboxProcess`. `pid` is the child's host pid (bwrap's, when isolated).
 * `deliver` sends a signal to what the process stands for (e.g. the command's
 * process group); it is only called while the child has not exited.
 * `streams` are the command's stdio when they are not the child's own 0-2.
 */
export function sandboxProcess(
  child: ChildProcess,
  deliver: (signal: NodeJS.Signals) => void,
  streams: Pick<SandboxProcess, "stdin" | "stdout" | "stderr"> = {
    stdin: child.stdin!,
    stdout: child.stdout!,
    stderr: child.stderr!,
  },
): SandboxProcess {
  let done = false;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once("error", () => {
      if (child.pid === undefined) {
        done = true;
        resolve(SPAWN_FAILED);
      }
    });
    child.once("close", (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
  });
  return {
    pid: child.pid,
    ...streams,
    exited,
    kill(signal: NodeJS.Signals = "SIGTERM") {
      if (!done && child.exitCode === null && child.signalCode === null) deliver(signal);
    },
  };
}

/**
 * Signals a bwrap sandbox once its init pid is known (`readInitPid`), never
 * bwrap itself while it sets up: bwrap dying before its child has armed
 * `--die-with-parent` would orphan the child. SIGKILL goes to the init, whose
 * death ends every process of the pid namespace; other signals go to the
 * init's process group, which holds the command (`--new-session`), so that
 * it can shut down gracefully. Without an init pid (bwrap failed early) the
 * signal goes to bwrap.
 */
export async function signalSandbox(
  child: ChildProcess,
  initPid: Promise<number | undefined>,
  signal: NodeJS.Signals,
): Promise<void> {
  const pid = await initPid;
  const running = () => child.exitCode === null && child.signalCode === null;
  if (!running()) return;
  if (pid === undefined) {
    child.kill(signal);
    return;
  }
  if (signal === "SIGKILL") {
    killQuietly(pid, signal);
    return;
  }
  // The init ignores signals from outside its namespace, so wait until its
  // group also holds the command (forked a moment after bwrap reports the pid).
  for (let attempt = 0; attempt < 200 && running() && !hasChildren(pid); attempt++) await delay(5);
  if (running()) killQuietly(-pid, signal);
}

function hasChildren(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim() !== "";
  } catch {
    return false;
  }
}

function killQuietly(target: number, signal: NodeJS.Signals): void {
  try {
    process.kill(target, signal);
  } catch {
    // Already gone.
  }
}

/**
 * Reads bwrap's `--info-fd` report and returns the host pid of the sandbox's
 * init (`child-pid`), whose process group is the command's. Resolves as soon
 * as the JSON is complete; undefined when bwrap exits before reporting.
 */
export function readInitPid(info: Readable): Promise<number | undefined> {
  return new Promise((resolve) => {
    let text = "";
    info.setEncoding("utf8");
    info.on("data", (chunk: string) => {
      text += chunk;
      try {
        const pid = (JSON.parse(text) as { "child-pid"?: unknown })["child-pid"];
        resolve(typeof pid === "number" ? pid : undefined);
      } catch {
        // Incomplete JSON: wait for more.
      }
    });
    info.once("close", () => resolve(undefined));
    info.once("error", () => resolve(undefined));
  });
}
