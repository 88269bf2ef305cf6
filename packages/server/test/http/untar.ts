import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { extract } from "tar-stream";

export interface TarEntry {
  readonly name: string;
  readonly type: string;
  readonly mode: number;
  readonly content: Buffer;
  /** A symlink entry's target. */
  readonly linkname?: string;
}

/** Unpacks a `.tar.gz` in memory: every entry with its header facts and bytes, in archive order. */
export async function untarGz(archive: Uint8Array): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  const unpack = extract();
  Readable.from([Buffer.from(archive)])
    .pipe(createGunzip())
    .pipe(unpack);
  for await (const entry of unpack) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    const { name, type, mode, linkname } = entry.header;
    entries.push({
      name,
      type: type ?? "file",
      mode: mode ?? 0,
      content: Buffer.concat(chunks),
      ...(linkname ? { linkname } : {}),
    });
  }
  return entries;
}
