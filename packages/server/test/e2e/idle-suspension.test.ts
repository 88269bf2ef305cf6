import type { ScriptInput } from "@agent-runtime/mock-model";
import type { SessionEvent } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cpuTimeMs } from "../support/process-stats.js";
import { restClient } from "../support/rest.js";
import { frozen, sandboxPids } from "../support/sandbox-processes.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/**
 * Idle suspension with real bubblewrap sandboxes and the real Claude Code
 * against the mock model: an idle session's sandbox is frozen (its
 * processes, a busy loop the agent left running included, use no CPU), the
 * next message thaws it and streams from the same agent process, the files
 * are as they were, and a suspended session can be interrupted and deleted.
 */
const SUSPEND_AFTER_MS = 500;

const script: ScriptInput = {
  rules: [
    {
      name: "write",
      match: { prompt: "Write the note" },
      replies: [
        {
          tool: "Bash",
          input: {
            // A process the agent leaves running: it spins until the sandbox is frozen.
            command:
              "echo kept > note.txt && (nohup nice -n 19 sh -c 'while :; do :; done' >/dev/null 2>&1 &)",
            description: "Write",
          },
        },
        "Written.",
      ],
    },
    {
      name: "read",
      match: { prompt: "Read the note" },
      replies: [{ tool: "Bash", input: { command: "cat note.txt", description: "Read" } }, "Read."],
    },
    {
      name: "slow",
      match: { prompt: "Count slowly" },
      reply: {
        steps: ["one two three four five six seven eight nine ten ".repeat(6)],
        chunkSize: 4,
        chunkDelayMs: 50,
      },
    },
    { name: "hello", match: { prompt: "Hello" }, reply: "Hi again." },
  ],
};

function totalCpuMs(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      total += cpuTimeMs(pid);
    } catch {
      // Exited meanwhile.
    }
  }
  return total;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("idle suspension", () => {
  let server: TestServer;
  const recorders: SocketRecorder[] = [];

  beforeAll(async () => {
    server = await startTestServer({ script, runtime: { suspendAfterMs: SUSPEND_AFTER_MS } });
  });
  afterAll(async () => {
    for (const recorder of recorders) recorder.close();
    await server?.dispose();
  });

  async function session(): Promise<{ id: string; recorder: SocketRecorder }> {
    const id = await restClient(server.url).createSession({ agentProfileRef: "test" });
    const recorder = new SocketRecorder(server.url);
    recorders.push(recorder);
    await recorder.join(id, 0);
    return { id, recorder };
  }

  const statuses = (recorder: SocketRecorder) =>
    recorder.events.flatMap((e) => (e.type === "session:status" ? [e.runtime.sandboxStatus] : []));

  async function suspended(recorder: SocketRecorder, count: number): Promise<void> {
    await recorder.waitFor(() => statuses(recorder).filter((s) => s === "suspended").length >= count, 30_000);
  }

  it("freezes an idle session, and the next message thaws the same agent with its files intact", async () => {
    const { id, recorder } = await session();
    const rest = restClient(server.url);
    expect((await rest.send(id, "Write the note")).status).toBe(202);
    await recorder.waitForTurns(1);
    const before = (await rest.session(id)).runtime;
    expect(before.sandboxStatus).toBe("running");

    const pids = sandboxPids(`session-${id}`);
    expect(pids.length).toBeGreaterThan(1);
    // The agent's busy loop runs until the sandbox is frozen.
    const spinning = totalCpuMs(pids);
    await suspended(recorder, 1);
    expect((await rest.session(id)).runtime.sandboxStatus).toBe("suspended");
    const frozenPids = sandboxPids(`session-${id}`);
    expect(frozenPids.length).toBeGreaterThan(1);
    expect(frozenPids.filter((pid) => !frozen(pid))).toEqual([]);
    const atRest = totalCpuMs(frozenPids);
    expect(atRest).toBeGreaterThan(spinning);
    await sleep(1500);
    expect(totalCpuMs(frozenPids)).toBe(atRest);

    // Files are served from the kept disk while the agent is frozen.
    const file = await fetch(`${server.url}/sessions/${id}/files/note.txt`);
    expect(file.status).toBe(200);
    expect(await file.text()).toBe("kept\n");
    const put = await fetch(`${server.url}/sessions/${id}/files/meanwhile.txt`, {
      method: "PUT",
      headers: { "content-type": "application/octet-stream" },
      body: "written",
    });
    expect(put.status).toBeLessThan(300);
    expect(await (await fetch(`${server.url}/sessions/${id}/files/meanwhile.txt`)).text()).toBe("written");
    expect((await rest.session(id)).runtime.sandboxStatus).toBe("suspended");

    const sentAt = recorder.events.length;
    expect((await rest.send(id, "Hello there")).status).toBe(202);
    await recorder.waitForTurns(2);
    const answer = recorder.events
      .slice(sentAt)
      .filter(
        (e): e is Extract<SessionEvent, { type: "session:block:delta" }> => e.type === "session:block:delta",
      )
      .map((e) => e.delta)
      .join("");
    expect(answer).toContain("Hi again.");
    const after = (await rest.session(id)).runtime;
    // Thawed, not restarted: the same sandbox and agent process.
    expect(after.sandboxId).toBe(before.sandboxId);
    expect(after.agentPid).toBe(before.agentPid);
    expect(statuses(recorder).slice(-2)).toContain("running");

    // Suspended again after that turn; the agent reads the note it wrote before both suspensions.
    await suspended(recorder, 2);
    expect((await rest.send(id, "Read the note")).status).toBe(202);
    await recorder.waitForTurns(3);
    const result = recorder.events.find(
      (e) =>
        e.type === "session:block:complete" &&
        e.block.type === "tool_result" &&
        String(e.block.content).includes("kept"),
    );
    expect(result).toBeDefined();
    expect((await rest.session(id)).runtime.agentPid).toBe(before.agentPid);
  });

  it("interrupts a turn that woke a suspended session, and deletes a suspended session", async () => {
    const { id, recorder } = await session();
    const rest = restClient(server.url);
    expect((await rest.send(id, "Hello")).status).toBe(202);
    await recorder.waitForTurns(1);
    await suspended(recorder, 1);

    // Nothing runs: the interrupt says so, and the session goes on.
    expect(await (await rest.interrupt(id)).json()).toEqual({ interrupted: false });
    const sentAt = recorder.events.length;
    expect((await rest.send(id, "Count slowly")).status).toBe(202);
    await recorder.waitFor((e) => recorder.events.indexOf(e) >= sentAt && e.type === "session:block:delta");
    expect(await (await rest.interrupt(id)).json()).toEqual({ interrupted: true });
    const completed = await recorder.waitFor(
      (e) => recorder.events.indexOf(e) >= sentAt && e.type === "session:turn:completed",
    );
    expect(completed).toMatchObject({ stopReason: "interrupted" });

    await suspended(recorder, 2);
    const pids = sandboxPids(`session-${id}`);
    expect(pids.length).toBeGreaterThan(1);
    const started = Date.now();
    const deleted = await fetch(`${server.url}/sessions/${id}`, { method: "DELETE" });
    expect(deleted.status).toBe(204);
    // Frozen processes are killed, not left waiting for a graceful stop they cannot make.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(sandboxPids(`session-${id}`)).toEqual([]);
    expect((await fetch(`${server.url}/sessions/${id}`)).status).toBe(404);
  });

  it("counts a suspended sandbox against its tenant's running-sandbox quota", async () => {
    const key = "alpha-key";
    const quota = await startTestServer({
      mock: server.mock,
      apiKeys: [{ tenant: "alpha", key }],
      runtime: { suspendAfterMs: SUSPEND_AFTER_MS, quotas: { default: { runningSandboxes: 1 } } },
    });
    const recorder = new SocketRecorder(quota.url, { token: key });
    recorders.push(recorder);
    try {
      const call = (path: string, json: unknown) =>
        fetch(`${quota.url}${path}`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
          body: JSON.stringify(json),
        });
      const create = async () =>
        ((await (await call("/sessions", { agentProfileRef: "test" })).json()) as { sessionId: string })
          .sessionId;
      const [first, second] = [await create(), await create()];
      await recorder.join(first, 0);
      expect((await call(`/sessions/${first}/messages`, { content: "Hello" })).status).toBe(202);
      await recorder.waitForTurns(1);
      await suspended(recorder, 1);

      const refused = await call(`/sessions/${second}/messages`, { content: "Hello" });
      expect(refused.status).toBe(429);
      expect(await refused.json()).toMatchObject({
        error: { code: "QUOTA_EXCEEDED", details: { quota: "runningSandboxes", limit: 1 } },
      });
      // The suspended session itself goes on.
      expect((await call(`/sessions/${first}/messages`, { content: "Hello" })).status).toBe(202);
      await recorder.waitForTurns(2);
    } finally {
      await quota.dispose();
    }
  });

  it("still tears a suspended sandbox down after the idle timeout; the next message restores it", async () => {
    const idle = await startTestServer({
      mock: server.mock,
      idleTimeoutMs: 3000,
      runtime: { suspendAfterMs: SUSPEND_AFTER_MS },
    });
    const recorder = new SocketRecorder(idle.url);
    recorders.push(recorder);
    try {
      const rest = restClient(idle.url);
      const id = await rest.createSession({ agentProfileRef: "test" });
      await recorder.join(id, 0);
      expect((await rest.send(id, "Write the note")).status).toBe(202);
      await recorder.waitForTurns(1);
      const first = (await rest.session(id)).runtime;
      await suspended(recorder, 1);
      await recorder.waitFor(
        () => statuses(recorder).slice(statuses(recorder).indexOf("suspended")).includes("terminated"),
        30_000,
      );
      expect(sandboxPids(`session-${id}`)).toEqual([]);

      expect((await rest.send(id, "Read the note")).status).toBe(202);
      await recorder.waitForTurns(2);
      const result = recorder.events.find(
        (e) =>
          e.type === "session:block:complete" &&
          e.block.type === "tool_result" &&
          String(e.block.content).includes("kept"),
      );
      expect(result).toBeDefined();
      expect((await rest.session(id)).runtime.sandboxId).not.toBe(first.sandboxId);
    } finally {
      await idle.dispose();
    }
  });
});
