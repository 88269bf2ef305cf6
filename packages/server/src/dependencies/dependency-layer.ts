import { createHash } from "node:crypto";
import type { AgentProfile, BundledMcpServer } from "@agent-runtime/protocol";
import { RuntimeError } from "../errors.js";
import { endpointOf } from "../sandboxes/endpoint.js";
import type {
  SandboxLayerCommand,
  SandboxLayerSpec,
  SandboxNetworkPolicy,
} from "../sandboxes/sandbox-provider.js";
import { SANDBOX_LAYER_DIR } from "../sandboxes/sandbox-provider.js";

/**
 * Where a profile's packages come from while its layer builds. The agent
 * itself never reaches them (unless its profile's `network.allow` says so).
 */
export interface DependencySources {
  /** The npm registry (`https://…/`); needed when a profile has npm packages. */
  readonly npmRegistry?: string | undefined;
  /** pip's index (`--index-url`, http(s) or `file://`); undefined: no index, only `pipFindLinks`. */
  readonly pipIndexUrl?: string | undefined;
  /** Host folders of wheels and source archives pip installs from (`--find-links`), read-only in the build. */
  readonly pipFindLinks?: readonly string[];
  /** Further `host:port` endpoints a build may reach (e.g. a git host a package spec names). */
  readonly allow?: readonly string[];
  /** A build is stopped and fails after this long. @default 600000 */
  readonly timeoutMs?: number;
}

/** Where a bundled MCP server's project lives in the layer, relative to it. */
export function bundledProjectFolder(name: string): string {
  return `mcp/${name}`;
}

/** Folder in the layer holding pip's packages (on `PYTHONPATH` in every sandbox with the layer). */
const PIP_TARGET = "python";
/** Folder in a bundled Python project holding what its install put there (on its server's `PYTHONPATH`). */
const PROJECT_PIP_TARGET = ".python";
/** Format of a layer's content: bump when what a layer holds for the same inputs changes. */
const LAYER_FORMAT = 1;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** Bytes of a profile's bundled project files, all servers together. */
const MAX_PROJECT_BYTES = 20 * 1024 * 1024;

/**
 * The layer holding a profile's npm and pip packages and its bundled MCP
 * projects, installed; undefined when it has none. `image` names what the
 * layer is built for (provider and runtime): with the profile's lists and
 * `sources` it makes the layer's key, so a layer is built once per distinct
 * content and reused by every session of every profile that lists the same.
 */
export function dependencyLayerOf(
  profile: AgentProfile,
  sources: DependencySources,
  image: string,
): SandboxLayerSpec | undefined {
  const npm = [...new Set(profile.dependencies.npm)].sort();
  const pip = [...new Set(profile.dependencies.pip)].sort();
  const projects = bundledServers(profile);
  if (npm.length === 0 && pip.length === 0 && projects.length === 0) return undefined;

  const files: { path: string; content: string }[] = [];
  const commands: SandboxLayerCommand[] = [];
  const npmInstall = ["npm", "install", "--omit=dev", "--no-audit", "--no-fund", "--no-update-notifier"];
  if (sources.npmRegistry) npmInstall.push("--registry", sources.npmRegistry);
  const pipInstall = [
    "python3",
    "-m",
    "pip",
    "install",
    "--no-input",
    "--disable-pip-version-check",
    "--no-cache-dir",
    ...(sources.pipIndexUrl ? ["--index-url", sources.pipIndexUrl] : ["--no-index"]),
    ...(sources.pipFindLinks ?? []).flatMap((folder) => ["--find-links", folder]),
  ];
  let usesNpm = npm.length > 0;
  let usesPip = pip.length > 0;
  if (npm.length > 0) {
    files.push({ path: "package.json", content: `${JSON.stringify({ private: true }, null, 2)}\n` });
    commands.push({ command: [...npmInstall, "--", ...npm] });
  }
  if (pip.length > 0) commands.push({ command: [...pipInstall, "--target", PIP_TARGET, "--", ...pip] });
  for (const { name, server } of projects) {
    const folder = bundledProjectFolder(name);
    for (const file of server.files) files.push({ path: `${folder}/${file.path}`, content: file.content });
    const install = server.install ?? defaultInstall(server, npmInstall, pipInstall);
    if (install.length > 0) {
      commands.push({ command: install, cwd: folder });
      usesNpm ||= install[0] === "npm";
      usesPip ||= install.includes("pip");
    }
  }

  const allow = new Set(sources.allow ?? []);
  if (usesNpm) {
    if (!sources.npmRegistry) {
      throw new RuntimeError(
        "DEPENDENCIES_FAILED",
        "The profile has npm packages but no npm registry is configured (npm's `registry` setting on this host, or the runtime's `dependencies.npmRegistry`)",
      );
    }
    allow.add(endpointOf(new URL(sources.npmRegistry)));
  }
  if (usesPip && sources.pipIndexUrl && !sources.pipIndexUrl.startsWith("file:")) {
    allow.add(endpointOf(new URL(sources.pipIndexUrl)));
  }
  const hostFolders = [
    ...(sources.pipFindLinks ?? []),
    ...(sources.pipIndexUrl?.startsWith("file:") ? [new URL(sources.pipIndexUrl).pathname] : []),
  ];
  const network: SandboxNetworkPolicy = { allow: [...allow].sort() };
  const key = createHash("sha256")
    .update(
      JSON.stringify({
        format: LAYER_FORMAT,
        image,
        npm,
        pip,
        projects: projects.map(({ name, server }) => ({
          name,
          files: [...server.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
          install: server.install ?? null,
        })),
        sources: {
          npmRegistry: sources.npmRegistry ?? null,
          pipIndexUrl: sources.pipIndexUrl ?? null,
          pipFindLinks: sources.pipFindLinks ?? [],
          allow: network.allow,
        },
      }),
    )
    .digest("hex");
  return {
    key,
    files,
    commands,
    env: { npm_config_update_notifier: "false", PIP_DISABLE_PIP_VERSION_CHECK: "1" },
    network,
    ...(hostFolders.length > 0 ? { hostFolders } : {}),
    ...(sources.timeoutMs === undefined ? {} : { timeoutMs: sources.timeoutMs }),
  };
}

/**
 * Throws `VALIDATION_FAILED` naming `source` when a bundled MCP server's
 * name is not a folder name, a project file's path leaves its folder or is
 * given twice, or the projects' files exceed 20 MiB together.
 */
export function assertProfileDependencies(profile: AgentProfile, source: string): void {
  let bytes = 0;
  for (const { name, server } of bundledServers(profile)) {
    const field = `mcpServers.${name}`;
    if (!NAME.test(name)) {
      throw new RuntimeError(
        "VALIDATION_FAILED",
        `${source}: ${field}: a bundled server's name is its folder's: letters, digits, '.', '_' and '-' only`,
      );
    }
    const seen = new Set<string>();
    for (const file of server.files) {
      const segments = file.path.split("/");
      if (
        segments.some((segment) => segment === "" || segment === "." || segment === "..") ||
        file.path.includes("\0")
      ) {
        throw new RuntimeError(
          "VALIDATION_FAILED",
          `${source}: ${field}.files: invalid path ${JSON.stringify(file.path)}`,
        );
      }
      if (seen.has(file.path)) {
        throw new RuntimeError("VALIDATION_FAILED", `${source}: ${field}.files: ${file.path} is given twice`);
      }
      seen.add(file.path);
      bytes += Buffer.byteLength(file.content);
    }
  }
  if (bytes > MAX_PROJECT_BYTES) {
    throw new RuntimeError(
      "VALIDATION_FAILED",
      `${source}: mcpServers: bundled projects hold ${bytes} bytes; at most ${MAX_PROJECT_BYTES}`,
    );
  }
}

/**
 * The command that starts a bundled server inside the sandbox: `command
 * args` in its project folder, with what its install put in `.python/`
 * importable.
 */
export function bundledServerCommand(
  name: string,
  server: BundledMcpServer,
): { command: string; args: string[]; env: Record<string, string> } {
  const folder = `${SANDBOX_LAYER_DIR}/${bundledProjectFolder(name)}`;
  return {
    command: "/bin/sh",
    args: ["-c", 'cd "$1" && shift && exec "$@"', "sh", folder, server.command, ...server.args],
    env: {
      PYTHONPATH: `${folder}/${PROJECT_PIP_TARGET}:${SANDBOX_LAYER_DIR}/${PIP_TARGET}`,
      ...server.env,
    },
  };
}

function bundledServers(profile: AgentProfile): { name: string; server: BundledMcpServer }[] {
  return Object.entries(profile.mcpServers)
    .flatMap(([name, server]) => (server.type === "bundled" ? [{ name, server }] : []))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** A bundled project's install, by the files it has; none when it has no manifest. */
function defaultInstall(server: BundledMcpServer, npmInstall: string[], pipInstall: string[]): string[] {
  const has = (path: string) => server.files.some((file) => file.path === path);
  if (has("package.json")) return npmInstall;
  if (has("requirements.txt"))
    return [...pipInstall, "--target", PROJECT_PIP_TARGET, "-r", "requirements.txt"];
  if (has("pyproject.toml"))
    return [...pipInstall, "--no-build-isolation", "--target", PROJECT_PIP_TARGET, "."];
  return [];
}
