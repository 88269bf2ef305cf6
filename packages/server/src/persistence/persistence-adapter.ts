import type {
  AgentProfile,
  AuditRecord,
  Block,
  SessionRecord,
  TenantUsageTotals,
} from "@agent-runtime/protocol";

/** A stored workspace file, without its content. */
export interface StoredFileInfo {
  /** Path relative to the workspace, `/`-separated. */
  readonly path: string;
  /** Bytes of content. */
  readonly size: number;
  /** Lowercase hex SHA-256 of the content. */
  readonly sha256: string;
  /** When the file was last modified in its sandbox (ISO 8601). */
  readonly modifiedAt: string;
  /**
   * Set when the file is a symbolic link: its target, as written. Its
   * content is then the target's UTF-8 bytes (so size and hash follow it).
   */
  readonly linkTarget?: string;
}

/** A place in the session list: the session with this `updatedAt` and `sessionId`. */
export interface SessionListPosition {
  readonly updatedAt: string;
  readonly sessionId: string;
}

/** Which page of the session list `listSessions` reads. */
export interface SessionListPage {
  /** Most records to return, at least 1. */
  readonly limit: number;
  /** Start just after this position (the last record of the previous page); omitted: at the newest. */
  readonly after?: SessionListPosition;
  /**
   * Only sessions whose `tenantId` is this one (the page of a tenant's key);
   * omitted: sessions of every tenant and of none.
   */
  readonly tenantId?: string;
}

/** Which page of the audit trail `listAuditRecords` reads. */
export interface AuditListPage {
  /** Most records to return, at least 1. */
  readonly limit: number;
  /** Start just after this record (the last of the previous page); omitted: at the newest. */
  readonly after?: { readonly at: string; readonly id: string };
  /** Only records whose `tenantId` is this one. */
  readonly tenantId?: string;
  /** Only records whose `sessionId` is this one. */
  readonly sessionId?: string;
}

/** Part of a stored file (`PersistenceAdapter.loadWorkspaceFileRange`), with what identifies the whole. */
export interface StoredFileRange {
  /** Bytes of the whole file. */
  readonly size: number;
  /** Lowercase hex SHA-256 of the whole file. */
  readonly sha256: string;
  readonly bytes: Uint8Array;
}

/** A workspace file to store: its bytes, exactly, with their hash. */
export interface StoredFile extends StoredFileInfo {
  readonly content: Uint8Array;
}

/**
 * The application's storage seam. The runtime calls it; the application (or a
 * built-in adapter: in-memory, SQLite, PostgreSQL) implements it.
 *
 * Contract, for every method:
 * - Calls for one session are made in order (the runtime never overlaps two
 *   writes to the same session); calls for different sessions may overlap.
 * - Writes are idempotent: repeating a call with the same data leaves the
 *   same state (a sync may be retried after a failure).
 * - Unknown ids are not errors on reads (`null` / empty); writes for a session
 *   that was never created may throw.
 * - Any method may throw or reject; the runtime retries with backoff and
 *   reports the failure on the session. It never relies on a partial write.
 */
export interface PersistenceAdapter {
  /** Prepare storage (connect, migrate). Called once by `runtime.start()` before anything else. */
  init?(): Promise<void>;
  /** Release resources. Called once by `runtime.shutdown()` after the last write. */
  close?(): Promise<void>;

  /**
   * One page of the sessions in list order: newest `updatedAt` first, equal
   * `updatedAt` by `sessionId` ascending (in the storage's text order, the
   * one its comparisons use); at most `page.limit` records, only those after
   * `page.after`, and, when `page.tenantId` is set, only that tenant's.
   * Reads the page from storage, never every session (an adapter that keeps
   * many tenants indexes the tenant). A session updated while a client pages
   * moves to the front of the order.
   */
  listSessions(page: SessionListPage): Promise<SessionRecord[]>;
  loadSession(sessionId: string): Promise<SessionRecord | null>;
  /** Called once when a session is created, before any other write for it. */
  createSession(record: SessionRecord): Promise<void>;
  /** Replaces the stored record of an existing session. */
  updateSession(record: SessionRecord): Promise<void>;
  /** Removes the session and everything stored for it. Idempotent. */
  deleteSession(sessionId: string): Promise<void>;

  /**
   * Upserts completed blocks by `id` (incremental: a sync passes only blocks
   * that are new or changed since the previous sync). `order` is the block's
   * position in the session; `loadBlocks` returns blocks sorted by it.
   */
  saveBlocks(sessionId: string, blocks: ReadonlyArray<{ order: number; block: Block }>): Promise<void>;
  loadBlocks(sessionId: string): Promise<Block[]>;

  /** Stores the agent's native transcript (opaque text, may be large). Replaces the previous one. */
  saveTranscript(sessionId: string, transcript: string): Promise<void>;
  /**
   * Optional capability: appends `text` to the stored transcript (creating it
   * when missing), so a sync of an append-only transcript writes only what is
   * new. The runtime calls it only after a `saveTranscript` in the same
   * process, with text that directly follows what it stored. Not idempotent:
   * the runtime does not retry an append whose outcome is unknown; it falls
   * back to `saveTranscript` instead.
   */
  appendTranscript?(sessionId: string, text: string): Promise<void>;
  loadTranscript(sessionId: string): Promise<string | null>;

  /**
   * Upserts one workspace file by path (relative to the workspace). Content
   * is bytes and must come back byte for byte (binary files, any size up to
   * the runtime's per-file quota); `sha256` and `size` describe it.
   */
  saveWorkspaceFile(sessionId: string, file: StoredFile): Promise<void>;
  deleteWorkspaceFile(sessionId: string, path: string): Promise<void>;
  /**
   * The stored files of a session without their content, sorted by path in
   * code point order (the order of their UTF-8 bytes).
   */
  listWorkspaceFiles(sessionId: string): Promise<StoredFileInfo[]>;
  /** The content of one stored file, or `null` when none is stored at `path`. */
  loadWorkspaceFile(sessionId: string, path: string): Promise<Uint8Array | null>;
  /**
   * Optional capability: part of one stored file, so that a large file is
   * served without being loaded whole. Resolves with the file's `size` and
   * `sha256` (a caller reading a file in several calls compares it, to
   * notice a file replaced meanwhile) and up to `maxBytes` of its content
   * from byte `start`: fewer only at the end of the file, or where the
   * adapter's own unit of storage ends (at least one byte while
   * `start < size` and `maxBytes > 0`; the built-in adapters return at most
   * 1 MiB per call). `start` at or past the end, or `maxBytes` 0, returns no
   * bytes. Resolves `null` when no file is stored at `path`. Without it, the
   * runtime reads the file with `loadWorkspaceFile`.
   */
  loadWorkspaceFileRange?(
    sessionId: string,
    path: string,
    start: number,
    maxBytes: number,
  ): Promise<StoredFileRange | null>;

  /**
   * Optional capability: adds `delta` to the usage totals of tenant
   * `tenantId` (creating them at zero first). Totals outlive the tenant's
   * sessions: `deleteSession` leaves them. Not idempotent, like
   * `appendTranscript`: the runtime keeps a delta whose write failed and
   * adds it to the next one. Without it (with `loadTenantUsage`), usage
   * counts only since the process started.
   */
  addTenantUsage?(tenantId: string, delta: TenantUsageTotals): Promise<void>;
  /** Optional capability (with `addTenantUsage`): the tenant's totals, `null` when none were added. */
  loadTenantUsage?(tenantId: string): Promise<TenantUsageTotals | null>;

  /**
   * Optional capability: stores audit records (`GET /audit`), append-only.
   * A record whose `id` is stored already is skipped, so a retried call
   * stores nothing twice. Records outlive their sessions.
   */
  appendAuditRecords?(records: readonly AuditRecord[]): Promise<void>;
  /**
   * Optional capability (with `appendAuditRecords`): one page of the audit
   * trail, newest `at` first, equal `at` by `id` descending; at most
   * `page.limit` records after `page.after`, only those matching its filters.
   */
  listAuditRecords?(page: AuditListPage): Promise<AuditRecord[]>;
  /**
   * Optional capability (with `appendAuditRecords`): deletes the records
   * whose `at` is before `before` (records at `before` stay) and resolves
   * how many it deleted. The audit trail calls it for its retention.
   */
  pruneAuditRecords?(before: Date): Promise<number>;

  /** Profiles this adapter stores. Profiles loaded from folders are merged in by the runtime. */
  listAgentProfiles(): Promise<AgentProfile[]>;
  loadAgentProfile(id: string): Promise<AgentProfile | null>;
}
