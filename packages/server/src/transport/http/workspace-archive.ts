import { pipeline, type Readable } from "node:stream";
import { createGzip } from "node:zlib";
import type { WorkspaceFile } from "@agent-runtime/protocol";
import { pack } from "tar-stream";
import { RuntimeError } from "../../errors.js";

/** Read failures that leave a file out of the archive (reported) instead of failing it. */
const skippedReadErrors = new Set<string>(["FILE_NOT_FOUND", "INVALID_PATH"]);

export interface WorkspaceArchiveOptions {
  /** The workspace's file index, in archive order. */
  readonly files: readonly WorkspaceFile[];
  /** Reads one file by its workspace-relative path (e.g. `AgentSession.readFile`). */
  readonly read: (path: string) => Promise<Uint8Array>;
  /** Called for each file left out, with the reason (the read's error message). */
  readonly onSkipped: (path: string, reason: string) => void;
}

/**
 * A workspace as a gzipped tar stream: one regular file (mode 0644, the
 * index's `modifiedAt` as mtime) per entry of `files`, named by its
 * workspace-relative path exactly (any name Linux accepts; long and
 * non-ASCII names go into PAX headers), read one at a time as the
 * consumer asks for more (memory stays at about one file).
 *
 * Left out, each reported through `onSkipped`: files deleted between the
 * index and their read (`FILE_NOT_FOUND`), and whatever the reader refuses
 * (`INVALID_PATH`: a FIFO, socket or device, which is not a regular file, or
 * a symlink pointing out): the archive never holds a byte from outside. Any
 * other read failure destroys the stream with that error (the consumer sees
 * a truncated archive, so it must not treat an early end as success).
 */
export function workspaceArchive(options: WorkspaceArchiveOptions): Readable {
  const archive = pack();
  const gzip = createGzip();
  pipeline(archive as unknown as Readable, gzip, () => undefined);

  void (async () => {
    for (const file of options.files) {
      if (archive.destroying) return;
      let content: Uint8Array;
      try {
        content = await options.read(file.path);
      } catch (error) {
        if (!RuntimeError.is(error) || !skippedReadErrors.has(error.code)) throw error;
        options.onSkipped(file.path, error.message);
        continue;
      }
      await new Promise<void>((resolve, reject) => {
        const entry = archive.entry(
          {
            name: file.path,
            type: "file",
            mode: 0o644,
            size: content.byteLength,
            mtime: mtimeOf(file.modifiedAt),
          },
          (error) => (error ? reject(error) : resolve()),
        );
        entry.end(Buffer.from(content.buffer, content.byteOffset, content.byteLength));
      });
    }
    archive.finalize();
  })().catch((error: unknown) => archive.destroy(error instanceof Error ? error : new Error(String(error))));

  return gzip;
}

function mtimeOf(modifiedAt: string): Date {
  const date = new Date(modifiedAt);
  return Number.isNaN(date.getTime()) ? new Date() : date;
}
