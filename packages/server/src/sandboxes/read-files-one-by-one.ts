import { errorMessage, RuntimeError } from "../errors.js";
import type { SandboxFileRead } from "./sandbox-provider.js";

/**
 * `Sandbox.readFiles` for providers whose single reads are cheap (no round
 * trip per file): reads the distinct `paths` in order, one at a time, with
 * `readFile`. A RuntimeError of a read becomes that path's entry; any other
 * failure becomes a `SANDBOX_FAILED` entry, so one unreadable file never
 * hides the others.
 */
export async function* readFilesOneByOne(
  readFile: (path: string) => Promise<Uint8Array>,
  paths: readonly string[],
): AsyncGenerator<SandboxFileRead> {
  for (const path of new Set(paths)) {
    let entry: SandboxFileRead;
    try {
      entry = { path, content: await readFile(path) };
    } catch (error) {
      entry = {
        path,
        error: RuntimeError.is(error)
          ? error
          : new RuntimeError("SANDBOX_FAILED", `Cannot read ${path}: ${errorMessage(error)}`, {
              cause: error,
            }),
      };
    }
    yield entry;
  }
}
