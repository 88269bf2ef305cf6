import {
  type Dirent,
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { isWithin } from "./sandbox-paths.js";

/** Where the runner is installed on the host; the sandbox sees it at the same absolute paths. */
export interface RunnerLocation {
  /** The folder whose `node_modules` holds `@agent-runtime/runner` (the monorepo or the app). */
  readonly installRoot: string;
  /** Absolute (real) path of the runner's entry point, `dist/main.js`; may not be built yet. */
  readonly mainPath: string;
  /**
   * What a sandbox runs, `node <nodeOptions> <path> <config>`: the local
   * runner (`dist/local-runner/`, one script loaded with V8's code cache:
   * a fraction of the start-up CPU and memory) when it is built and not
   * older than the runner's and the protocol's compiled files (a runner
   * rebuilt with `tsc` alone is run as built), else `mainPath` without options.
   */
  readonly entry: { readonly path: string; readonly nodeOptions: readonly string[] };
  /**
   * Real paths to bind read-only so that the runner and its dependencies
   * resolve inside: `<installRoot>/node_modules` and every linked
   * `@agent-runtime/*` workspace package. Not the whole install root, which
   * may hold `.git`, `.env` files or data folders.
   */
  readonly readOnlyPaths: readonly string[];
}

const RUNNER_PACKAGE = join("node_modules", "@agent-runtime", "runner");

/**
 * Finds the runner the way Node resolves packages: the nearest
 * `node_modules/@agent-runtime/runner` above this module. Returns undefined
 * when there is none. Synchronous and cheap; call once per provider.
 */
export function locateRunner(fromDir = dirname(fileURLToPath(import.meta.url))): RunnerLocation | undefined {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    if (existsSync(join(dir, RUNNER_PACKAGE, "package.json"))) return describeInstall(realpathSync(dir));
    if (dirname(dir) === dir) return undefined;
  }
}

function describeInstall(installRoot: string): RunnerLocation {
  const nodeModules = realpathSync(join(installRoot, "node_modules"));
  const runnerDir = realpathSync(join(installRoot, RUNNER_PACKAGE));
  const scopeDir = join(nodeModules, "@agent-runtime");
  const linkedPackages = readdirSync(scopeDir)
    .map((entry) => join(scopeDir, entry))
    .filter((path) => lstatSync(path).isSymbolicLink())
    .map((path) => realpathSync(path))
    .filter((path) => !isWithin(nodeModules, path));
  const mainPath = join(runnerDir, runnerMainEntry(runnerDir));
  return {
    installRoot,
    mainPath,
    entry: localRunner(runnerDir, mainPath) ?? { path: mainPath, nodeOptions: [] },
    readOnlyPaths: [nodeModules, ...new Set(linkedPackages)],
  };
}

/** `dist/local-runner/local-runner.json`, as `packages/runner/scripts/bundle.mjs` writes it. */
const LOCAL_RUNNER_MANIFEST = join("dist", "local-runner", "local-runner.json");

/**
 * The built local runner, unless it is missing, invalid, older than a
 * compiled file of the runner or the protocol (`tsc` writes only the files
 * that changed), or holds another version of a package it inlines than
 * the one installed now.
 */
function localRunner(runnerDir: string, mainPath: string): RunnerLocation["entry"] | undefined {
  const manifestPath = join(runnerDir, LOCAL_RUNNER_MANIFEST);
  try {
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as {
      entry?: unknown;
      nodeOptions?: unknown;
      inlined?: unknown;
    };
    const { entry, nodeOptions, inlined } = manifest;
    if (typeof entry !== "string" || !/^[\w.-]+\.c?js$/.test(entry)) return undefined;
    if (!Array.isArray(nodeOptions) || !nodeOptions.every((option) => /^--[\w-]+(=[\w.-]+)?$/.test(option))) {
      return undefined;
    }
    if (typeof inlined !== "object" || inlined === null) return undefined;
    for (const [name, version] of Object.entries(inlined)) {
      if (installedVersion(runnerDir, name) !== version) return undefined;
    }
    const path = join(dirname(manifestPath), entry);
    if (!existsSync(path)) return undefined;
    const protocolDir = installedPackageDir(runnerDir, join("@agent-runtime", "protocol"));
    const compiled = [join(runnerDir, "dist"), ...(protocolDir ? [join(protocolDir, "dist")] : [])];
    const newest = Math.max(statSync(mainPath).mtimeMs, ...compiled.map(newestScript));
    if (statSync(manifestPath).mtimeMs < newest) return undefined;
    return { path, nodeOptions };
  } catch {
    return undefined;
  }
}

/** The version of package `name` as Node resolves it from `fromDir`. */
function installedVersion(fromDir: string, name: string): unknown {
  const dir = installedPackageDir(fromDir, name);
  if (!dir) return undefined;
  return (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version?: unknown }).version;
}

/** The real folder of package `name` as Node finds it from `fromDir` (the nearest `node_modules/<name>`). */
function installedPackageDir(fromDir: string, name: string): string | undefined {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return realpathSync(candidate);
    if (dirname(dir) === dir) return undefined;
  }
}

/** Newest modification time of the `.js` files below `dir` (not in `bundle` or `local-runner`); 0 when none. */
function newestScript(dir: string): number {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  let newest = 0;
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "bundle" && entry.name !== "local-runner")
        newest = Math.max(newest, newestScript(path));
    } else if (entry.name.endsWith(".js")) {
      newest = Math.max(newest, statSync(path).mtimeMs);
    }
  }
  return newest;
}

/** The `./main` export of the runner's package.json. */
function runnerMainEntry(runnerDir: string): string {
  const manifest = JSON.parse(readFileSync(join(runnerDir, "package.json"), "utf8")) as {
    exports?: Record<string, unknown>;
  };
  const entry = manifest.exports?.["./main"];
  return typeof entry === "string" ? entry : "dist/main.js";
}
