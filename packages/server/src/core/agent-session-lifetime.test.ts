import type { Block } from "@agent-runtime/protocol";
import { describe, expect, it } from "vitest";
import type { Sandbox } from "../sandboxes/sandbox-provider.js";
import { type SessionHarness, useSessions } from "./__fixtures__/agent-session-harness.js";

/*
 * A sandbox with a maximum lifetime (`Sandbox.expiresAt`, e.g. Modal's): the
 * session is handed over to a new sandbox before it ends, between turns,
 * including between a turn and a message queued behind it. Here every
 * sandbox says its lifetime ends as it is created, so the hand-over is due
 * at once; the fake provider never stops one itself. The same against the
 * real SDK and Modal's fake API, with a lifetime enforced:
 * test/sandboxes/modal-session-lifetime.test.ts.
 */
const start = useSessions();

function gate(): { opened: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** Every sandbox the harness's provider creates says its lifetime ends now. */
function endingAtOnce(h: SessionHarness): void {
  const create = h.provider.create.bind(h.provider);
  h.provider.create = async (spec) => Object.assign(await create(spec), { expiresAt: Date.now() }) as Sandbox;
}

const handOvers = (h: SessionHarness) =>
  h.session
    .snapshot()
    .blocks.filter(
      (block): block is Extract<Block, { type: "system" }> =>
        block.type === "system" && block.subtype === "sandbox_lifetime",
    );

describe("AgentSession: a sandbox's maximum lifetime", () => {
  it("lets a running turn finish, then hands over before the message queued behind it", async () => {
    const first = gate();
    const h = await start({
      runner: async (turn) => {
        if (turn.content === "first") await first.opened;
      },
    });
    endingAtOnce(h);
    const running = h.session.sendMessage("first");
    const queued = h.session.sendMessage("second");
    expect(queued.queued).toBe(true);
    await h.next("session:status", (event) => event.runtime.sandboxStatus === "running");
    // The lifetime's timer (due at once) fires before a timer set after it.
    await new Promise((resolve) => setTimeout(resolve, 5));
    // The hand-over is due, but the turn runs on in its sandbox.
    expect(h.provider.sandboxes).toHaveLength(1);
    first.open();
    expect((await h.completed(running.turnId)).stopReason).toBe("end_turn");
    expect((await h.completed(queued.turnId)).stopReason).toBe("end_turn");

    // The queued message ran in a new sandbox, after the first was stopped and the session told.
    expect(h.provider.sandboxes.length).toBeGreaterThanOrEqual(2);
    const [old, next] = h.provider.sandboxes;
    await old!.terminated;
    const messagesIn = (sandbox: typeof old) =>
      sandbox!.runners.flatMap((runner) =>
        runner.commands.flatMap((command) => (command.type === "message" ? [command.content] : [])),
      );
    expect(messagesIn(old)).toEqual(["first"]);
    expect(messagesIn(next)).toEqual(["second"]);
    expect(handOvers(h)[0]!.metadata).toEqual({ sandboxId: old!.id });
    expect(h.errors()).toEqual([]);
  });

  it("hands over once the last turn ended, and the next message starts a new sandbox", async () => {
    const h = await start();
    endingAtOnce(h);
    const { turnId } = h.session.sendMessage("hello");
    await h.completed(turnId);
    await h.next("session:block:complete", (event) => event.block.type === "system");
    const [old] = h.provider.sandboxes;
    await old!.terminated;
    expect(h.session.summary().runtime.sandboxStatus).toBe("terminated");

    const again = h.session.sendMessage("again");
    expect((await h.completed(again.turnId)).stopReason).toBe("end_turn");
    expect(h.provider.sandboxes.length).toBeGreaterThanOrEqual(2);
    expect(h.errors()).toEqual([]);
  });
});
