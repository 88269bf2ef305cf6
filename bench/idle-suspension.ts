import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { startMockModel } from "@agent-runtime/mock-model";
import type { SessionEvent } from "@agent-runtime/protocol";
import { io, type Socket } from "socket.io-client";
import { descendantsOf } from "./process-tree.js";
import { startServeProcess } from "./server-process.js";
import { type Summary, summarize } from "./stats.js";

const MIB = 1024 * 1024;
/** How long the idle sandbox's CPU time is watched, running and suspended. */
const IDLE_MS = 5000;

export interface IdleSuspensionResult {
  /** Next message → first delta, agent running (not suspended). */
  readonly warmMs: Summary;
  /** Next message → first delta, sandbox suspended (thawed by the message). */
  readonly resumeMs: Summary;
  /** Next message → first delta, agent stopped and started again in its kept sandbox (native resume, no restore). */
  readonly restartMs: Summary;
  /**
   * The sandbox's processes while idle and running (another session's, whose idle CPU is measured), right
   * before this session's suspension, and once suspended (memory reclaimed where the kernel could).
   */
  readonly idleMemory: {
    readonly running: SandboxMemory;
    readonly beforeSuspension: SandboxMemory;
    readonly suspended: SandboxMemory;
  };
  /** CPU time the sandbox's processes used in 5 s idle, running and suspended. */
  readonly idleCpuMs: { readonly running: number; readonly suspended: number };
}

export interface SandboxMemory {
  readonly processes: number;
  readonly rssMiB: number;
  /** What those processes alone hold (freed when they exit). */
  readonly ussMiB: number;
}

export interface StoredSessionsResult {
  readonly sessions: number;
  /** The server's resident set after start, and with `sessions` stored sessions (created, never run). */
  readonly rssMiB: { readonly empty: number; readonly stored: number };
}

const REPLY = "The quick brown fox jumps over the lazy dog. ".repeat(4);

/** A session of a `serve` process, driven over REST and socket.io. */
class BenchSession {
  private readonly events: Array<{ name: string; event: SessionEvent; at: number }> = [];
  private waiters: Array<() => void> = [];

  private constructor(
    private readonly url: string,
    readonly id: string,
    private readonly socket: Socket,
  ) {
    socket.onAny((name: string, event: SessionEvent) => {
      this.events.push({ name, event, at: performance.now() });
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  static async create(url: string): Promise<BenchSession> {
    const created = (await (
      await fetch(`${url}/sessions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ agentProfileRef: "bench", architecture: "claude-agent-sdk" }),
      })
    ).json()) as { sessionId: string };
    const socket = io(url, { transports: ["websocket"] });
    await socket.timeout(10_000).emitWithAck("session:join", { sessionId: created.sessionId });
    return new BenchSession(url, created.sessionId, socket);
  }

  /** Sends a message and resolves with the ms from sending it to its first text delta, after its turn ended. */
  async turn(content = "bench"): Promise<number> {
    const from = this.events.length;
    const sentAt = performance.now();
    const sent = await fetch(`${this.url}/sessions/${this.id}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ content }),
    });
    if (sent.status !== 202) throw new Error(`idle suspension: message refused (${sent.status})`);
    const delta = await this.waitFor(from, (name) => name === "session:block:delta");
    await this.waitFor(from, (name) => name === "session:turn:completed");
    return delta.at - sentAt;
  }

  /** Waits for a `session:status` with `status` from now on. */
  status(status: string): Promise<unknown> {
    return this.waitFor(
      this.events.length,
      (name, event) =>
        name === "session:status" &&
        (event as { runtime?: { sandboxStatus?: string } }).runtime?.sandboxStatus === status,
    );
  }

  async patch(body: unknown): Promise<void> {
    const answer = await fetch(`${this.url}/sessions/${this.id}`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (answer.status !== 200) throw new Error(`idle suspension: PATCH refused (${answer.status})`);
  }

  close(): void {
    this.socket.close();
  }

  private async waitFor(
    from: number,
    matches: (name: string, event: SessionEvent) => boolean,
  ): Promise<{ at: number }> {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const found = this.events.slice(from).find(({ name, event }) => {
        if (
          name === "error" ||
          (name === "session:block:start" &&
            event.type === "session:block:start" &&
            event.block.type === "error")
        )
          throw new Error(`idle suspension: ${JSON.stringify(event)}`);
        return matches(name, event);
      });
      if (found) return found;
      if (Date.now() > deadline) throw new Error("idle suspension: timed out waiting for an event");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

function sandboxMemory(serverPid: number): SandboxMemory & { cpuMs: number } {
  const processes = descendantsOf(serverPid);
  const sum = (pick: (p: (typeof processes)[number]) => number) =>
    processes.reduce((total, p) => total + (Number.isNaN(pick(p)) ? 0 : pick(p)), 0);
  return {
    processes: processes.length,
    rssMiB: sum((p) => p.rssBytes) / MIB,
    ussMiB: sum((p) => p.ussBytes) / MIB,
    cpuMs: sum((p) => p.cpuSeconds) * 1000,
  };
}

async function withServe<T>(
  args: readonly string[],
  work: (url: string, pid: number) => Promise<T>,
): Promise<T> {
  const mock = await startMockModel({
    script: { rules: [{ match: { prompt: "bench" }, reply: { steps: [REPLY], chunkSize: 8 } }] },
  });
  const dataDir = await mkdtemp(join(tmpdir(), "agent-runtime-bench-suspend-"));
  await chmod(dataDir, 0o711);
  const serve = await startServeProcess(dataDir, mock.url, {}, args);
  try {
    return await work(serve.url, serve.process.pid!);
  } finally {
    await serve.stop();
    await mock.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/**
 * One Claude Code session of `agent-runtime serve` (local sandboxes, the
 * mock model): next message → first delta with the agent running, with its
 * sandbox suspended (`--suspend-after`), and with the agent stopped and
 * started again in its kept sandbox (the alternative to freezing); the
 * sandbox processes' memory and CPU while idle, running and suspended.
 */
export async function measureIdleSuspension(runs: number): Promise<IdleSuspensionResult> {
  const SUSPEND_AFTER_S = 1;
  const suspended = await withServe(["--suspend-after", String(SUSPEND_AFTER_S)], async (url, pid) => {
    const session = await BenchSession.create(url);
    try {
      await session.turn();
      const warm: number[] = [];
      for (let run = 0; run < runs; run++) warm.push(await session.turn());
      const beforeSuspension = sandboxMemory(pid);
      await session.status("suspended");
      const frozen = sandboxMemory(pid);
      await delay(IDLE_MS);
      const cpuMs = sandboxMemory(pid).cpuMs - frozen.cpuMs;
      const resume = [await session.turn()];
      for (let run = 1; run < runs; run++) {
        await session.status("suspended");
        resume.push(await session.turn());
      }
      return { warm, resume, beforeSuspension, memory: frozen, cpuMs };
    } finally {
      session.close();
    }
  });
  const restart = await withServe(["--suspend-after", "0"], async (url, pid) => {
    const session = await BenchSession.create(url);
    try {
      await session.turn();
      const memory = sandboxMemory(pid);
      await delay(IDLE_MS);
      const cpuMs = sandboxMemory(pid).cpuMs - memory.cpuMs;
      const times: number[] = [];
      for (let run = 0; run < runs; run++) {
        // New options: the next message stops the agent and starts it again in the same sandbox.
        await session.patch({ sessionOptions: { model: `claude-bench-${run}` } });
        await delay(500);
        times.push(await session.turn());
      }
      return { times, memory, cpuMs };
    } finally {
      session.close();
    }
  });
  const pick = ({ processes, rssMiB, ussMiB }: SandboxMemory) => ({ processes, rssMiB, ussMiB });
  return {
    warmMs: summarize(suspended.warm),
    resumeMs: summarize(suspended.resume),
    restartMs: summarize(restart.times),
    idleMemory: {
      running: pick(restart.memory),
      beforeSuspension: pick(suspended.beforeSuspension),
      suspended: pick(suspended.memory),
    },
    idleCpuMs: { running: restart.cpuMs, suspended: suspended.cpuMs },
  };
}

/** The server's resident memory with `sessions` stored sessions, created over REST and never run. */
export async function measureStoredSessions(sessions: number): Promise<StoredSessionsResult> {
  return withServe(["--rate-limit-per-ip", "0"], async (url, pid) => {
    const rss = async () =>
      Number(/^VmRSS:\s+(\d+) kB/m.exec(await readFile(`/proc/${pid}/status`, "utf8"))?.[1]) / 1024;
    await delay(1000);
    const empty = await rss();
    const batch = 50;
    for (let created = 0; created < sessions; created += batch) {
      await Promise.all(
        Array.from({ length: Math.min(batch, sessions - created) }, async () => {
          const answer = await fetch(`${url}/sessions`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ agentProfileRef: "bench", architecture: "claude-agent-sdk" }),
          });
          if (answer.status !== 201) throw new Error(`stored sessions: create refused (${answer.status})`);
        }),
      );
    }
    const listed = await fetch(`${url}/sessions`);
    if (listed.status !== 200) throw new Error(`stored sessions: list refused (${listed.status})`);
    await delay(2000);
    return { sessions, rssMiB: { empty, stored: await rss() } };
  });
}

export function printIdleSuspension(result: IdleSuspensionResult): void {
  const f = (s: Summary) =>
    `median ${s.median.toFixed(0)} ms (min ${s.min.toFixed(0)}, max ${s.max.toFixed(0)}, n=${s.n})`;
  console.log(`  next message → first delta, agent running: ${f(result.warmMs)}`);
  console.log(
    `  next message → first delta, sandbox suspended: ${f(result.resumeMs)} (target ≤ 300) ${result.resumeMs.median <= 300 ? "ok" : "OVER TARGET"}`,
  );
  console.log(
    `  next message → first delta, agent restarted in its kept sandbox (the alternative): ${f(result.restartMs)}`,
  );
  const m = (memory: SandboxMemory) =>
    `${memory.processes} processes, RSS ${memory.rssMiB.toFixed(1)} MiB, USS ${memory.ussMiB.toFixed(1)} MiB`;
  const idle = `${IDLE_MS / 1000} s idle`;
  console.log(
    `  idle sandbox, running: ${m(result.idleMemory.running)}; CPU in ${idle}: ${result.idleCpuMs.running.toFixed(0)} ms`,
  );
  console.log(`  the same sandbox right before its suspension: ${m(result.idleMemory.beforeSuspension)}`);
  console.log(
    `  idle sandbox, suspended: ${m(result.idleMemory.suspended)}; CPU in ${idle}: ${result.idleCpuMs.suspended.toFixed(0)} ms`,
  );
}

export function printStoredSessions(result: StoredSessionsResult): void {
  const { empty, stored } = result.rssMiB;
  console.log(
    `  server RSS: ${empty.toFixed(0)} MiB empty, ${stored.toFixed(0)} MiB with ${result.sessions} stored sessions (target ≤ 500) ${stored <= 500 ? "ok" : "OVER TARGET"}`,
  );
}
