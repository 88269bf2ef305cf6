import { pack } from "tar-stream";
import { resolveAreaPath, type SandboxAreas } from "../area-path.js";
import type { SandboxFile } from "../sandbox-provider.js";
import type { FileTarget } from "./sandbox-commands.js";

/** One batch for `writeFilesCommand`. */
export interface FilesArchive {
  /** Every file of the batch as NUL-terminated area root, folder and name. */
  readonly list: Uint8Array;
  /** A tar of the files as regular files (names relative to `/`, mode 0644) and symbolic links. */
  readonly tar: Uint8Array;
  /** The batch's read-only files, for root to take over after extraction. */
  readonly readOnly: readonly FileTarget[];
}

/**
 * Packs files for one bulk write. Every path is validated first (absolute,
 * strictly below the workspace or home folder, no `.`/`..`, no NUL), so one
 * bad path rejects the whole batch with `INVALID_PATH` before anything is
 * sent. A path given twice is written with its last content and flag.
 */
export async function buildFilesArchive(
  files: readonly SandboxFile[],
  areas: SandboxAreas,
): Promise<FilesArchive> {
  const mtime = new Date();
  const targets = new Map<string, { target: FileTarget; file: SandboxFile }>();
  for (const file of files) {
    const { path, root, segments } = resolveAreaPath(areas, file.path);
    targets.delete(path);
    targets.set(path, {
      target: { root, dir: segments.slice(0, -1).join("/"), name: segments.at(-1)! },
      file,
    });
  }

  const archive = pack();
  for (const [path, { file }] of targets) {
    if (file.linkTarget !== undefined) {
      archive.entry({ name: path.slice(1), type: "symlink", linkname: file.linkTarget, mtime });
      continue;
    }
    const content =
      typeof file.content === "string"
        ? Buffer.from(file.content)
        : Buffer.from(file.content.buffer, file.content.byteOffset, file.content.byteLength);
    archive.entry({ name: path.slice(1), type: "file", mode: 0o644, mtime, size: content.length }, content);
  }
  archive.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of archive) chunks.push(chunk as Buffer);

  const entries = [...targets.values()];
  return {
    list: Buffer.from(
      entries.map(({ target }) => `${target.root}\0${target.dir}\0${target.name}\0`).join(""),
    ),
    tar: new Uint8Array(Buffer.concat(chunks)),
    readOnly: entries.filter(({ file }) => file.readOnly).map(({ target }) => target),
  };
}
