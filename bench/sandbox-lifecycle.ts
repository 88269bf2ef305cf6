import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalSandboxProvider } from "../packages/server/src/sandboxes/local/local-sandbox-provider.js";
import { runInSandbox } from "../packages/server/src/sandboxes/sandbox-contract.js";
import type { SandboxNetworkPolicy } from "../packages/server/src/sandboxes/sandbox-provider.js";
import { type Summary, summarize } from "./stats.js";

export interface SandboxLifecycleResult {
  /** `create()` until the first command (`true`) has exited. */
  readonly createToFirstCommandMs: Summary;
  /** `terminate()` of a sandbox with one idle process. */
  readonly terminateMs: Summary;
}

/**
 * Local (bubblewrap) sandbox lifecycle on this machine, over `runs` fresh
 * sandboxes: create → first command, and terminate. Pass `network` to
 * measure with a network policy (own namespace, the server's listeners in it, egress proxy).
 */
export async function measureSandboxLifecycle(
  runs = 50,
  network?: SandboxNetworkPolicy,
): Promise<SandboxLifecycleResult> {
  const rootDir = await mkdtemp(join(tmpdir(), "bench-sandbox-"));
  // Sandboxes run as other users, which must be able to enter it.
  await chmod(rootDir, 0o711);
  const provider = createLocalSandboxProvider({ rootDir });
  await provider.check();
  const createToFirst: number[] = [];
  const terminate: number[] = [];
  try {
    for (let run = 0; run < runs; run++) {
      const started = performance.now();
      const sandbox = await provider.create({ name: `bench-${run}`, ...(network ? { network } : {}) });
      const result = await runInSandbox(sandbox, ["true"]);
      createToFirst.push(performance.now() - started);
      if (result.code !== 0) throw new Error(`first command failed: ${result.stderr}`);
      sandbox.exec(["sleep", "1000"]);
      const stopping = performance.now();
      await sandbox.terminate();
      terminate.push(performance.now() - stopping);
    }
  } finally {
    await rm(rootDir, { recursive: true, force: true });
  }
  return { createToFirstCommandMs: summarize(createToFirst), terminateMs: summarize(terminate) };
}
