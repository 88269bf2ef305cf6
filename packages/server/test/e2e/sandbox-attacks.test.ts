import { setTimeout as delay } from "node:timers/promises";
import type { ScriptInput } from "@agent-runtime/mock-model";
import type { Block } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sandboxNameFor } from "../../src/core/agent-launch.js";
import { percentile } from "../support/percentile.js";
import { restClient } from "../support/rest.js";
import { sandboxPids } from "../support/sandbox-processes.js";
import { notesRule } from "../support/scripts.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/**
 * What an agent's own tools can do from inside its sandbox, through the real
 * server and the real Claude Code: they cannot reach the runner that hosts
 * the agent (its channel to the server, its memory), and a fork bomb or a
 * memory bomb ends as a RESOURCE_LIMIT error on the session while the
 * server's `/health` stays fast and other sessions work.
 */

/** A file event the tools try to forge on the runner's channel; the session must never show it. */
const FORGED_PATH = "forged-by-a-tool.txt";
const FORGED_LINE = JSON.stringify({ type: "file", event: "created", path: FORGED_PATH, size: 1 });

/**
 * Finds the runner among the sandbox's processes and tries every way a
 * same-uid process has into it, printing one `name: ok|denied` line each.
 */
const ATTACK = [
  // The Node.js process running the runner's entry point (bwrap's init names it too).
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
  'r=""; for d in /proc/[0-9]*; do set -- $(tr "\\0" " " < $d/cmdline 2>/dev/null); case "$1 $*" in *bwrap*) ;; *runner/dist/main.js*|*runner/dist/local-runner/main.cjs*) r=${d#/proc/}; break;; esac; done',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
  'echo "runner: ${r:-none}"',
  `if printf '%s\\n' '${FORGED_LINE}' 2>/dev/null > /proc/$r/fd/1; then echo "write channel: ok"; else echo "write channel: denied"; fi`,
  'if head -c 1 /proc/$r/environ >/dev/null 2>&1; then echo "read environ: ok"; else echo "read environ: denied"; fi',
  'if ls /proc/$r/fd >/dev/null 2>&1; then echo "list fds: ok"; else echo "list fds: denied"; fi',
  // ptrace attach (x86-64: 101, arm64: 117), then detach; pidfd_open + pidfd_getfd of its stdout.
  'n=101; [ "$(uname -m)" = aarch64 ] && n=117',
  'perl -e \'my $r = syscall($ARGV[1], 16, $ARGV[0] + 0, 0, 0); print "ptrace: ", ($r == -1 ? "denied" : "ok"), "\\n"; syscall($ARGV[1], 17, $ARGV[0] + 0, 0, 0) if $r != -1\' "$r" "$n"',
  'perl -e \'my $fd = syscall(434, $ARGV[0] + 0, 0); my $r = $fd == -1 ? -1 : syscall(438, $fd, 1, 0); print "pidfd_getfd: ", ($r == -1 ? "denied" : "ok"), "\\n"\' "$r"',
].join("\n");

const script: ScriptInput = {
  rules: [
    notesRule,
    {
      name: "attack",
      match: { prompt: "Attack the runner" },
      replies: [{ tool: "Bash", input: { command: ATTACK, description: "Reach the runner" } }, "Done."],
    },
    {
      name: "fork bomb",
      match: { prompt: "Fork bomb" },
      replies: [
        {
          tool: "Bash",
          // Bounded: at most 3000 forks, each child sleeps 60 s (only the session's stop ends them within the test); the pids limit stops most.
          input: {
            command: "for i in $(seq 1 3000); do sleep 60 & done 2>/dev/null; echo forked",
            description: "Fork",
          },
        },
        "Forked.",
      ],
    },
    {
      name: "memory bomb",
      match: { prompt: "Memory bomb" },
      replies: [
        {
          tool: "Bash",
          // Bounded: 4 GiB at most, far over the sandbox's limit.
          input: {
            command:
              "node -e 'const held = []; for (let i = 0; i < 128; i++) held.push(Buffer.alloc(32 * 1024 * 1024, 1)); console.log(\"survived\")'",
            description: "Allocate",
          },
        },
        "Allocated.",
      ],
    },
  ],
};

type ErrorBlock = Extract<Block, { type: "error" }>;

describe("attacks from an agent's tools", () => {
  let server: TestServer;
  let rest: ReturnType<typeof restClient>;

  beforeAll(async () => {
    server = await startTestServer({
      script,
      // Small enough to hit fast; Claude Code itself needs a few hundred MB and ~100 threads.
      sandboxLimits: { pids: 256, memoryMiB: 1024 },
      server: { rateLimit: false },
    });
    rest = restClient(server.url);
  });
  afterAll(async () => {
    await server?.dispose();
  });

  /** Sends a message and waits, over a real socket, until its turn completed; returns the session then. */
  const runTurn = async (sessionId: string, content: string) => {
    const recorder = new SocketRecorder(server.url);
    try {
      const turns = (await rest.session(sessionId)).blocks.filter((b) => b.type === "user_message").length;
      await recorder.join(sessionId, 0);
      expect((await rest.send(sessionId, content)).status).toBe(202);
      await recorder.waitForTurns(turns + 1);
    } finally {
      recorder.close();
    }
    return rest.session(sessionId);
  };
  /** The watcher reports a file shortly after the tool that wrote it, possibly after the turn ended. */
  const expectFile = (sessionId: string, path: string) =>
    expect
      .poll(async () => (await rest.session(sessionId)).files.map((file) => file.path), { timeout: 10_000 })
      .toContain(path);
  const errors = (blocks: readonly Block[]) => blocks.filter((b): b is ErrorBlock => b.type === "error");
  const toolOutput = (blocks: readonly Block[]) =>
    blocks
      .flatMap((b) =>
        b.type === "tool_result"
          ? [typeof b.content === "string" ? b.content : JSON.stringify(b.content)]
          : [],
      )
      .join("\n");

  it("tools cannot reach the runner's channel, descriptors or memory", async () => {
    const sessionId = await rest.createSession();
    const session = await runTurn(sessionId, "Attack the runner");
    const output = toolOutput(session.blocks);
    expect(output).toMatch(/runner: \d+/);
    for (const attempt of ["write channel", "read environ", "list fds", "ptrace", "pidfd_getfd"]) {
      expect(output, attempt).toContain(`${attempt}: denied`);
    }
    expect(session.files.map((file) => file.path)).not.toContain(FORGED_PATH);
    expect(errors(session.blocks)).toEqual([]);
    // The agent goes on working.
    await runTurn(sessionId, "Create notes.txt");
    await expectFile(sessionId, "notes.txt");
  });

  it("a fork bomb is a RESOURCE_LIMIT error; /health stays fast; nothing survives stop; another session works", async () => {
    const sessionId = await rest.createSession();
    expect((await rest.send(sessionId, "Fork bomb")).status).toBe(202);
    const healthMs: number[] = [];
    const deadline = Date.now() + 60_000;
    let session = await rest.session(sessionId);
    const sandbox = sandboxNameFor(sessionId);
    // The most processes seen in the sandbox while the bomb ran: "nothing survives" below is not vacuous.
    let mostPids = 0;
    while (Date.now() < deadline) {
      if (healthMs.length % 5 === 0) mostPids = Math.max(mostPids, sandboxPids(sandbox).length);
      const started = performance.now();
      const health = await fetch(`${server.url}/health`);
      await health.arrayBuffer();
      healthMs.push(performance.now() - started);
      session = await rest.session(sessionId);
      if (errors(session.blocks).some((e) => e.code === "RESOURCE_LIMIT") && healthMs.length >= 50) break;
      await delay(10);
    }
    console.info("fork bomb /health", {
      probes: healthMs.length,
      p50: percentile(healthMs, 50),
      p95: percentile(healthMs, 95),
    });
    expect(errors(session.blocks).map((e) => e.code)).toContain("RESOURCE_LIMIT");
    expect(percentile(healthMs, 95)).toBeLessThan(50);
    expect(mostPids).toBeGreaterThan(0);

    const other = await rest.createSession();
    await runTurn(other, "Create notes.txt");
    await expectFile(other, "notes.txt");

    expect((await fetch(`${server.url}/sessions/${sessionId}`, { method: "DELETE" })).status).toBeLessThan(
      300,
    );
    const gone = Date.now() + 5000;
    while (sandboxPids(sandbox).length > 0 && Date.now() < gone) await delay(50);
    expect(sandboxPids(sandbox)).toEqual([]);
  });

  it("a memory bomb in a tool is a RESOURCE_LIMIT error and the agent finishes its turn", async () => {
    const sessionId = await rest.createSession();
    let session = await runTurn(sessionId, "Memory bomb");
    expect(toolOutput(session.blocks)).not.toMatch(/^survived$/m);
    // Limits are read a few times a second: the error may follow the turn's end by a moment.
    const deadline = Date.now() + 3000;
    while (errors(session.blocks).length === 0 && Date.now() < deadline) {
      await delay(100);
      session = await rest.session(sessionId);
    }
    expect(errors(session.blocks).map((e) => e.code)).toEqual(["RESOURCE_LIMIT"]);
    const answer = session.blocks.filter((b) => b.type === "assistant_text").at(-1);
    expect(answer).toMatchObject({ content: "Allocated." });
  });
});
