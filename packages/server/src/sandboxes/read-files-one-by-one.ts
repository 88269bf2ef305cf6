import { errorMessage, RuntimeError } from "../errors.js";
import type { ReadFilesOptions, Sandbox, SandboxFileRead } from "./sandbox-provider.js";

/**
 * `Sandbox.readFiles` for providers whose single reads are cheap (no round
 * trip per file): reads the distinct `paths` in order, one at a time. With
 * `maxBytes`, each file is opened first (`openFile`) and read only when its
 * size is within the bound, and never past the size it was opened with. A
 * RuntimeError of a read becomes that path's entry; any other failure
 * becomes a `SANDBOX_FAILED` entry, so one unreadable file never hides the
 * others.
 */
export async function* readFilesOneByOne(
  sandbox: Pick<Sandbox, "readFile" | "openFile">,
  paths: readonly string[],
  options: ReadFilesOptions = {},
): AsyncGenerator<SandboxFileRead> {
  for (const path of new Set(paths)) {
    let entry: SandboxFileRead;
    try {
      entry = await readOne(sandbox, path, options.maxBytes);
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

async function readOne(
  sandbox: Pick<Sandbox, "readFile" | "openFile">,
  path: string,
  maxBytes: number | undefined,
): Promise<SandboxFileRead> {
  if (maxBytes === undefined || !sandbox.openFile) return { path, content: await sandbox.readFile(path) };
  const reader = await sandbox.openFile(path);
  if (reader.size > maxBytes) {
    await reader.close();
    const error = new RuntimeError("FILE_TOO_LARGE", `${path} holds ${reader.size} bytes, over ${maxBytes}`);
    return { path, error, size: reader.size };
  }
  const content = Buffer.allocUnsafe(reader.size);
  let filled = 0;
  if (reader.size > 0) {
    for await (const chunk of reader.read()) {
      const bytes = chunk as Buffer;
      bytes.copy(content, filled);
      filled += bytes.byteLength;
    }
  } else {
    await reader.close();
  }
  return { path, content: new Uint8Array(content.buffer, content.byteOffset, filled) };
}
