import { pipeline, Readable } from "node:stream";
import { createGzip } from "node:zlib";
import type { WorkspaceFile } from "@agent-runtime/protocol";
import { type Header, type Pack, pack } from "tar-stream";
import { linkAbove } from "../../confined-path.js";
import type { WorkspaceFileReader } from "../../core/workspace-file-reader.js";
import { RuntimeError } from "../../errors.js";

type EntryHeader = Partial<Header> & Pick<Header, "name">;

/** Open failures that leave a file out of the archive (named) instead of failing it. */
const omittedOpenErrors = new Set<string>(["FILE_NOT_FOUND", "INVALID_PATH"]);

/**
 * Name of the archive's last entry when files were left out: a JSON
 * document `{"omitted": [{path, size?, reason}]}` naming each. The name is
 * reserved: an archive holds it only for that purpose.
 */
export const OMITTED_ENTRY_NAME = ".agent-runtime-omitted.json";

/** A file left out of an archive, and why. */
export interface OmittedFile {
  readonly path: string;
  /** Its size, when it was left out for it. */
  readonly size?: number;
  readonly reason: string;
}

export interface WorkspaceArchiveOptions {
  /** The workspace's file index, in archive order. */
  readonly files: readonly WorkspaceFile[];
  /** Opens one file by its workspace-relative path (e.g. `AgentSession.openFile`). */
  readonly open: (path: string) => Promise<WorkspaceFileReader>;
  /** Files larger than this are left out. */
  readonly maxFileBytes: number;
  /** Called for each file left out, as it is. */
  readonly onOmitted: (file: OmittedFile) => void;
}

/**
 * A workspace as a gzipped tar stream: one regular file (mode 0644, its size
 * when opened, the index's `modifiedAt` as mtime) per entry of `files`,
 * named by its workspace-relative path exactly (any name Linux accepts; long
 * and non-ASCII names go into PAX headers), with the content `open` gives;
 * a symbolic link of the index is a symlink entry with its target, never
 * followed. Files are opened one
 * at a time and streamed into the archive as the consumer asks for more, so
 * memory stays bounded (a few buffers) whatever their sizes.
 *
 * Left out, each reported through `onOmitted` and named in a last entry
 * `OMITTED_ENTRY_NAME` (only when something was): files over `maxFileBytes`,
 * files deleted between the index and their open (`FILE_NOT_FOUND`), and
 * whatever the opener refuses (`INVALID_PATH`: a FIFO, socket or device,
 * which is not a regular file, or a symlink pointing out), so the archive
 * never holds a byte from outside. Any other failure destroys the stream
 * with that error (the consumer sees a truncated archive, so it must not
 * treat an early end as success); destroying the stream stops the reading.
 */
export function workspaceArchive(options: WorkspaceArchiveOptions): Readable {
  const archive = pack();
  const gzip = createGzip();
  pipeline(archive as unknown as Readable, gzip, () => undefined);
  const omitted: OmittedFile[] = [];
  const omit = (file: OmittedFile) => {
    omitted.push(file);
    options.onOmitted(file);
  };

  const links = new Set(options.files.flatMap((file) => (file.linkTarget === undefined ? [] : [file.path])));
  void (async () => {
    for (const file of options.files) {
      if (archive.destroying) return;
      const link = linkAbove(file.path, links);
      if (link !== undefined) {
        // An extractor would write it through the link: left out.
        omit({ path: file.path, reason: `below the symbolic link ${link}` });
        continue;
      }
      if (file.linkTarget !== undefined) {
        // A link is archived as the link it is, never followed.
        const link: EntryHeader = {
          name: file.path,
          type: "symlink",
          linkname: file.linkTarget,
          mtime: mtimeOf(file.modifiedAt),
        };
        await addEntry(archive, link);
        continue;
      }
      let reader: WorkspaceFileReader;
      try {
        reader = await options.open(file.path);
      } catch (error) {
        if (!RuntimeError.is(error) || !omittedOpenErrors.has(error.code)) throw error;
        omit({ path: file.path, reason: error.message });
        continue;
      }
      if (reader.size > options.maxFileBytes) {
        await reader.close();
        omit({
          path: file.path,
          size: reader.size,
          reason: `${reader.size} bytes, over the ${options.maxFileBytes}-byte limit of one file`,
        });
        continue;
      }
      const header: EntryHeader = {
        name: file.path,
        type: "file",
        mode: 0o644,
        size: reader.size,
        mtime: mtimeOf(file.modifiedAt),
      };
      await addEntry(archive, header, reader.read());
    }
    if (omitted.length > 0) {
      const listing = Buffer.from(`${JSON.stringify({ omitted }, null, 2)}\n`);
      await addEntry(
        archive,
        { name: OMITTED_ENTRY_NAME, type: "file", mode: 0o644, size: listing.byteLength, mtime: new Date() },
        Readable.from([listing]),
      );
    }
    archive.finalize();
  })().catch((error: unknown) => archive.destroy(error instanceof Error ? error : new Error(String(error))));

  return gzip;
}

/**
 * Adds one entry, writing `content` into it as the archive drains (the
 * entry fails unless it carries exactly `header.size` bytes). Resolves once
 * the entry is complete; rejects, and stops reading `content` (destroying
 * it), when the archive is destroyed meanwhile.
 */
function addEntry(archive: Pack, header: EntryHeader, content?: Readable): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const entry = archive.entry(header, (error) => (error ? reject(error) : resolve()));
    // Its errors come through the callback (and destroy the archive); unheard, they would throw.
    entry.on("error", () => undefined);
    if (!content) return;
    void (async () => {
      for await (const chunk of content) {
        if (!entry.write(chunk)) {
          await new Promise<void>((ready) => {
            const wake = () => {
              entry.off("drain", wake);
              entry.off("close", wake);
              ready();
            };
            entry.on("drain", wake);
            entry.on("close", wake);
          });
        }
        if (entry.destroying) return;
      }
      entry.end(null);
    })().catch((error: unknown) => {
      entry.destroy(error instanceof Error ? error : new Error(String(error)));
      reject(error);
    });
  });
}

function mtimeOf(modifiedAt: string): Date {
  const date = new Date(modifiedAt);
  return Number.isNaN(date.getTime()) ? new Date() : date;
}
