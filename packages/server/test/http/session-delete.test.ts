import { type Dirent, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type MockModel, type ScriptInput, startMockModel } from "@agent-runtime/mock-model";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { restClient } from "../support/rest.js";
import { sandboxPids } from "../support/sandbox-processes.js";
import { startServerProcess } from "../support/server-process.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { runTurnUntilFile } from "./run-turn.js";

/**
 * `DELETE /sessions/:id` of a session whose bubblewrap sandbox ran leaves
 * nothing of it (issue 14): no sandbox folder or disk image, no mount or loop
 * device, no process or cgroup, no file of its host uid, and the session is
 * gone. Whether the sandbox still runs, was torn down as idle, or belongs to
 * a server that restarted or crashed since.
 */
const script: ScriptInput = {
  rules: [
    {
      name: "write",
      match: { prompt: "Write a file" },
      replies: [
        { tool: "Bash", input: { command: "head -c 100000 /dev/urandom > data.bin", description: "Write" } },
        "Written.",
      ],
    },
  ],
};

/** What a running sandbox of a session has on this host besides its folder (its egress needs none: the server listens in its namespace). */
interface SandboxTraces {
  readonly hostUid: number;
}

/** The traces of the running sandbox of `sessionId` in `dataDir`. */
async function tracesOf(dataDir: string, sessionId: string): Promise<SandboxTraces> {
  const name = `session-${sessionId}`;
  const hostUid = Number((await readFile(join(dataDir, "sandboxes", name, "host-uid"), "utf8")).trim());
  return { hostUid };
}

/** What is left on this host of the sandbox of `sessionId` in `dataDir`, one line per leftover. */
function leftovers(dataDir: string, sessionId: string, traces: SandboxTraces): string[] {
  const name = `session-${sessionId}`;
  const sandboxDir = join(dataDir, "sandboxes", name);
  const found: string[] = [];
  if (exists(sandboxDir)) found.push(`folder ${sandboxDir}`);
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    if (line.includes(`/${name}/`)) found.push(`mount ${line}`);
  }
  for (const device of readdirSync("/sys/block").filter((entry) => entry.startsWith("loop"))) {
    const backing = read(`/sys/block/${device}/loop/backing_file`);
    if (backing?.includes(`/${name}/`)) found.push(`loop device ${device} on ${backing.trim()}`);
  }
  for (const pid of sandboxPids(name)) found.push(`process ${pid}`);
  for (const cgroup of cgroupsNamed(`local-${name}-`)) found.push(`cgroup ${cgroup}`);
  for (const path of filesOwnedBy(dataDir, traces.hostUid))
    found.push(`file of uid ${traces.hostUid}: ${path}`);
  return found;
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** Cgroup folders (cgroup v2, or v1 hierarchies) whose name starts with `prefix`. */
function cgroupsNamed(prefix: string): string[] {
  const found: string[] = [];
  const visit = (dir: string, depth: number) => {
    if (depth > 8) return;
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      if (entry.name.startsWith(prefix)) found.push(join(dir, entry.name));
      else visit(join(dir, entry.name), depth + 1);
    }
  };
  visit("/sys/fs/cgroup", 0);
  return found;
}

/** Paths below `dir` owned by `uid` (not following symlinks, not crossing into mounts of other file systems). */
function filesOwnedBy(dir: string, uid: number): string[] {
  const found: string[] = [];
  const visit = (path: string) => {
    let entries: string[];
    try {
      entries = readdirSync(path);
    } catch {
      return;
    }
    for (const entry of entries) {
      const child = join(path, entry);
      try {
        const stats = statSync(child, { throwIfNoEntry: false });
        if (stats?.uid === uid) found.push(child);
        if (stats?.isDirectory()) visit(child);
      } catch {
        // Gone meanwhile.
      }
    }
  };
  visit(dir);
  return found;
}

async function deleteSession(url: string, sessionId: string): Promise<void> {
  const response = await fetch(`${url}/sessions/${sessionId}`, { method: "DELETE" });
  expect(response.status).toBe(204);
  expect((await fetch(`${url}/sessions/${sessionId}`)).status).toBe(404);
}

describe("DELETE /sessions/:id leaves nothing of its local sandbox", () => {
  const servers: TestServer[] = [];
  let mock: MockModel;

  beforeAll(async () => {
    mock = await startMockModel({ script });
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.dispose()));
  });
  afterAll(async () => {
    await mock?.close();
  });

  const start = async (options: { dataDir?: string; idleTimeoutMs?: number } = {}) => {
    const server = await startTestServer({ mock, ...options });
    servers.push(server);
    return server;
  };

  /** A session whose sandbox ran one turn (on its disk image where the host can mount one). */
  const sessionWithSandbox = async (server: TestServer) => {
    const sessionId = await restClient(server.url).createSession();
    await runTurnUntilFile(server.url, sessionId, "Write a file", "data.bin");
    const traces = await tracesOf(server.dataDir, sessionId);
    return { sessionId, traces };
  };

  it("while its sandbox runs", async () => {
    const server = await start();
    const { sessionId, traces } = await sessionWithSandbox(server);
    expect((await restClient(server.url).session(sessionId)).runtime.sandboxStatus).toBe("running");
    await deleteSession(server.url, sessionId);
    expect(leftovers(server.dataDir, sessionId, traces)).toEqual([]);
  });

  it("after idle teardown terminated its sandbox", async () => {
    const server = await start({ idleTimeoutMs: 3_000 });
    const { sessionId, traces } = await sessionWithSandbox(server);
    const recorder = new SocketRecorder(server.url);
    try {
      await recorder.join(sessionId, 0);
      await recorder.waitFor(
        (e) => e.type === "session:status" && e.runtime.sandboxStatus === "terminated",
        15_000,
      );
    } finally {
      recorder.close();
    }
    await deleteSession(server.url, sessionId);
    expect(leftovers(server.dataDir, sessionId, traces)).toEqual([]);
  });

  it("after the server restarted", async () => {
    const first = await start();
    const { sessionId, traces } = await sessionWithSandbox(first);
    await first.stop();
    const second = await start({ dataDir: first.dataDir });
    await deleteSession(second.url, sessionId);
    expect(leftovers(second.dataDir, sessionId, traces)).toEqual([]);
  });

  it("after the server was killed (SIGKILL) with the sandbox running", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "agent-runtime-delete-"));
    try {
      const crashed = await startServerProcess({ dataDir, modelUrl: mock.url });
      let sessionId: string;
      let traces: SandboxTraces;
      try {
        sessionId = await restClient(crashed.url).createSession();
        await runTurnUntilFile(crashed.url, sessionId, "Write a file", "data.bin");
        traces = await tracesOf(dataDir, sessionId);
      } finally {
        await crashed.kill("SIGKILL");
      }
      const restarted = await startServerProcess({ dataDir, modelUrl: mock.url });
      try {
        await deleteSession(restarted.url, sessionId);
        expect(leftovers(dataDir, sessionId, traces)).toEqual([]);
      } finally {
        await restarted.kill("SIGTERM");
      }
    } finally {
      // Never delete through a mount a failed case left behind.
      const mounted = readFileSync("/proc/self/mountinfo", "utf8").includes(dataDir);
      if (!mounted) await rm(dataDir, { recursive: true, force: true });
    }
  });
});
