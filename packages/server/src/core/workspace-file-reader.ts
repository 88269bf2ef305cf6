import { pipeline, Readable, Transform } from "node:stream";
import { RuntimeError } from "../errors.js";
import type { PersistenceAdapter } from "../persistence/persistence-adapter.js";
import { bytesFileReader } from "../sandboxes/bytes-file-reader.js";
import type { ByteRange, Sandbox, SandboxFileReader } from "../sandboxes/sandbox-provider.js";

/** Bytes asked of storage per call while a stored file streams (its chunk size). */
const STORED_READ_BYTES = 1024 * 1024;

/**
 * A workspace file opened for reading (`AgentSession.openFile`), from the
 * running sandbox or from storage. Its size is known before any byte is
 * read, so a caller can refuse or slice it first.
 */
export interface WorkspaceFileReader {
  /** Bytes in the file when it was opened. */
  readonly size: number;
  /**
   * Streams `range` (within `0..size-1`; default the whole file) with
   * backpressure; call at most once. The stream carries exactly the range's
   * bytes or fails: a file that shrank, or was replaced in storage, while it
   * was read destroys the stream (`CONFLICT`), so a short read never looks
   * complete. Ending or destroying it releases the file.
   */
  read(range?: ByteRange): Readable;
  /** Releases the file without reading it; a no-op after `read`. Idempotent. */
  close(): Promise<void>;
}

/**
 * Opens a file of a running sandbox by absolute sandbox path: streamed when
 * the provider has `openFile`, else read whole with `readFile` (then memory
 * holds the file). Throws what the provider throws.
 */
export async function openSandboxFile(sandbox: Sandbox, path: string): Promise<WorkspaceFileReader> {
  const reader = sandbox.openFile
    ? await sandbox.openFile(path)
    : bytesFileReader(await sandbox.readFile(path));
  return exactly(reader, path);
}

/**
 * Opens a stored file of a session, or resolves `null` when none is stored
 * at `path`: read 1 MiB at a time as the consumer asks when the adapter has
 * `loadWorkspaceFileRange` (a file replaced meanwhile fails the stream),
 * else loaded whole with `loadWorkspaceFile`.
 */
export async function openStoredFile(
  persistence: PersistenceAdapter,
  sessionId: string,
  path: string,
): Promise<WorkspaceFileReader | null> {
  if (!persistence.loadWorkspaceFileRange) {
    const bytes = await persistence.loadWorkspaceFile(sessionId, path);
    return bytes && exactly(bytesFileReader(bytes), path);
  }
  const load = persistence.loadWorkspaceFileRange.bind(persistence);
  const head = await load(sessionId, path, 0, 0);
  if (!head) return null;
  const replaced = () => new RuntimeError("CONFLICT", `Stored file ${path} was replaced while it was read`);
  async function* chunks({ start, end }: ByteRange): AsyncGenerator<Uint8Array> {
    for (let at = start; at <= end; ) {
      const part = await load(sessionId, path, at, Math.min(end - at + 1, STORED_READ_BYTES));
      if (part?.sha256 !== head!.sha256 || part.bytes.byteLength === 0) throw replaced();
      yield part.bytes;
      at += part.bytes.byteLength;
    }
  }
  return exactly(
    {
      size: head.size,
      read: (range = { start: 0, end: head.size - 1 }) => Readable.from(chunks(range), { objectMode: false }),
      close: async () => undefined,
    },
    path,
  );
}

/** `reader` whose streams carry exactly their range's length, or fail. */
function exactly(reader: SandboxFileReader, path: string): WorkspaceFileReader {
  return {
    size: reader.size,
    read(range) {
      const { start, end } = range ?? { start: 0, end: reader.size - 1 };
      const length = Math.max(0, end - start + 1);
      let seen = 0;
      const changed = () =>
        new RuntimeError("CONFLICT", `File ${path} changed while it was read (${seen} of ${length} bytes)`);
      const guard = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          seen += chunk.byteLength;
          if (seen > length) done(changed());
          else done(null, chunk);
        },
        flush(done) {
          done(seen === length ? null : changed());
        },
      });
      // Destroying the guard (a client that went away) destroys the source, which releases the file.
      pipeline(reader.read(range), guard, () => undefined);
      return guard;
    },
    close: () => reader.close(),
  };
}
