import { runnerConfigSchema } from "@agent-runtime/protocol";
import { describe, expect, it } from "vitest";
import type { AgentHost, AgentHostEvents, AgentHostFactory } from "./agent-host.js";
import { lazyHost } from "./lazy-host.js";

const config = runnerConfigSchema.parse({ architecture: "claude-agent-sdk", workspaceDir: "/nowhere" });
const events: AgentHostEvents = {
  message: () => undefined,
  turnEnd: () => undefined,
  permissionRequest: () => undefined,
  diagnostics: () => undefined,
  failed: () => undefined,
};

/** A host that records what was called on it. */
function recordingHost(calls: string[]): AgentHost {
  return {
    start: async () => {
      calls.push("start");
      return { agentVersion: "1.2.3" };
    },
    send: (turnId) => calls.push(`send ${turnId}`),
    respondPermission: (requestId) => calls.push(`permission ${requestId}`),
    interrupt: async () => {
      calls.push("interrupt");
    },
    close: async () => {
      calls.push("close");
    },
  };
}

/** A loader that counts its calls and resolves when `release` is called. */
function gatedLoader(calls: string[]) {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let loads = 0;
  const load = async (): Promise<AgentHostFactory> => {
    loads++;
    await gate;
    return () => recordingHost(calls);
  };
  return { load, release, loads: () => loads };
}

describe("lazyHost", () => {
  it("loads the host's module when it starts, not when it is created, and then acts as the host", async () => {
    const calls: string[] = [];
    const loader = gatedLoader(calls);
    const host = lazyHost(loader.load)(config, events);
    expect(loader.loads()).toBe(0);
    const started = host.start();
    expect(loader.loads()).toBe(1);
    loader.release();
    expect(await started).toEqual({ agentVersion: "1.2.3" });
    host.send("t1", "hello");
    host.respondPermission("p1", "allow");
    await host.interrupt();
    await host.close();
    expect(calls).toEqual(["start", "send t1", "permission p1", "interrupt", "close"]);
    expect(loader.loads()).toBe(1);
  });

  it("treats interrupt and permission answers before the start as an idle host does", async () => {
    const calls: string[] = [];
    const loader = gatedLoader(calls);
    const host = lazyHost(loader.load)(config, events);
    await host.interrupt();
    host.respondPermission("p1", "deny");
    expect(calls).toEqual([]);
    expect(loader.loads()).toBe(0);
  });

  it("closes what a load in flight creates, and the start then rejects without starting it", async () => {
    const calls: string[] = [];
    const loader = gatedLoader(calls);
    const host = lazyHost(loader.load)(config, events);
    const started = host.start();
    const closed = host.close();
    loader.release();
    await closed;
    await expect(started).rejects.toThrow(/closed the agent before it started/);
    expect(calls).toEqual(["close"]);
  });

  it("closes at once when never started, without loading anything", async () => {
    const calls: string[] = [];
    const loader = gatedLoader(calls);
    await lazyHost(loader.load)(config, events).close();
    expect(loader.loads()).toBe(0);
  });

  it("rejects the start when the module cannot be loaded", async () => {
    const host = lazyHost(async () => {
      throw new Error("no such module");
    })(config, events);
    await expect(host.start()).rejects.toThrow("no such module");
    await host.close();
  });
});
