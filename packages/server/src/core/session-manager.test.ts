import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SessionRecord } from "@agent-runtime/protocol";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createClaudeAgentSdkArchitecture } from "../agents/claude-agent-sdk/claude-agent-sdk-architecture.js";
import { createMemoryPersistenceAdapter } from "../persistence/memory/memory-persistence-adapter.js";
import { createLocalSandboxProvider } from "../sandboxes/local/local-sandbox-provider.js";
import { createFakeSandboxProvider } from "../testing/fake-sandbox-provider.js";
import { type AgentRuntime, createAgentRuntime } from "./agent-runtime.js";
import { emptyUsage } from "./usage.js";

describe("SessionManager without an agent", () => {
  let dir: string;
  let runtime: AgentRuntime;
  const persistence = createMemoryPersistenceAdapter();

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "session-manager-"));
    // Sandboxes run as other users, which must be able to enter it.
    await chmod(dir, 0o711);
    runtime = createAgentRuntime({
      persistence,
      sandbox: createLocalSandboxProvider({ rootDir: join(dir, "sandboxes") }),
      agents: [{ id: "p", name: "Profile" }],
      logger: pino({ level: "silent" }),
    });
    await runtime.start();
  });
  afterEach(async () => {
    await runtime.shutdown();
    await rm(dir, { recursive: true, force: true });
  });

  it("creates sessions without a sandbox and lists them", async () => {
    const session = await runtime.sessions.create({ agentProfileRef: "p" });
    expect(session.summary().runtime).toMatchObject({
      isLoaded: true,
      sandboxStatus: "pending",
      busy: false,
    });
    const listed = await runtime.sessions.list();
    expect(listed.map((s) => s.sessionId)).toContain(session.id);
  });

  it("resolves permission requests left open by a crashed server as expired, denied", async () => {
    const now = new Date().toISOString();
    const record: SessionRecord = {
      sessionId: "crashed",
      agentProfileRef: "p",
      architecture: "claude-agent-sdk",
      sessionOptions: {},
      createdAt: now,
      updatedAt: now,
      lastSeq: 41,
      usage: emptyUsage(),
      nativeSessionId: "native",
      pendingPermissions: [
        {
          requestId: "r1",
          toolName: "Bash",
          input: { command: "rm -rf /" },
          requestedAt: now,
          expiresAt: now,
        },
      ],
    };
    await persistence.createSession(record);
    const session = await runtime.sessions.get("crashed");
    expect(session.snapshot().pendingPermissions).toEqual([]);
    expect(session.log.eventsAfter(41)).toEqual([
      expect.objectContaining({
        type: "session:permission:resolved",
        seq: 42,
        requestId: "r1",
        decision: "deny",
        reason: "expired",
      }),
    ]);
    await session.sync();
    expect((await persistence.loadSession("crashed"))?.pendingPermissions).toEqual([]);
    expect(() => session.answerPermission("r1", { decision: "allow" })).toThrow(
      expect.objectContaining({ code: "PERMISSION_REQUEST_NOT_FOUND" }),
    );
  });

  it("refuses ask mode for an architecture that cannot ask, with UNSUPPORTED", async () => {
    const claude = createClaudeAgentSdkArchitecture();
    const cannotAsk = { ...claude, capabilities: { ...claude.capabilities, permissions: false } };
    const strict = createAgentRuntime({
      persistence: createMemoryPersistenceAdapter(),
      sandbox: createLocalSandboxProvider({ rootDir: join(dir, "strict") }),
      agents: [{ id: "p", name: "Profile" }],
      architectures: [cannotAsk],
      logger: pino({ level: "silent" }),
    });
    await expect(
      strict.sessions.create({ agentProfileRef: "p", sessionOptions: { permissions: { mode: "ask" } } }),
    ).rejects.toMatchObject({ code: "UNSUPPORTED" });
    await expect(strict.sessions.create({ agentProfileRef: "p" })).resolves.toBeDefined();
    await strict.shutdown();
  });

  it("rejects unknown profiles and architectures with stable codes", async () => {
    await expect(runtime.sessions.create({ agentProfileRef: "nope" })).rejects.toMatchObject({
      code: "PROFILE_NOT_FOUND",
    });
    await expect(runtime.sessions.get("missing")).rejects.toMatchObject({ code: "SESSION_NOT_FOUND" });
  });
});

describe("SessionManager with a fake sandbox provider", () => {
  it("deleting a session removes its sandbox and what the provider keeps for it", async () => {
    const provider = createFakeSandboxProvider();
    const runtime = createAgentRuntime({
      persistence: createMemoryPersistenceAdapter(),
      sandbox: provider,
      agents: [{ id: "p", name: "Profile" }],
      logger: pino({ level: "silent" }),
    });
    await runtime.start();
    const session = await runtime.sessions.create({ agentProfileRef: "p" });
    const ended = new Promise<void>((resolve) =>
      session.subscribe((event) => {
        if (event.type === "session:turn:completed") resolve();
      }),
    );
    session.sendMessage("hello");
    await ended;
    await runtime.sessions.destroy(session.id);
    expect(provider.removed).toEqual([`session-${session.id}`]);
    expect(provider.sandboxes.every((sandbox) => sandbox.isTerminated)).toBe(true);
    await runtime.shutdown();
  });
});
