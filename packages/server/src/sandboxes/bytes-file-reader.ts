import { Readable } from "node:stream";
import type { SandboxFileReader } from "./sandbox-provider.js";

/**
 * A `SandboxFileReader` over bytes already in memory: for files that are
 * small by construction (the runtime's own read-only files, a fake
 * sandbox's) and for callers whose source can only read a file whole.
 */
export function bytesFileReader(bytes: Uint8Array): SandboxFileReader {
  return {
    size: bytes.byteLength,
    read(range = { start: 0, end: bytes.byteLength - 1 }) {
      const part = bytes.subarray(range.start, range.end + 1);
      return Readable.from(part.byteLength === 0 ? [] : [part], { objectMode: false });
    },
    close: async () => undefined,
  };
}
