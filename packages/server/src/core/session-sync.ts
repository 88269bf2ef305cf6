import { createHash } from "node:crypto";
import type { PermissionRequest, SessionEventInput } from "@agent-runtime/protocol";
import type { Logger } from "pino";
import type { AgentArchitecture } from "../agents/agent-architecture.js";
import { resolveConfinedPath } from "../confined-path.js";
import { errorMessage, RuntimeError } from "../errors.js";
import type { RuntimeProbes } from "../observability/runtime-probes.js";
import type { PersistenceAdapter, StoredFile } from "../persistence/persistence-adapter.js";
import { storedFile, storedFileInfo, storedLink } from "../persistence/stored-file.js";
import { readFilesOneByOne } from "../sandboxes/read-files-one-by-one.js";
import type { Sandbox, SandboxFileRead } from "../sandboxes/sandbox-provider.js";
import { NotDurableReport } from "./not-durable-report.js";
import type { SessionState } from "./session-state.js";

export interface SessionSyncOptions {
  readonly persistence: PersistenceAdapter;
  readonly architecture: AgentArchitecture;
  readonly state: SessionState;
  readonly logger: Logger;
  /** Files larger than this are indexed but their content is not stored (`STORAGE_QUOTA`). */
  readonly maxPersistedFileBytes: number;
  /** Stored workspace bytes per session; files past it are not stored (`STORAGE_QUOTA`). */
  readonly maxPersistedWorkspaceBytes: number;
  /** First delay before a failed sync is retried; it doubles on each further failure. */
  readonly syncRetryMinMs: number;
  /** Upper bound of the retry delay. */
  readonly syncRetryMaxMs: number;
  /** The sandbox a retry reads from (the one running then, if any). */
  currentSandbox(): Sandbox | undefined;
  lastSeq(): number;
  pendingPermissions(): PermissionRequest[];
  emit(event: SessionEventInput): void;
  /** Told how long each sync took and whether it failed (see `RuntimeProbes`). */
  readonly probes?: RuntimeProbes | undefined;
}

/**
 * Writes what changed in a session since the last sync to persistence:
 * the agent's transcript, changed and deleted workspace files, completed
 * blocks, the record. Syncs never overlap (each waits for the previous one).
 * A failed sync reports one `PERSISTENCE_FAILED` error event per outage and
 * is retried by itself with exponential backoff until one succeeds or
 * `stop()` is called; what failed to save stays pending.
 */
export class SessionSync {
  private chain: Promise<void> = Promise.resolve();
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private failing = false;
  /** What this process last stored of the transcript (unknown after a failed write). */
  private storedTranscript: { length: number; digest: string } | undefined;
  private readonly notDurable: NotDurableReport;

  constructor(private readonly options: SessionSyncOptions) {
    this.notDurable = new NotDurableReport({
      maxFileBytes: options.maxPersistedFileBytes,
      maxWorkspaceBytes: options.maxPersistedWorkspaceBytes,
      emit: options.emit,
    });
  }

  /** Syncs from the running sandbox (or without one). Rejects with `PERSISTENCE_FAILED`. */
  sync(): Promise<void> {
    return this.enqueue(() => this.syncOnce(this.options.currentSandbox()));
  }

  /**
   * Syncs from `sandbox` (e.g. one whose agent just exited), then runs
   * `after` whatever the outcome. Queued like any sync.
   */
  syncFrom(sandbox: Sandbox | undefined, after: () => Promise<void>): Promise<void> {
    return this.enqueue(async () => {
      try {
        await this.syncOnce(sandbox);
      } finally {
        await after();
      }
    });
  }

  /** Resolves once every sync queued so far has settled. Never rejects. */
  settled(): Promise<void> {
    return this.chain;
  }

  /**
   * A new agent starts from `transcript` as stored: later syncs append to
   * it. `null`: its sandbox kept a newer transcript of its own, which the
   * next sync stores.
   */
  transcriptRestored(transcript: string | null): void {
    this.storedTranscript =
      transcript === null ? undefined : { length: transcript.length, digest: digest(transcript) };
    if (transcript === null) this.options.state.transcriptDirty = true;
  }

  /** No more retries (the session is closing); a sync called later still runs. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private enqueue(run: () => Promise<void>): Promise<void> {
    const result = this.chain.then(run);
    this.chain = result.then(
      () => {
        this.failures = 0;
        clearTimeout(this.retryTimer);
        this.retryTimer = undefined;
      },
      () => this.scheduleRetry(),
    );
    return result;
  }

  private scheduleRetry(): void {
    this.failures += 1;
    if (this.stopped || this.retryTimer) return;
    const delay = retryDelay(this.failures, this.options.syncRetryMinMs, this.options.syncRetryMaxMs);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.sync().catch(() => undefined);
    }, delay);
    this.retryTimer.unref();
  }

  private syncOnce(sandbox: Sandbox | undefined): Promise<void> {
    const { probes, state } = this.options;
    if (!probes) return this.syncOnceUntimed(sandbox);
    return probes.timed(state.record.sessionId, "sync", () => this.syncOnceUntimed(sandbox));
  }

  private async syncOnceUntimed(sandbox: Sandbox | undefined): Promise<void> {
    const { persistence, state } = this.options;
    const sessionId = state.record.sessionId;
    try {
      if (sandbox) await this.syncTranscript(sandbox);
      await this.syncFiles(sandbox);
      const blocks = state.pendingBlocks();
      if (blocks.length > 0) {
        await persistence.saveBlocks(sessionId, blocks);
        state.markBlocksSynced(blocks);
      }
      const lastSeq = this.options.lastSeq();
      if (state.recordDirty || lastSeq !== state.record.lastSeq) {
        state.record = {
          ...state.record,
          lastSeq,
          updatedAt: new Date().toISOString(),
          pendingPermissions: this.options.pendingPermissions(),
        };
        state.recordDirty = false;
        await persistence.updateSession(state.record).catch((error: unknown) => {
          state.recordDirty = true;
          throw error;
        });
      }
      if (this.failing) {
        this.failing = false;
        this.options.logger.info("persistence recovered");
      }
    } catch (error) {
      if (!this.failing) {
        this.failing = true;
        this.options.logger.error({ err: errorMessage(error) }, "sync to persistence failed");
        this.options.emit({
          type: "error",
          code: "PERSISTENCE_FAILED",
          message: "Saving the session failed; retrying",
        });
      }
      throw new RuntimeError("PERSISTENCE_FAILED", "Saving the session failed", { cause: error });
    }
  }

  private async syncTranscript(sandbox: Sandbox): Promise<void> {
    const { state } = this.options;
    const nativeSessionId = state.record.nativeSessionId;
    if (!state.transcriptDirty || !nativeSessionId) return;
    state.transcriptDirty = false;
    const path = this.options.architecture.transcriptPath({
      workspaceDir: sandbox.workspaceDir,
      homeDir: sandbox.homeDir,
      nativeSessionId,
    });
    try {
      const read = await readBounded(sandbox, path, this.options.maxPersistedFileBytes);
      if ("error" in read) {
        if (read.error.code === "FILE_NOT_FOUND") return;
        if (read.error.code !== "FILE_TOO_LARGE") throw read.error;
        // Not read and not stored: the stored transcript stays, and the session says why it may be older.
        this.notDurable.overQuota([{ path: "the agent's transcript", size: read.size ?? 0 }]);
        return;
      }
      await this.saveTranscript(Buffer.from(read.content).toString("utf8"));
    } catch (error) {
      state.transcriptDirty = true;
      throw error;
    }
  }

  /**
   * Stores the transcript: nothing when it is unchanged, only what is new
   * when the adapter can append and the transcript grew from what this
   * process stored last (an append-only JSONL, like Claude Code's), else the
   * whole text.
   */
  private async saveTranscript(transcript: string): Promise<void> {
    const { persistence, state } = this.options;
    const sessionId = state.record.sessionId;
    const stored = this.storedTranscript;
    if (stored?.length === transcript.length && stored.digest === digest(transcript)) return;
    this.storedTranscript = undefined;
    const grew =
      stored !== undefined &&
      transcript.length > stored.length &&
      digest(transcript.slice(0, stored.length)) === stored.digest;
    if (grew && persistence.appendTranscript) {
      await persistence.appendTranscript(sessionId, transcript.slice(stored.length));
    } else {
      await persistence.saveTranscript(sessionId, transcript);
    }
    this.storedTranscript = { length: transcript.length, digest: digest(transcript) };
  }

  private async syncFiles(sandbox: Sandbox | undefined): Promise<void> {
    const { persistence, state } = this.options;
    const sessionId = state.record.sessionId;
    for (const path of [...state.deletedFiles]) {
      await persistence.deleteWorkspaceFile(sessionId, path);
      state.deletedFiles.delete(path);
      state.storedFiles.delete(path);
    }
    if (!sandbox) return;
    const overQuota: Array<{ path: string; size: number }> = [];
    let storedBytes = 0;
    for (const stored of state.storedFiles.values()) storedBytes += stored.size;
    /** Workspace-relative paths to read, by their absolute path in the sandbox. */
    const toRead = new Map<string, string>();
    for (const path of [...state.changedFiles]) {
      const file = state.files.get(path);
      state.changedFiles.delete(path);
      if (!file) continue;
      const previous = state.storedFiles.get(path)?.size ?? 0;
      if (
        file.size > this.options.maxPersistedFileBytes ||
        storedBytes - previous + file.size > this.options.maxPersistedWorkspaceBytes
      ) {
        overQuota.push({ path, size: file.size });
        // An older stored copy must never come back over the newer file.
        if (state.storedFiles.delete(path)) {
          storedBytes -= previous;
          await persistence.deleteWorkspaceFile(sessionId, path);
        }
        continue;
      }
      storedBytes += file.size - previous;
      if (file.linkTarget !== undefined) {
        // A link is stored as its target, which the watcher reported: nothing to read.
        await this.save(storedLink(path, file.linkTarget, file.modifiedAt));
        continue;
      }
      toRead.set(resolveConfinedPath(sandbox.workspaceDir, path), path);
    }
    if (toRead.size === 0) {
      this.notDurable.overQuota(overQuota);
      return;
    }
    // One batch (a single archive stream where the provider can), one file in memory at a time, never
    // more than the per-file quota: a file that grew past it since it was reported is named, not read.
    const unsaved = new Set(toRead.values());
    const limit = { maxBytes: this.options.maxPersistedFileBytes };
    const reads = sandbox.readFiles
      ? sandbox.readFiles([...toRead.keys()], limit)
      : readFilesOneByOne(sandbox, [...toRead.keys()], limit);
    try {
      for await (const read of reads) {
        const path = toRead.get(read.path);
        if (path === undefined || !unsaved.delete(path)) continue;
        if ("error" in read && read.error.code === "FILE_TOO_LARGE") {
          overQuota.push({ path, size: read.size ?? state.files.get(path)?.size ?? 0 });
          if (state.storedFiles.delete(path)) await persistence.deleteWorkspaceFile(sessionId, path);
          continue;
        }
        if ("error" in read) {
          // Gone meanwhile: the watcher reports that. Anything else leaves the file not durable: say so.
          if (read.error.code !== "FILE_NOT_FOUND")
            this.notDurable.unreadable(path, state.files.get(path)?.size, read.error);
          if (read.error.code === "SANDBOX_FAILED") state.changedFiles.add(path);
          continue;
        }
        await this.saveFile(path, read.content);
      }
    } finally {
      // Whatever was not saved (a failed write, a broken stream) stays pending.
      for (const path of unsaved) state.changedFiles.add(path);
      this.notDurable.overQuota(overQuota);
    }
  }

  /** Stores `content` as the file at `path`, unless the stored copy already has that content. */
  private saveFile(path: string, content: Uint8Array): Promise<void> {
    const modifiedAt = this.options.state.files.get(path)?.modifiedAt ?? new Date().toISOString();
    return this.save(storedFile(path, content, modifiedAt));
  }

  /** Stores `file`, unless the stored copy is the same (content, and link or not). */
  private async save(file: StoredFile): Promise<void> {
    const { persistence, state } = this.options;
    const { path } = file;
    const stored = state.storedFiles.get(path);
    if (stored?.sha256 === file.sha256 && stored.linkTarget === file.linkTarget) return;
    try {
      await persistence.saveWorkspaceFile(state.record.sessionId, file);
    } catch (error) {
      state.changedFiles.add(path);
      throw error;
    }
    state.storedFiles.set(path, storedFileInfo(file));
  }
}

/** One file read with `readFilesOneByOne`'s bound: its content, or why not (`FILE_TOO_LARGE` with its size). */
async function readBounded(sandbox: Sandbox, path: string, maxBytes: number): Promise<SandboxFileRead> {
  for await (const read of readFilesOneByOne(sandbox, [path], { maxBytes })) return read;
  throw new RuntimeError("SANDBOX_FAILED", `Cannot read ${path}`);
}

function digest(text: string): string {
  return createHash("sha256").update(text).digest("base64");
}

/** The wait before the retry after `failures` consecutive failed syncs: `minMs`, doubling, at most `maxMs`. */
export function retryDelay(failures: number, minMs: number, maxMs: number): number {
  return Math.min(maxMs, minMs * 2 ** Math.min(Math.max(failures, 1) - 1, 30));
}
