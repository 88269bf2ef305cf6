import { pipeline, Readable } from "node:stream";
import type { ReadableStream, ReadableStreamDefaultReader } from "node:stream/web";
import { extract } from "tar-stream";
import { RuntimeError } from "../../errors.js";
import { resolveAreaPath, type SandboxAreas } from "../area-path.js";
import type { ReadFilesOptions, SandboxFileRead } from "../sandbox-provider.js";
import type { ModalSandboxHandle } from "./modal-client.js";
import { modalFailure } from "./modal-errors.js";
import { type AgentIdentity, READ_FILES_REPORT, readFilesCommand } from "./sandbox-commands.js";
import { sendStdin } from "./send-stdin.js";

/** How much of the command's stderr is kept for error messages. */
const STDERR_KEPT = 4096;

/**
 * `Sandbox.readFiles` on Modal: one `readFilesCommand` exec for all paths,
 * whose report and tar are parsed as they stream in, one file at a time.
 * Everything the command prints is checked against what was asked: a
 * report or tar member naming a path not asked for is ignored, a report
 * longer than the request fails the call with `SANDBOX_FAILED`. A path the
 * command accounted for neither way gets a `SANDBOX_FAILED` entry naming
 * the exit code and stderr.
 */
export async function* readModalFiles(
  handle: ModalSandboxHandle,
  agent: AgentIdentity,
  areas: SandboxAreas,
  paths: readonly string[],
  options: ReadFilesOptions = {},
): AsyncGenerator<SandboxFileRead> {
  /** Requested spellings by normalised path, while the path has no entry yet. */
  const pending = new Map<string, string[]>();
  for (const path of new Set(paths)) {
    let target: string;
    try {
      target = resolveAreaPath(areas, path).path;
    } catch (error) {
      if (!RuntimeError.is(error)) throw error;
      yield { path, error };
      continue;
    }
    pending.set(target, [...(pending.get(target) ?? []), path]);
  }
  if (pending.size === 0) return;

  const settle = function* (target: string, entry: (path: string) => SandboxFileRead) {
    const requested = pending.get(target);
    if (!requested) return;
    pending.delete(target);
    for (const path of requested) yield entry(path);
  };

  const process = await handle.exec(readFilesCommand(agent), {}).catch((error: unknown) => {
    throw modalFailure("read files", error);
  });
  const request = Buffer.from([...pending.keys()].map((target) => `${target}\0`).join(""));
  const writing = sendStdin(process.stdin, request);
  const stderr = keepStart(process.stderr, STDERR_KEPT).catch(() => "");
  const stdout = process.stdout.getReader();
  let finished = false;
  try {
    // A record is a mark, a path asked for and a NUL; then one NUL ends the report.
    const { records, rest } = await readReport(stdout, request.length + pending.size + 1);
    for (const record of records) {
      const mark = record[0];
      const target = record.slice(1);
      yield* settle(target, (path) => ({
        path,
        error:
          mark === READ_FILES_REPORT.missing
            ? new RuntimeError("FILE_NOT_FOUND", `No file at ${path}`)
            : mark === READ_FILES_REPORT.notRegular
              ? new RuntimeError("INVALID_PATH", `${path} is not a regular file`)
              : new RuntimeError("SANDBOX_FAILED", `${path} is not readable by the agent user`),
      }));
    }

    const archive = extract();
    // A failing transport destroys the archive, which ends the loop below with its error.
    pipeline(Readable.from(remaining(rest, stdout)), archive, () => undefined);
    for await (const member of archive) {
      const { name, type } = member.header;
      if (!pending.has(name)) {
        member.resume();
        continue;
      }
      if (type !== "file") {
        member.resume();
        yield* settle(name, (path) => ({
          path,
          error: new RuntimeError("INVALID_PATH", `${path} is not a regular file`),
        }));
        continue;
      }
      const size = member.header.size ?? 0;
      if (options.maxBytes !== undefined && size > options.maxBytes) {
        // Not held: the member streams past, unread.
        member.resume();
        yield* settle(name, (path) => ({
          path,
          error: new RuntimeError("FILE_TOO_LARGE", `${path} holds ${size} bytes, over ${options.maxBytes}`),
          size,
        }));
        continue;
      }
      const chunks: Buffer[] = [];
      for await (const chunk of member) chunks.push(chunk as Buffer);
      const content = new Uint8Array(Buffer.concat(chunks));
      yield* settle(name, (path) => ({ path, content }));
    }
    finished = true;

    const [code, message] = await Promise.all([process.wait(), stderr, writing]);
    const reason = `exit code ${code}${message ? `: ${message}` : ""}`;
    for (const target of [...pending.keys()]) {
      yield* settle(target, (path) => ({
        path,
        error: new RuntimeError("SANDBOX_FAILED", `Modal read files did not return ${path}: ${reason}`),
      }));
    }
  } catch (error) {
    throw modalFailure("read files", error);
  } finally {
    if (!finished) await stdout.cancel().catch(() => undefined);
  }
}

/**
 * Reads `readFilesCommand`'s report: NUL-terminated records up to an empty
 * one. Throws `SANDBOX_FAILED` when it is longer than `limit` bytes or the
 * output ends first. `rest` holds what followed it in the last chunk.
 */
async function readReport(
  stdout: ReadableStreamDefaultReader<Uint8Array>,
  limit: number,
): Promise<{ records: string[]; rest: Uint8Array }> {
  const tooLong = () => malformed("its report is longer than the request");
  let buffered = Buffer.alloc(0);
  /** Where the next record begins. */
  let start = 0;
  for (;;) {
    for (let end = buffered.indexOf(0, start); end !== -1; end = buffered.indexOf(0, start)) {
      if (end === start) {
        if (end + 1 > limit) throw tooLong();
        const records = buffered.subarray(0, start).toString("utf8").split("\0").slice(0, -1);
        return { records, rest: buffered.subarray(end + 1) };
      }
      start = end + 1;
    }
    if (buffered.length >= limit) throw tooLong();
    const { done, value } = await stdout.read();
    if (done) throw malformed("its output ended before the report did");
    buffered = Buffer.concat([buffered, value]);
  }
}

async function* remaining(
  first: Uint8Array,
  stdout: ReadableStreamDefaultReader<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  if (first.length > 0) yield first;
  for (;;) {
    const { done, value } = await stdout.read();
    if (done) return;
    yield value;
  }
}

/** The first `limit` bytes of `stream` as trimmed text; the rest is read and dropped. */
export async function keepStart(stream: ReadableStream<Uint8Array>, limit: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let kept = 0;
  for await (const chunk of stream) {
    if (kept < limit) chunks.push(chunk.subarray(0, limit - kept));
    kept += chunk.length;
  }
  return Buffer.concat(chunks).toString("utf8").trim();
}

function malformed(reason: string): RuntimeError {
  return new RuntimeError("SANDBOX_FAILED", `Modal read files failed: ${reason}`);
}
