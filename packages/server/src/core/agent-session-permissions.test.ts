import { describe, expect, it } from "vitest";
import type { FakePermissionAnswer, FakeRunnerScript } from "../testing/fake-runner.js";
import {
  type SessionHarness,
  type SessionHarnessOptions,
  useSessions,
} from "./__fixtures__/agent-session-harness.js";

const startSessionAsking = useSessions({ sessionOptions: { permissions: { mode: "ask" } } });

/** A session whose permission policy is `ask`, with the fake runner playing `runner`. */
function start(runner: FakeRunnerScript, options: SessionHarnessOptions = {}): Promise<SessionHarness> {
  return startSessionAsking({ runner, ...options });
}

describe("AgentSession permissions", () => {
  it("shows a request until it is answered; allow reaches the runner and resolves it once", async () => {
    const answers: FakePermissionAnswer[] = [];
    const h = await start(async (turn) => {
      answers.push(await turn.askPermission({ toolName: "Bash", input: { command: "ls" }, title: "Run ls" }));
    });
    const { turnId } = h.session.sendMessage("List files");
    const { request } = await h.next("session:permission:requested");
    expect(h.provider.lastSandbox.lastRunner.config.permissions).toEqual({ mode: "ask" });
    expect(request).toMatchObject({ toolName: "Bash", input: { command: "ls" }, title: "Run ls" });
    expect(Date.parse(request.expiresAt) - Date.parse(request.requestedAt)).toBe(1_000);
    expect(h.session.snapshot().pendingPermissions).toEqual([request]);

    expect(h.session.answerPermission(request.requestId, { decision: "allow" })).toEqual({
      requestId: request.requestId,
      decision: "allow",
    });
    await h.completed(turnId);
    expect(answers).toEqual([{ decision: "allow" }]);
    expect(h.ofType("session:permission:resolved")).toEqual([
      expect.objectContaining({ requestId: request.requestId, decision: "allow", reason: "answered" }),
    ]);
    expect(h.session.snapshot().pendingPermissions).toEqual([]);
    expect(() => h.session.answerPermission(request.requestId, { decision: "deny" })).toThrow(
      expect.objectContaining({ code: "PERMISSION_REQUEST_NOT_FOUND" }),
    );
  });

  it("deny reaches the runner with its message", async () => {
    const answers: FakePermissionAnswer[] = [];
    const h = await start(async (turn) => {
      answers.push(await turn.askPermission({ toolName: "Bash", input: { command: "rm -rf /" } }));
    });
    const { turnId } = h.session.sendMessage("Clean up");
    const { request } = await h.next("session:permission:requested");
    h.session.answerPermission(request.requestId, { decision: "deny", message: "Not today" });
    await h.completed(turnId);
    expect(answers).toEqual([{ decision: "deny", message: "Not today" }]);
    expect(h.ofType("session:permission:resolved")).toEqual([
      expect.objectContaining({ decision: "deny", reason: "answered" }),
    ]);
  });

  it("always: later requests for the same tool are allowed without asking; other tools still ask", async () => {
    const answers: Array<[string, string]> = [];
    const h = await start(async (turn) => {
      for (const toolName of ["Bash", "Bash", "Write"]) {
        answers.push([toolName, (await turn.askPermission({ toolName })).decision]);
      }
    });
    const { turnId } = h.session.sendMessage("Work");
    const first = await h.next("session:permission:requested");
    h.session.answerPermission(first.request.requestId, { decision: "allow", always: true });
    const write = await h.next("session:permission:requested", (event) => event.request.toolName === "Write");
    h.session.answerPermission(write.request.requestId, { decision: "deny" });
    await h.completed(turnId);
    expect(answers).toEqual([
      ["Bash", "allow"],
      ["Bash", "allow"],
      ["Write", "deny"],
    ]);
    expect(h.ofType("session:permission:requested").map((event) => event.request.toolName)).toEqual([
      "Bash",
      "Write",
    ]);
  });

  it("an unanswered request expires after permissionTimeoutMs and is denied", async () => {
    const answers: FakePermissionAnswer[] = [];
    const h = await start(
      async (turn) => {
        answers.push(await turn.askPermission({ toolName: "Bash" }));
      },
      { deps: { permissionTimeoutMs: 20 } },
    );
    const { turnId } = h.session.sendMessage("Wait");
    const { request } = await h.next("session:permission:requested");
    await h.completed(turnId);
    expect(answers).toEqual([{ decision: "deny", message: expect.any(String) }]);
    expect(h.ofType("session:permission:resolved")).toEqual([
      expect.objectContaining({ requestId: request.requestId, decision: "deny", reason: "expired" }),
    ]);
    expect(() => h.session.answerPermission(request.requestId, { decision: "allow" })).toThrow(
      expect.objectContaining({ code: "PERMISSION_REQUEST_NOT_FOUND" }),
    );
  });

  it("requests still open when the turn ends are cancelled and denied", async () => {
    const h = await start(async (turn) => {
      void turn.askPermission({ toolName: "Bash" });
    });
    const { turnId } = h.session.sendMessage("Ask and leave");
    await h.completed(turnId);
    const { request } = await h.next("session:permission:requested");
    expect(h.ofType("session:permission:resolved")).toEqual([
      expect.objectContaining({ requestId: request.requestId, decision: "deny", reason: "cancelled" }),
    ]);
    expect(h.session.snapshot().pendingPermissions).toEqual([]);
    const responses = h.provider.lastSandbox.lastRunner.commands.filter(
      (c) => c.type === "permission_response",
    );
    expect(responses).toEqual([expect.objectContaining({ requestId: request.requestId, decision: "deny" })]);
  });

  it("an interrupt cancels the open request and ends the turn interrupted", async () => {
    const h = await start(async (turn) => {
      await turn.askPermission({ toolName: "Bash" });
      await turn.interrupted;
    });
    const { turnId } = h.session.sendMessage("Ask");
    const { request } = await h.next("session:permission:requested");
    h.session.interrupt();
    expect(await h.completed(turnId)).toMatchObject({ stopReason: "interrupted" });
    expect(h.ofType("session:permission:resolved")).toEqual([
      expect.objectContaining({ requestId: request.requestId, decision: "deny", reason: "cancelled" }),
    ]);
  });
});
