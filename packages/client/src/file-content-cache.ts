export interface FileContentCacheOptions {
  /** Most files kept. @default 64 */
  readonly maxEntries?: number;
  /** Most characters kept, all files together; a larger file is answered but not kept. @default 4_194_304 */
  readonly maxChars?: number;
}

/** Reads one workspace file's content (e.g. `RestClient.readFile`). */
export type FileReader = (sessionId: string, path: string) => Promise<string>;

interface Entry {
  readonly version: string;
  readonly content: Promise<string>;
  /** 0 until the read settles. */
  chars: number;
}

/**
 * Workspace file contents by session, path and version (the file index's
 * `modifiedAt` and `size`): a file is read once per version, concurrent
 * callers share the read, and a new version reads again. A file without a
 * version (not in the index, so its changes are never seen) is never kept.
 * A failed read is not kept. Bounded by `maxEntries` and `maxChars`; the
 * least recently used entries go first.
 */
export class FileContentCache {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly maxChars: number;
  private chars = 0;

  constructor(
    private readonly read: FileReader,
    options: FileContentCacheOptions = {},
  ) {
    this.maxEntries = options.maxEntries ?? 64;
    this.maxChars = options.maxChars ?? 4 * 1024 * 1024;
  }

  /** How many files are kept (reads in flight included). */
  get size(): number {
    return this.entries.size;
  }

  /** The content of `path` at `version`; rejects as the read does. */
  get(sessionId: string, path: string, version: string | undefined): Promise<string> {
    if (version === undefined) return this.read(sessionId, path);
    const key = keyOf(sessionId, path);
    const cached = this.entries.get(key);
    if (cached) {
      this.remove(key, cached);
      if (cached.version === version) {
        this.entries.set(key, cached);
        return cached.content;
      }
    }
    const content = this.read(sessionId, path);
    const entry: Entry = { version, content, chars: 0 };
    this.entries.set(key, entry);
    content.then(
      (text) => {
        if (this.entries.get(key) !== entry) return;
        if (text.length > this.maxChars) {
          this.remove(key, entry);
          return;
        }
        entry.chars = text.length;
        this.chars += text.length;
        this.evict();
      },
      () => {
        if (this.entries.get(key) === entry) this.remove(key, entry);
      },
    );
    this.evict();
    return content;
  }

  /** Forgets every file of `sessionId`. */
  dropSession(sessionId: string): void {
    for (const [key, entry] of this.entries) if (sessionOf(key) === sessionId) this.remove(key, entry);
  }

  private remove(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.chars -= entry.chars;
  }

  private evict(): void {
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.chars <= this.maxChars) return;
      this.remove(key, entry);
    }
  }
}

function keyOf(sessionId: string, path: string): string {
  return JSON.stringify([sessionId, path]);
}

function sessionOf(key: string): string {
  return (JSON.parse(key) as [string, string])[0];
}
