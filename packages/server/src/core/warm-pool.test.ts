import { agentProfileSchema } from "@agent-runtime/protocol";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createClaudeAgentSdkArchitecture } from "../agents/claude-agent-sdk/claude-agent-sdk-architecture.js";
import { DependencyLayers } from "../dependencies/dependency-layers.js";
import type { Sandbox, SandboxProvider } from "../sandboxes/sandbox-provider.js";
import { runnerLimitsSchema } from "./runner-limits.js";
import { StartAdmission } from "./start-admission.js";
import { WarmPool } from "./warm-pool.js";

/**
 * A provider whose sandboxes cannot be renamed (as Modal's): the pool's
 * first start is refused `UNSUPPORTED`, its sandbox removed, and the pool
 * starts nothing more; every take is a miss. (Everything else the pool does
 * runs against real sandboxes: test/e2e/warm-pool.test.ts.)
 */
describe("WarmPool with a provider that cannot rename sandboxes", () => {
  it("disables itself after the first start, removing that sandbox", async () => {
    const created: string[] = [];
    const removed: string[] = [];
    const provider: SandboxProvider = {
      id: "no-rename",
      capabilities: { attach: false, nonRootUser: true, readOnlySystem: true, networkPolicy: false },
      check: async () => undefined,
      async create(spec) {
        created.push(spec.name);
        return { id: spec.name, name: spec.name, terminate: async () => undefined } as unknown as Sandbox;
      },
      async remove(name) {
        removed.push(name);
      },
    };
    const profile = agentProfileSchema.parse({ id: "test", name: "Test" });
    const architecture = createClaudeAgentSdkArchitecture();
    const pool = new WarmPool({
      size: 2,
      profiles: ["test"],
      architectures: new Map([[architecture.id, architecture]]),
      profile: async () => profile,
      sandboxProvider: provider,
      dependencyLayers: new DependencyLayers({}),
      startAdmission: new StartAdmission(4),
      runnerLimits: runnerLimitsSchema.parse({}),
      modelStallTimeoutMs: 0,
      endpoint: {},
      modelProviders: {},
      restrictEgress: false,
      logger: pino({ level: "silent" }),
    });
    pool.start();
    const deadline = Date.now() + 10_000;
    while (removed.length < 2) {
      if (Date.now() > deadline) throw new Error("the starts did not fail");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(removed.sort()).toEqual(created.sort());
    const take = { profile, architecture: architecture.id, sessionOptions: {}, sandboxName: "session-x" };
    expect(await pool.take(take)).toBeUndefined();
    // Disabled: the take is not even counted as a miss, and nothing more is started.
    expect(pool.stats()).toEqual({ size: 0, hits: 0, misses: 0 });
    expect(created).toHaveLength(2);
    await pool.drain();
  });
});
