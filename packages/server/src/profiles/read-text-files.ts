import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { FileEntry } from "@agent-runtime/protocol";
import { RuntimeError } from "../errors.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads a UTF-8 text file. Throws `VALIDATION_FAILED` naming the file when it
 * is not valid UTF-8; I/O errors propagate unchanged.
 */
export async function readTextFile(path: string): Promise<string> {
  try {
    return utf8.decode(await readFile(path));
  } catch (error) {
    if (error instanceof TypeError) {
      throw new RuntimeError("VALIDATION_FAILED", `${path}: not UTF-8 text (binary files are not supported)`);
    }
    throw error;
  }
}

/** Reads a text file, or resolves to `null` when it does not exist. */
export async function readOptionalTextFile(path: string): Promise<string | null> {
  try {
    return await readTextFile(path);
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
}

/**
 * Every file below `root` (symbolic links followed), with `/`-separated paths
 * relative to `root`, sorted by path; with `keep`, only the files and folders
 * whose path it accepts. A missing `root` yields `[]`.
 */
export async function readTextFilesRecursively(
  root: string,
  keep: (path: string) => boolean = () => true,
): Promise<FileEntry[]> {
  const files: FileEntry[] = [];
  async function walk(relative: string): Promise<void> {
    let names: string[];
    try {
      names = await readdir(join(root, relative));
    } catch (error) {
      if (isNotFound(error) && relative === "") return;
      throw error;
    }
    for (const name of names.sort()) {
      const path = relative === "" ? name : `${relative}/${name}`;
      if (!keep(path)) continue;
      const info = await stat(join(root, path));
      if (info.isDirectory()) await walk(path);
      else if (info.isFile()) files.push({ path, content: await readTextFile(join(root, path)) });
    }
  }
  await walk("");
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Names of the entries of `dir` that satisfy `keep`, sorted; `[]` when `dir` does not exist. */
export async function listFolder(
  dir: string,
  keep: (info: { name: string; isDirectory: boolean }) => boolean,
): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
  const kept: string[] = [];
  for (const name of names.sort()) {
    const info = await stat(join(dir, name));
    if (keep({ name, isDirectory: info.isDirectory() })) kept.push(name);
  }
  return kept;
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}
