import { randomUUID } from "node:crypto";
import type { ReadableStream } from "node:stream/web";
import { setTimeout as sleep } from "node:timers/promises";
import { RuntimeError } from "../../errors.js";
import { resolveAreaPath } from "../area-path.js";
import type {
  ExecOptions,
  ReadFilesOptions,
  Sandbox,
  SandboxFile,
  SandboxFileRead,
  SandboxFileReader,
  SandboxProcess,
  WorkspaceEntry,
} from "../sandbox-provider.js";
import { openModalFile } from "./file-range-reader.js";
import { buildFilesArchive } from "./files-archive.js";
import { readModalFiles } from "./files-reader.js";
import type { ModalExecParams, ModalSandboxHandle } from "./modal-client.js";
import { isModalNotFound, modalFailure } from "./modal-errors.js";
import { AGENT_USER } from "./modal-image.js";
import { modalProcess } from "./modal-process.js";
import type { ResolvedModalSandboxOptions } from "./modal-sandbox-options.js";
import {
  deleteFileCommand,
  killCommand,
  listFilesCommand,
  NOT_A_FILE_EXIT_CODE,
  pidFileFor,
  readFileCommand,
  SANDBOX_MARKER,
  userCommand,
  writeFilesCommand,
} from "./sandbox-commands.js";
import { sendStdin } from "./send-stdin.js";

export interface ModalSandboxIdentity {
  /** `SandboxSpec.name`. */
  readonly name: string;
  /** `SandboxSpec.env`, given to every command (a taken-over sandbox's container has an earlier spec's). */
  readonly env?: Readonly<Record<string, string>>;
  /** When Modal stops the sandbox at the end of its lifetime (ms since the epoch). */
  readonly expiresAt?: number;
}

/** Back-off bounds while re-polling a sandbox whose wait call failed. */
const WAIT_RETRY_MS = { first: 1000, max: 30_000 };

export interface CommandResult {
  readonly code: number;
  readonly stdout: Uint8Array;
  readonly stderr: string;
}

/**
 * A `Sandbox` over a Modal sandbox handle. Every SDK failure surfaces as a
 * `SANDBOX_FAILED` RuntimeError naming the operation; invalid paths as
 * `INVALID_PATH` before any call. File operations run as the agent user.
 */
export function modalSandbox(
  handle: ModalSandboxHandle,
  identity: ModalSandboxIdentity,
  options: ResolvedModalSandboxOptions,
): Sandbox {
  const agent = { uid: options.uid, gid: options.gid };
  const areas = { workspaceDir: options.workspaceDir, homeDir: options.homeDir };
  const userEnv = { HOME: options.homeDir, USER: AGENT_USER, LOGNAME: AGENT_USER, ...identity.env };

  let stopping: Promise<void> | undefined;
  let stopped = false;
  let markTerminated!: () => void;
  const terminated = new Promise<void>((resolve) => {
    markTerminated = () => {
      stopped = true;
      resolve();
    };
  });
  void watchUntilStopped(handle, () => stopped).then(markTerminated);

  const run = (operation: string, argv: readonly string[], stdin?: Uint8Array, params?: ModalExecParams) =>
    runCommand(handle, operation, argv, stdin, params);

  return {
    id: handle.sandboxId,
    name: identity.name,
    workspaceDir: options.workspaceDir,
    homeDir: options.homeDir,
    runnerCommand: options.runnerCommand,
    terminated,
    ...(identity.expiresAt === undefined ? {} : { expiresAt: identity.expiresAt }),

    exec(command: readonly string[], execOptions: ExecOptions = {}): SandboxProcess {
      const pidFile = pidFileFor(randomUUID());
      const started =
        command.length === 0
          ? Promise.reject(new RuntimeError("VALIDATION_FAILED", "exec needs a command"))
          : handle.exec(userCommand(agent, pidFile, command), {
              workdir: execOptions.cwd ?? options.workspaceDir,
              env: { [SANDBOX_MARKER]: handle.sandboxId, ...userEnv, ...execOptions.env },
            });
      return modalProcess(started, async (signal) => {
        await run("kill", killCommand(pidFile, signal.replace(/^SIG/, "")));
      });
    },

    async writeFiles(files: readonly SandboxFile[]): Promise<void> {
      if (files.length === 0) return;
      const archive = await buildFilesArchive(files, areas);
      const result = await run(
        "write files",
        writeFilesCommand(agent, archive.list.length, archive.readOnly),
        Buffer.concat([archive.list, archive.tar]),
      );
      if (result.code !== 0) throw commandFailure("write files", result);
    },

    async readFile(path: string): Promise<Uint8Array> {
      const target = resolveAreaPath(areas, path);
      const result = await run("read file", readFileCommand(agent, target.path));
      if (result.code === NOT_A_FILE_EXIT_CODE) {
        throw new RuntimeError("FILE_NOT_FOUND", `No file at ${target.path}`);
      }
      if (result.code !== 0) throw commandFailure("read file", result);
      return result.stdout;
    },

    readFiles(paths: readonly string[], options?: ReadFilesOptions): AsyncIterable<SandboxFileRead> {
      return readModalFiles(handle, agent, areas, paths, options);
    },

    openFile(path: string): Promise<SandboxFileReader> {
      return openModalFile(handle, agent, areas, path);
    },

    async listWorkspace(): Promise<WorkspaceEntry[]> {
      const result = await run("list workspace", listFilesCommand(agent, options.workspaceDir));
      // find exits 1 when some folder was unreadable; what it could read is still listed.
      if (result.code !== 0 && result.code !== 1) throw commandFailure("list workspace", result);
      return parseFileList(result.stdout);
    },

    async deleteFile(path: string): Promise<void> {
      const target = resolveAreaPath(areas, path);
      const result = await run("delete file", deleteFileCommand(agent, target.path));
      if (result.code !== 0) throw commandFailure("delete file", result);
    },

    terminate(): Promise<void> {
      stopping ??= handle.terminate().then(
        () => markTerminated(),
        (error: unknown) => {
          if (isModalNotFound(error)) return markTerminated();
          stopping = undefined;
          throw modalFailure("terminate", error);
        },
      );
      return stopping;
    },
  };
}

/**
 * Runs a command to completion as Modal runs it (root), feeding it `stdin`
 * and collecting its output, marked with `SANDBOX_MARKER` (unless
 * `params.env` sets it) so a server taking the sandbox over can stop it.
 * Throws `SANDBOX_FAILED` naming `operation` when Modal fails; a non-zero
 * exit code is the caller's to judge.
 */
export async function runCommand(
  handle: ModalSandboxHandle,
  operation: string,
  argv: readonly string[],
  stdin?: Uint8Array,
  params: ModalExecParams = {},
): Promise<CommandResult> {
  try {
    const process = await handle.exec(argv, {
      ...params,
      env: { [SANDBOX_MARKER]: handle.sandboxId, ...params.env },
    });
    const writing = sendStdin(process.stdin, stdin);
    const [code, stdout, stderr] = await Promise.all([
      process.wait(),
      readAll(process.stdout),
      readAll(process.stderr),
      writing,
    ]);
    return { code, stdout, stderr: Buffer.from(stderr).toString("utf8").trim() };
  } catch (error) {
    throw modalFailure(operation, error);
  }
}

/** The `SANDBOX_FAILED` error for a command of `operation` that exited with an unexpected code. */
export function commandFailure(operation: string, result: CommandResult): RuntimeError {
  return new RuntimeError(
    "SANDBOX_FAILED",
    `Modal ${operation} failed: exit code ${result.code}${result.stderr ? `: ${result.stderr}` : ""}`,
  );
}

/** Parses `listFilesCommand` output: `f SIZE TIME PATH\0` per file, `l SIZE TIME PATH\0TARGET\0` per link. */
function parseFileList(output: Uint8Array): WorkspaceEntry[] {
  const entries: WorkspaceEntry[] = [];
  const fields = Buffer.from(output).toString("utf8").split("\0");
  for (let index = 0; index < fields.length; index++) {
    const match = /^([fl]) (\d+) (\d+(?:\.\d+)?) (.+)$/s.exec(fields[index]!);
    if (!match) continue;
    const linkTarget = match[1] === "l" ? fields[++index] : undefined;
    if (linkTarget === "") continue;
    entries.push({
      path: match[4]!,
      size: Number(match[2]),
      modifiedAt: new Date(Math.round(Number(match[3]) * 1000)).toISOString(),
      ...(linkTarget === undefined ? {} : { linkTarget }),
    });
  }
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * Resolves once Modal reports the sandbox stopped (by `terminate()`, its
 * timeouts, or from outside). A failed wait call is retried with back-off
 * until `done()` says the caller already knows.
 */
async function watchUntilStopped(handle: ModalSandboxHandle, done: () => boolean): Promise<void> {
  for (let delay = WAIT_RETRY_MS.first; !done(); delay = Math.min(delay * 2, WAIT_RETRY_MS.max)) {
    try {
      await handle.wait();
      return;
    } catch (error) {
      if (isModalNotFound(error)) return;
      await sleep(delay, undefined, { ref: false });
    }
  }
}
