import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { AgentProfile } from "@agent-runtime/protocol";
import { RuntimeError } from "../errors.js";
import type { SandboxProvider } from "../sandboxes/sandbox-provider.js";
import { VERSION } from "../version.js";
import { type DependencySources, dependencyLayerOf } from "./dependency-layer.js";

const execFileAsync = promisify(execFile);

/** How a session sees its profile's layer being built. */
export interface LayerProgress {
  /** A build starts (the layer was not built yet). */
  building(): void;
  /** The last line the build printed, as it comes. */
  output(line: string): void;
}

/**
 * The runtime's dependency layers: for a session's profile, the layer its
 * sandbox mounts (built first by the provider when it is not built yet), so
 * packages are installed once per distinct list and every later sandbox
 * starts at the cost of a hash. The npm registry, unless given, is read once
 * from this host's npm configuration, when a profile first needs it.
 */
export class DependencyLayers {
  /** Layers known built (by key): a sandbox of their profile starts without asking the provider. */
  private readonly built = new Set<string>();
  private sources: Promise<DependencySources> | undefined;

  constructor(private readonly configured: DependencySources) {}

  /**
   * The key of the layer a sandbox of `profile` mounts, built first where
   * needed; undefined when the profile has no packages or bundled MCP
   * projects. Throws `DEPENDENCIES_FAILED` (with the installer's output)
   * when they cannot be installed, or when `provider` cannot hold layers.
   */
  async prepare(
    profile: AgentProfile,
    provider: SandboxProvider,
    progress: LayerProgress,
  ): Promise<string | undefined> {
    const spec = dependencyLayerOf(profile, await this.resolvedSources(profile), imageOf(provider));
    if (!spec) return undefined;
    if (this.built.has(spec.key)) return spec.key;
    if (!provider.capabilities.layers || !provider.prepareLayer) {
      throw new RuntimeError(
        "DEPENDENCIES_FAILED",
        `Profile "${profile.id}" has dependencies or bundled MCP projects, which the ${provider.id} sandbox provider cannot install`,
      );
    }
    progress.building();
    let partial = "";
    await provider.prepareLayer({
      ...spec,
      onOutput: (text) => {
        const lines = (partial + text).split("\n");
        partial = lines.pop() ?? "";
        const last = lines.filter((line) => line.trim() !== "").pop();
        if (last !== undefined) progress.output(last.slice(0, 500));
      },
    });
    this.built.add(spec.key);
    return spec.key;
  }

  /** The configured sources, with the host's npm registry filled in once a profile with npm packages needs it. */
  private async resolvedSources(profile: AgentProfile): Promise<DependencySources> {
    const needsNpm =
      profile.dependencies.npm.length > 0 ||
      Object.values(profile.mcpServers).some((server) => server.type === "bundled");
    if (this.configured.npmRegistry || !needsNpm) return this.configured;
    this.sources ??= hostNpmRegistry().then((npmRegistry) => ({
      ...this.configured,
      ...(npmRegistry ? { npmRegistry } : {}),
    }));
    return this.sources;
  }
}

/** What a layer is built for: the provider, and the runtime whose runner and Node.js use it. */
function imageOf(provider: SandboxProvider): string {
  return `${provider.id} agent-runtime@${VERSION} node@${process.version}`;
}

/** `npm config get registry` on this host; undefined when npm cannot tell. */
async function hostNpmRegistry(): Promise<string | undefined> {
  try {
    const { stdout } = await execFileAsync("npm", ["config", "get", "registry"], { timeout: 30_000 });
    const url = stdout.trim();
    return /^https?:\/\//.test(url) ? url : undefined;
  } catch {
    return undefined;
  }
}
