import { randomUUID } from "node:crypto";
import { existsSync, realpathSync } from "node:fs";
import { posix } from "node:path";
import { errorMessage, RuntimeError } from "../../errors.js";
import {
  SANDBOX_LAYER_DIR,
  type Sandbox,
  type SandboxLayerSpec,
  type SandboxSpec,
} from "../sandbox-provider.js";
import { giveFolderTo } from "./host-users.js";
import { layerRelativeSegments } from "./layer-store.js";
import { isWithin } from "./sandbox-paths.js";

/** A sandbox's own mounts beyond its areas: its layer, or a layer build's folders. */
export interface ExtraMounts {
  readonly args: readonly string[];
  /** Runs once the sandbox's host uid is known, before anything starts (e.g. to give it a folder). */
  readonly prepare?: (hostUid: number) => Promise<void>;
}

/** What a layer build needs of its provider. */
export interface LayerBuildContext {
  /** The staging folder (host path) the build fills; mounted writable at `SANDBOX_LAYER_DIR`. */
  readonly staging: string;
  /** Real path of the provider's root folder: host folders inside it are never shown to a build. */
  readonly realRootDir: string;
  create(spec: SandboxSpec, extra: ExtraMounts): Promise<Sandbox>;
  remove(name: string): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 600_000;
/** How much of the build's output a failure quotes (its end). */
const OUTPUT_TAIL_BYTES = 16 * 1024;

/**
 * Runs a layer's commands in a sandbox of its own (isolated like any other,
 * with the build's egress and `hostFolders` read-only at their own paths),
 * the staging folder writable at `SANDBOX_LAYER_DIR`; the sandbox is removed
 * afterwards, whatever happened. Throws `DEPENDENCIES_FAILED` when a command
 * exits non-zero or the build outlasts its timeout, quoting the end of what
 * it printed.
 */
export async function buildLayer(spec: SandboxLayerSpec, context: LayerBuildContext): Promise<void> {
  const folders = (spec.hostFolders ?? []).map((folder) => hostFolder(folder, context.realRootDir));
  const name = `layer-${spec.key.slice(0, 16)}-${randomUUID().slice(0, 8)}`;
  const output = new OutputTail(spec.onOutput);
  let sandbox: Sandbox | undefined;
  let timedOut = false;
  const timeoutMs = spec.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const timer = setTimeout(() => {
    timedOut = true;
    void sandbox?.terminate();
  }, timeoutMs);
  try {
    sandbox = await context.create(
      { name, ...(spec.network ? { network: spec.network } : {}) },
      {
        args: [
          "--bind",
          context.staging,
          SANDBOX_LAYER_DIR,
          ...folders.flatMap((folder) => ["--ro-bind", folder.real, folder.inside]),
        ],
        prepare: (hostUid) => giveFolderTo(context.staging, hostUid),
      },
    );
    for (const step of spec.commands) {
      const cwd =
        step.cwd === undefined
          ? SANDBOX_LAYER_DIR
          : posix.join(SANDBOX_LAYER_DIR, ...layerRelativeSegments(step.cwd));
      const label = step.command.join(" ");
      output.write(`$ ${label}\n`);
      if (timedOut) break;
      const process = sandbox.exec(step.command, { cwd, ...(spec.env ? { env: spec.env } : {}) });
      process.stdin.end();
      process.stdout.on("data", (chunk: Buffer) => output.write(chunk.toString("utf8")));
      process.stderr.on("data", (chunk: Buffer) => output.write(chunk.toString("utf8")));
      const status = await process.exited;
      if (timedOut) break;
      if (status.code !== 0) {
        const how =
          status.code === null
            ? `was killed (${status.signal ?? "signal"})`
            : `exited with code ${status.code}`;
        throw new RuntimeError(
          "DEPENDENCIES_FAILED",
          `Installing the profile's dependencies failed: \`${label}\` ${how}${status.limit ? ` at the sandbox's ${status.limit} limit` : ""}:\n${output.tail()}`,
        );
      }
    }
    if (timedOut) {
      throw new RuntimeError(
        "DEPENDENCIES_FAILED",
        `Installing the profile's dependencies took longer than ${Math.round(timeoutMs / 1000)} s and was stopped:\n${output.tail()}`,
      );
    }
  } catch (error) {
    if (RuntimeError.is(error)) throw error;
    throw new RuntimeError("SANDBOX_FAILED", `Could not build a layer: ${errorMessage(error)}`);
  } finally {
    clearTimeout(timer);
    await sandbox?.terminate().catch(() => undefined);
    await context.remove(name).catch(() => undefined);
  }
}

/** A host folder a build may read: absolute, existing, and neither holding nor inside the sandboxes' root. */
function hostFolder(folder: string, realRootDir: string): { real: string; inside: string } {
  if (!posix.isAbsolute(folder) || !existsSync(folder)) {
    throw new RuntimeError(
      "VALIDATION_FAILED",
      `A layer's host folder must be an existing absolute path: ${folder}`,
    );
  }
  const real = realpathSync(folder);
  if (isWithin(real, realRootDir) || isWithin(realRootDir, real)) {
    throw new RuntimeError(
      "VALIDATION_FAILED",
      `A layer's host folder may not hold or be inside the sandboxes' folder: ${folder}`,
    );
  }
  return { real, inside: posix.normalize(folder) };
}

/** The end of a build's output, bounded; every chunk is also passed on as it comes. */
class OutputTail {
  private text = "";

  constructor(private readonly onOutput: ((text: string) => void) | undefined) {}

  write(text: string): void {
    this.onOutput?.(text);
    this.text = (this.text + text).slice(-OUTPUT_TAIL_BYTES);
  }

  tail(): string {
    return this.text;
  }
}
