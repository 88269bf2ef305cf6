import { chmod, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AgentProfile, agentProfileSchema } from "../packages/protocol/src/index.js";
import {
  type DependencySources,
  dependencyLayerOf,
} from "../packages/server/src/dependencies/dependency-layer.js";
import { DependencyLayers } from "../packages/server/src/dependencies/dependency-layers.js";
import { createLocalSandboxProvider } from "../packages/server/src/sandboxes/local/local-sandbox-provider.js";
import { runInSandbox } from "../packages/server/src/sandboxes/sandbox-contract.js";
import type { SandboxProvider } from "../packages/server/src/sandboxes/sandbox-provider.js";
import { packPackage, registryHandler } from "../packages/server/test/support/npm-registry-stand-in.js";
import { buildPythonWheel } from "../packages/server/test/support/python-wheel.js";
import { formatSummary, type Summary, summarize } from "./stats.js";

export interface DependenciesResult {
  /** Layer build (3 npm + 2 pip packages) plus create → a script importing all five, on an empty cache. */
  readonly coldMs: Summary;
  /** Create → first command (`true`), a profile without dependencies. */
  readonly plainMs: Summary;
  /** The same for the profile with dependencies, its layer built: the runtime's lookup, the mount, the start. */
  readonly warmMs: Summary;
}

const NPM = ["bench-dep-a", "bench-dep-b", "bench-dep-c"];
const PIP = ["benchwheel_a", "benchwheel_b"];
const IMPORTS = `${NPM.map((name) => `node -e 'require("${name}")'`).join(" && ")} && python3 -c 'import ${PIP.join(", ")}'`;

/**
 * A profile with 3 npm and 2 pip packages (a registry stand-in on loopback
 * and a folder of wheels): its first session's extra start-up (the layer is
 * built, `coldRuns` times on a fresh data folder each), and every later
 * session's (the layer exists) against a profile without dependencies,
 * alternating, `warmRuns` each.
 */
export async function measureDependencies(coldRuns = 3, warmRuns = 20): Promise<DependenciesResult> {
  const root = await mkdtemp(join(tmpdir(), "bench-deps-"));
  await chmod(root, 0o711);
  const packages = await Promise.all(NPM.map((name) => packPackage(join(root, "packages"), name, name)));
  let handler: ReturnType<typeof registryHandler> | undefined;
  const registry = createServer((req, res) => handler?.(req, res));
  await new Promise<void>((resolve) => registry.listen(0, "127.0.0.1", resolve));
  const registryUrl = `http://127.0.0.1:${(registry.address() as AddressInfo).port}`;
  handler = registryHandler(registryUrl, packages);
  const wheels = join(root, "wheels");
  for (const name of PIP) await buildPythonWheel(wheels, name, name);
  await chmod(wheels, 0o755);
  const sources: DependencySources = { npmRegistry: `${registryUrl}/`, pipFindLinks: [wheels] };
  const profile: AgentProfile = agentProfileSchema.parse({
    id: "bench",
    name: "Bench",
    dependencies: { npm: NPM, pip: PIP },
  });
  const plain: AgentProfile = agentProfileSchema.parse({ id: "plain", name: "Plain" });
  const progress = { building: () => undefined, output: () => undefined };
  const network = { allow: [] };
  let count = 0;
  const start = async (
    provider: SandboxProvider,
    layers: DependencyLayers,
    of: AgentProfile,
    command: string,
  ) => {
    const started = performance.now();
    const layer = await layers.prepare(of, provider, progress);
    const sandbox = await provider.create({ name: `bench-${count++}`, network, ...(layer ? { layer } : {}) });
    const result = await runInSandbox(sandbox, ["bash", "-c", command]);
    const elapsed = performance.now() - started;
    await sandbox.terminate();
    if (result.code !== 0) throw new Error(`${command} failed: ${result.stderr}`);
    return elapsed;
  };
  try {
    const cold: number[] = [];
    for (let run = 0; run < coldRuns; run++) {
      const provider = createLocalSandboxProvider({ rootDir: join(root, `cold-${run}`) });
      await provider.check();
      cold.push(await start(provider, new DependencyLayers(sources), profile, IMPORTS));
    }
    const provider = createLocalSandboxProvider({ rootDir: join(root, "warm") });
    await provider.check();
    const layers = new DependencyLayers(sources);
    if (!dependencyLayerOf(profile, sources, "check")) throw new Error("the profile has no layer");
    await start(provider, layers, profile, IMPORTS);
    await start(provider, layers, plain, "true");
    const plainRuns: number[] = [];
    const warmRuns_: number[] = [];
    for (let run = 0; run < warmRuns; run++) {
      plainRuns.push(await start(provider, layers, plain, "true"));
      warmRuns_.push(await start(provider, layers, profile, "true"));
    }
    return { coldMs: summarize(cold), plainMs: summarize(plainRuns), warmMs: summarize(warmRuns_) };
  } finally {
    await new Promise((resolve) => registry.close(resolve));
    await rm(root, { recursive: true, force: true });
  }
}

export function printDependencies(result: DependenciesResult): void {
  const extra = result.warmMs.median - result.plainMs.median;
  console.log(`  first session, cold cache (layer built + imports): ${formatSummary(result.coldMs)}`);
  console.log(
    `  later session without dependencies (create → first command): ${formatSummary(result.plainMs)}`,
  );
  console.log(`  later session with them, warm cache: ${formatSummary(result.warmMs)}`);
  console.log(
    `  extra start-up of a warm profile with dependencies (medians): ${extra.toFixed(1)} ms (target < 50) ${extra < 50 ? "ok" : "OVER TARGET"}`,
  );
}
