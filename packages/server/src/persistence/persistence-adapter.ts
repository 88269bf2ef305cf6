import type { AgentProfile, Block, SessionRecord } from "@agent-runtime/protocol";

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

  /** All sessions, newest `updatedAt` first. */
  listSessions(): Promise<SessionRecord[]>;
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

  /** Profiles this adapter stores. Profiles loaded from folders are merged in by the runtime. */
  listAgentProfiles(): Promise<AgentProfile[]>;
  loadAgentProfile(id: string): Promise<AgentProfile | null>;
}
