import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync } from "node:fs";
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
  return {
    installRoot,
    mainPath: join(runnerDir, runnerMainEntry(runnerDir)),
    readOnlyPaths: [nodeModules, ...new Set(linkedPackages)],
  };
}

/** The `./main` export of the runner's package.json. */
function runnerMainEntry(runnerDir: string): string {
  const manifest = JSON.parse(readFileSync(join(runnerDir, "package.json"), "utf8")) as {
    exports?: Record<string, unknown>;
  };
  const entry = manifest.exports?.["./main"];
  return typeof entry === "string" ? entry : "dist/main.js";
}
