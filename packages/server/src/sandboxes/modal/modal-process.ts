import { PassThrough, type Writable } from "node:stream";
import type { ReadableStream, WritableStream } from "node:stream/web";
import { errorMessage } from "../../errors.js";
import type { ExitStatus, SandboxProcess } from "../sandbox-provider.js";
import type { ModalProcessHandle } from "./modal-client.js";

/** Exit code reported when the process could not be started or Modal lost track of it (as ssh does). */
export const TRANSPORT_FAILURE_EXIT_CODE = 255;

/**
 * Adapts a Modal exec, which starts asynchronously, to the synchronous
 * `SandboxProcess` contract. Output is piped with backpressure; stdin written
 * before the process starts is buffered by the stream. A failure to start or
 * a lost connection is reported on stderr with exit code 255, never thrown:
 * `exited` never rejects. `kill` is delegated to `signal` once the process
 * has started (a kill sent before that waits for the start) and is a no-op
 * after exit.
 */
export function modalProcess(
  started: Promise<ModalProcessHandle>,
  signal: (name: NodeJS.Signals) => Promise<void>,
): SandboxProcess {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let exitedAlready = false;

  const exited = (async (): Promise<ExitStatus> => {
    let handle: ModalProcessHandle;
    try {
      handle = await started;
    } catch (error) {
      exitedAlready = true;
      stdin.resume();
      return finish(stdout, stderr, `could not start the command: ${errorMessage(error)}`);
    }
    void pumpStdin(stdin, handle.stdin);
    const [code] = await Promise.allSettled([
      handle.wait(),
      pumpOutput(handle.stdout, stdout),
      pumpOutput(handle.stderr, stderr),
    ]);
    exitedAlready = true;
    if (code.status === "rejected")
      return finish(stdout, stderr, `lost the command: ${errorMessage(code.reason)}`);
    stdout.end();
    stderr.end();
    return { code: code.value, signal: null };
  })();

  return {
    stdin,
    stdout,
    stderr,
    exited,
    kill(name = "SIGTERM") {
      if (exitedAlready) return;
      started
        .then(
          () => (exitedAlready ? undefined : signal(name)),
          () => undefined,
        )
        .catch(() => undefined);
    },
  };
}

function finish(stdout: PassThrough, stderr: PassThrough, message: string): ExitStatus {
  if (!stderr.writableEnded) stderr.end(`agent-runtime: modal: ${message}\n`);
  stdout.end();
  return { code: TRANSPORT_FAILURE_EXIT_CODE, signal: null };
}

/** Copies a web stream into a Node stream, waiting for `drain`; stops early when the reader destroys it. */
async function pumpOutput(source: ReadableStream<Uint8Array>, target: Writable): Promise<void> {
  for await (const chunk of source) {
    if (target.destroyed) break;
    if (!target.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          target.off("drain", done);
          target.off("close", done);
          resolve();
        };
        target.on("drain", done).on("close", done);
      });
    }
  }
}

/**
 * Forwards what the caller writes to the process, then closes its stdin (EOF)
 * when the caller ends ours. After a failed write (the process is gone) the
 * rest is read and dropped, so writers never block.
 */
async function pumpStdin(source: PassThrough, target: WritableStream<Uint8Array>): Promise<void> {
  const writer = target.getWriter();
  let open = true;
  try {
    for await (const chunk of source) {
      if (!open) continue;
      await writer.write(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Uint8Array)).catch(() => {
        open = false;
      });
    }
  } catch {
    // The caller destroyed stdin: treat it as EOF.
  }
  if (open) await writer.close().catch(() => undefined);
}
