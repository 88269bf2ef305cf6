import type { WritableStream } from "node:stream/web";

/** Stdin is sent to Modal in slices of this size. */
const STDIN_SLICE = 1024 * 1024;

/**
 * Writes `bytes` (or nothing) to a Modal command's stdin and closes it.
 * Never rejects: a command that exits early stops reading, and its exit code
 * says why.
 */
export async function sendStdin(stdin: WritableStream<Uint8Array>, bytes?: Uint8Array): Promise<void> {
  try {
    const writer = stdin.getWriter();
    for (let offset = 0; bytes && offset < bytes.length; offset += STDIN_SLICE) {
      await writer.write(bytes.subarray(offset, offset + STDIN_SLICE));
    }
    await writer.close();
  } catch {
    // See above: the exit code tells.
  }
}
