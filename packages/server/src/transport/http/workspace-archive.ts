import { pipeline, type Readable } from "node:stream";
import { createGzip } from "node:zlib";
import { pack } from "tar-stream";
import type { AgentSession } from "../../core/agent-session.js";
import { RuntimeError } from "../../errors.js";

/** Read failures that leave a file out of the archive instead of failing it. */
const skippedReadErrors = new Set<string>(["FILE_NOT_FOUND", "INVALID_PATH"]);

/**
 * The session's workspace as a gzipped tar stream: one regular file (mode
 * 0644, the index's `modifiedAt` as mtime) per entry of the file index, named
 * by its workspace-relative path, read through `session.readFile` one at a
 * time as the consumer asks for more (memory stays at about one file).
 * Left out: files deleted between the index and their read, and whatever the
 * session refuses to read as a regular file inside the workspace (a symlink
 * pointing out, a special file): the archive never holds a byte from
 * outside. Any other read failure destroys the stream with that error (the
 * consumer sees a truncated archive, so it must not treat an early end as
 * success).
 */
export function workspaceArchive(session: AgentSession): Readable {
  const files = session.snapshot().files;
  const archive = pack();
  const gzip = createGzip();
  pipeline(archive as unknown as Readable, gzip, () => undefined);

  void (async () => {
    for (const file of files) {
      if (archive.destroying) return;
      let content: Uint8Array;
      try {
        content = await session.readFile(file.path);
      } catch (error) {
        if (RuntimeError.is(error) && skippedReadErrors.has(error.code)) continue;
        throw error;
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
