import { Readable } from "node:stream";
import { invalidPath } from "../../confined-path.js";
import { RuntimeError } from "../../errors.js";
import { resolveAreaPath, type SandboxAreas } from "../area-path.js";
import type { ByteRange, SandboxFileReader } from "../sandbox-provider.js";
import { keepStart } from "./files-reader.js";
import type { ModalProcessHandle, ModalSandboxHandle } from "./modal-client.js";
import { modalFailure } from "./modal-errors.js";
import {
  type AgentIdentity,
  fileSizeCommand,
  NOT_A_FILE_EXIT_CODE,
  NOT_REGULAR_EXIT_CODE,
  readRangeCommand,
} from "./sandbox-commands.js";
import { sendStdin } from "./send-stdin.js";

/** How much of a command's stderr is kept for error messages. */
const STDERR_KEPT = 4096;
/** Longest output `fileSizeCommand` may print: a size and a newline. */
const SIZE_OUTPUT_MAX = 32;

/**
 * `Sandbox.openFile` on Modal: one exec reads the file's size (as the agent
 * user), and `read` starts another that streams just the range (`dd`,
 * seeking), as Modal delivers it, with backpressure. Nothing stays open
 * between the two, so `close()` has nothing to release. A file replaced
 * meanwhile is read as it is then; the stream never carries more than the
 * range, and a read that fails or exits non-zero destroys it with
 * `SANDBOX_FAILED`.
 */
export async function openModalFile(
  handle: ModalSandboxHandle,
  agent: AgentIdentity,
  areas: SandboxAreas,
  path: string,
): Promise<SandboxFileReader> {
  const target = resolveAreaPath(areas, path).path;
  const { code, stdout, stderr } = await run(
    handle,
    "open file",
    fileSizeCommand(agent, target),
    SIZE_OUTPUT_MAX,
  );
  if (code === NOT_A_FILE_EXIT_CODE) throw new RuntimeError("FILE_NOT_FOUND", `No file at ${target}`);
  if (code === NOT_REGULAR_EXIT_CODE) throw invalidPath(target, "is not a regular file");
  if (code !== 0 || !/^\d{1,15}$/.test(stdout)) {
    throw new RuntimeError(
      "SANDBOX_FAILED",
      `Modal open file failed: exit code ${code}${stderr ? `: ${stderr}` : `, output ${JSON.stringify(stdout)}`}`,
    );
  }
  const size = Number(stdout);
  let used = false;
  return {
    size,
    read(range: ByteRange = { start: 0, end: size - 1 }) {
      if (used) throw new RuntimeError("INTERNAL", "The file was already read");
      used = true;
      const count = range.end - range.start + 1;
      return Readable.from(count > 0 ? streamRange(handle, agent, target, range.start, count) : [], {
        objectMode: false,
      });
    },
    close: async () => undefined,
  };
}

/** The output of `readRangeCommand`, chunk by chunk as Modal sends it; throws when the command fails. */
async function* streamRange(
  handle: ModalSandboxHandle,
  agent: AgentIdentity,
  path: string,
  start: number,
  count: number,
): AsyncGenerator<Uint8Array> {
  const process = await startCommand(handle, "read file", readRangeCommand(agent, path, start, count));
  const stderr = keepStart(process.stderr, STDERR_KEPT).catch(() => "");
  try {
    // Leaving the loop early (the consumer went away) cancels the output.
    for await (const chunk of process.stdout) yield chunk;
  } catch (error) {
    throw modalFailure("read file", error);
  }
  const [code, message] = await Promise.all([process.wait(), stderr]);
  if (code !== 0) {
    throw new RuntimeError(
      "SANDBOX_FAILED",
      `Modal read file failed: exit code ${code}${message ? `: ${message}` : ""}`,
    );
  }
}

/** Starts `argv` with an empty stdin. Throws `SANDBOX_FAILED` naming `operation` when Modal fails. */
async function startCommand(
  handle: ModalSandboxHandle,
  operation: string,
  argv: readonly string[],
): Promise<ModalProcessHandle> {
  const process = await handle.exec(argv, {}).catch((error: unknown) => {
    throw modalFailure(operation, error);
  });
  void sendStdin(process.stdin);
  return process;
}

/** Runs `argv` to completion: its exit code and the start of its output and stderr, as trimmed text. */
async function run(
  handle: ModalSandboxHandle,
  operation: string,
  argv: readonly string[],
  limit: number,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const process = await startCommand(handle, operation, argv);
  try {
    const [code, stdout, stderr] = await Promise.all([
      process.wait(),
      keepStart(process.stdout, limit),
      keepStart(process.stderr, STDERR_KEPT),
    ]);
    return { code, stdout, stderr };
  } catch (error) {
    throw modalFailure(operation, error);
  }
}
