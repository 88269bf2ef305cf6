import type { ScriptInput } from "@agent-runtime/mock-model";
import type { Block, SessionData, SessionEventOf } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/**
 * Human-in-the-loop tool permissions with the real agents, from one table:
 * `ask` mode turns each Bash call into a `session:permission:requested` event
 * (Claude Code's permission callback; OpenCode's own permission API under its
 * request id; Codex's and Gemini CLI's ACP permission requests) that a
 * person answers over REST; it fails closed.
 */
interface PermissionCase {
  readonly architecture: "claude-agent-sdk" | "opencode" | "codex" | "gemini";
  /** A shell command as the model calls it. */
  readonly step: (command: string) => { tool: string; input: Record<string, unknown> };
  /** The tool name the request shows. */
  readonly requestedTool: string;
  /**
   * Whether a denial's message reaches the agent. ACP has no message in a
   * permission answer: the agent gets its "reject once" option only.
   */
  readonly denyMessage: boolean;
  /**
   * Whether a denied call shows as a failed tool result. Codex and Gemini
   * CLI report no tool call for a call they were refused: the permission
   * events are its record.
   */
  readonly deniedCallReported: boolean;
}

const cases: PermissionCase[] = [
  {
    architecture: "claude-agent-sdk",
    step: (command) => ({ tool: "Bash", input: { command, description: "Create a marker" } }),
    requestedTool: "Bash",
    denyMessage: true,
    deniedCallReported: true,
  },
  {
    architecture: "opencode",
    step: (command) => ({ tool: "bash", input: { command, description: "Create a marker" } }),
    requestedTool: "bash",
    denyMessage: true,
    deniedCallReported: true,
  },
  {
    architecture: "codex",
    step: (command) => ({ tool: "exec_command", input: { cmd: command, workdir: "{{cwd}}" } }),
    requestedTool: "Bash",
    denyMessage: false,
    deniedCallReported: false,
  },
  {
    architecture: "gemini",
    step: (command) => ({ tool: "run_shell_command", input: { command, description: "Create a marker" } }),
    requestedTool: "Bash",
    denyMessage: false,
    deniedCallReported: false,
  },
];

const markers = ["allowed", "denied", "expired", "first", "second", "restarted"];
const scriptFor = (step: PermissionCase["step"]): ScriptInput => ({
  rules: markers.map((name) => ({
    name: `touch-${name}`,
    match: { prompt: `Touch ${name}` },
    replies: [step(`touch ${name}.marker`), "Finished."],
  })),
});

/** Claude Code's tool name; the runner maps it onto OpenCode's `bash` permission. */
const ASK_BASH = { permissions: { mode: "ask", tools: ["Bash"] } };

describe.each(cases)(
  "$architecture tool permissions (ask mode)",
  ({ architecture, step, requestedTool, denyMessage, deniedCallReported }) => {
    const script = scriptFor(step);
    let server: TestServer;

    beforeAll(async () => {
      server = await startTestServer({ script, permissionTimeoutMs: 2_000 });
    });
    afterAll(async () => {
      await server?.dispose();
    });

    async function createSession(): Promise<{ sessionId: string; recorder: SocketRecorder }> {
      const response = await fetch(`${server.url}/sessions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ agentProfileRef: "test", architecture, sessionOptions: ASK_BASH }),
      });
      expect(response.status).toBe(201);
      const { sessionId } = (await response.json()) as SessionData;
      const recorder = new SocketRecorder(server.url);
      await recorder.join(sessionId, 0);
      return { sessionId, recorder };
    }

    const send = (sessionId: string, content: string) =>
      fetch(`${server.url}/sessions/${sessionId}/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ content }),
      });

    const answer = (sessionId: string, requestId: string, body: unknown) =>
      fetch(`${server.url}/sessions/${sessionId}/permissions/${requestId}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });

    async function nextRequest(recorder: SocketRecorder, after = 0) {
      return (await recorder.waitFor(
        (e) => e.type === "session:permission:requested" && e.seq > after,
      )) as SessionEventOf<"session:permission:requested">;
    }

    function bashResult(recorder: SocketRecorder): Extract<Block, { type: "tool_result" }> | undefined {
      const results = recorder.events.flatMap((e) =>
        e.type === "session:block:complete" && e.block.type === "tool_result" ? [e.block] : [],
      );
      return results.at(-1);
    }

    const markerExists = async (sessionId: string, name: string) =>
      (await fetch(`${server.url}/sessions/${sessionId}/files/${name}.marker`)).status === 200;

    it("allow: the tool runs, and the request shows in the session data until answered", async () => {
      const { sessionId, recorder } = await createSession();
      await send(sessionId, "Touch allowed");
      const requested = await nextRequest(recorder);
      expect(requested.request.toolName).toBe(requestedTool);
      // The command, in the call's input (Gemini CLI gives none over ACP: its title is the command).
      expect(JSON.stringify([requested.request.input, requested.request.title])).toContain(
        "touch allowed.marker",
      );
      const data = (await (await fetch(`${server.url}/sessions/${sessionId}`)).json()) as SessionData;
      expect(data.pendingPermissions.map((p) => p.requestId)).toEqual([requested.request.requestId]);

      const response = await answer(sessionId, requested.request.requestId, { decision: "allow" });
      expect(response.status).toBe(200);
      await recorder.waitForTurns(1);
      expect(bashResult(recorder)?.isError).toBeFalsy();
      await recorder.waitFor(
        (e) => e.type === "session:file:created" && e.file.path === "allowed.marker",
        10_000,
      );
      expect(await markerExists(sessionId, "allowed")).toBe(true);
      const resolved = recorder.events.find((e) => e.type === "session:permission:resolved");
      expect(resolved).toMatchObject({ decision: "allow", reason: "answered" });
      // Answering twice is an error, not a second decision.
      const again = await answer(sessionId, requested.request.requestId, { decision: "deny" });
      expect(again.status).toBe(404);
      recorder.close();
    });

    it("deny: the tool does not run and the agent is told", async () => {
      const { sessionId, recorder } = await createSession();
      await send(sessionId, "Touch denied");
      const requested = await nextRequest(recorder);
      await answer(sessionId, requested.request.requestId, { decision: "deny", message: "Not today" });
      await recorder.waitForTurns(1);
      const result = bashResult(recorder);
      if (deniedCallReported) expect(result?.isError).toBe(true);
      else expect(result?.isError ?? true).toBe(true);
      if (denyMessage) expect(result?.content).toContain("Not today");
      expect(recorder.events.find((e) => e.type === "session:permission:resolved")).toMatchObject({
        decision: "deny",
        reason: "answered",
      });
      expect(await markerExists(sessionId, "denied")).toBe(false);
      recorder.close();
    });

    it("no answer: the request expires and is denied", async () => {
      const { sessionId, recorder } = await createSession();
      await send(sessionId, "Touch expired");
      const requested = await nextRequest(recorder);
      const resolved = await recorder.waitFor((e) => e.type === "session:permission:resolved", 10_000);
      expect(resolved).toMatchObject({
        requestId: requested.request.requestId,
        decision: "deny",
        reason: "expired",
      });
      await recorder.waitForTurns(1);
      if (deniedCallReported) expect(bashResult(recorder)?.isError).toBe(true);
      else expect(bashResult(recorder)?.isError ?? true).toBe(true);
      expect(await markerExists(sessionId, "expired")).toBe(false);
      recorder.close();
    });

    it("always: later calls of the same tool run without asking", async () => {
      const { sessionId, recorder } = await createSession();
      await send(sessionId, "Touch first");
      const requested = await nextRequest(recorder);
      await answer(sessionId, requested.request.requestId, { decision: "allow", always: true });
      await recorder.waitForTurns(1);
      await send(sessionId, "Touch second");
      await recorder.waitForTurns(2);
      expect(recorder.events.filter((e) => e.type === "session:permission:requested")).toHaveLength(1);
      expect(await markerExists(sessionId, "second")).toBe(true);
      recorder.close();
    });

    it("a server shutdown while a request is open denies it; nothing is silently allowed", async () => {
      const { sessionId, recorder } = await createSession();
      await send(sessionId, "Touch restarted");
      const requested = await nextRequest(recorder);
      await server.stop();
      expect(recorder.events.find((e) => e.type === "session:permission:resolved")).toMatchObject({
        requestId: requested.request.requestId,
        decision: "deny",
        reason: "cancelled",
      });
      recorder.close();
      server = await startTestServer({ dataDir: server.dataDir, script, permissionTimeoutMs: 2_000 });
      const data = (await (await fetch(`${server.url}/sessions/${sessionId}`)).json()) as SessionData;
      expect(data.pendingPermissions).toEqual([]);
      expect(await markerExists(sessionId, "restarted")).toBe(false);
    });
  },
);
