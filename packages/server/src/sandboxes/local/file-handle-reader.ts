import type { FileHandle } from "node:fs/promises";
import { Readable } from "node:stream";
import { RuntimeError } from "../../errors.js";
import type { SandboxFileReader } from "../sandbox-provider.js";

/** Bytes per read from the file: large enough for throughput, small enough to hold a few per client. */
const READ_CHUNK_BYTES = 256 * 1024;

/**
 * A `SandboxFileReader` over an open file: its size is the handle's at this
 * call, and reads go through the handle (the file opened, whatever its name
 * leads to later), never past that size. The handle is closed when the
 * stream ends or is destroyed, or by `close()`; it belongs to the reader.
 */
export async function fileHandleReader(file: FileHandle): Promise<SandboxFileReader> {
  let size: number;
  try {
    size = (await file.stat()).size;
  } catch (error) {
    await file.close();
    throw error;
  }
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await file.close();
  };
  return {
    size,
    read(range) {
      if (released) throw new RuntimeError("INTERNAL", "The file was already read or closed");
      const { start, end } = range ?? { start: 0, end: size - 1 };
      if (end < start) {
        void release();
        return Readable.from([], { objectMode: false });
      }
      released = true;
      return file.createReadStream({ start, end, autoClose: true, highWaterMark: READ_CHUNK_BYTES });
    },
    close: release,
  };
}
