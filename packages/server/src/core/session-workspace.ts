import type { RunnerOutput, SessionEventInput, WorkspaceFile } from "@agent-runtime/protocol";
import { confinedSegments, invalidPath, resolveConfinedPath } from "../confined-path.js";
import { RuntimeError } from "../errors.js";
import type { PersistenceAdapter } from "../persistence/persistence-adapter.js";
import { storedFile, storedFileInfo } from "../persistence/stored-file.js";
import type { Sandbox, WorkspaceEntry } from "../sandboxes/sandbox-provider.js";
import type { SessionState } from "./session-state.js";

/** The one spelling of a workspace-relative path (`a//b/` is `a/b`), as the index and storage key it. Throws `INVALID_PATH`. */
function canonical(path: string): string {
  return confinedSegments(path).join("/");
}

export interface SessionWorkspaceOptions {
  readonly persistence: PersistenceAdapter;
  readonly state: SessionState;
  /** The running sandbox, if any. */
  sandbox(): Sandbox | undefined;
  emit(event: SessionEventInput): void;
}

/**
 * A session's workspace files as the API sees them: in the running sandbox
 * (whose watcher reports changes to the index), else in persistence (the
 * index is updated here, and the next sandbox restores them). Every path is
 * confined to the workspace (`INVALID_PATH`).
 */
export class SessionWorkspace {
  constructor(private readonly options: SessionWorkspaceOptions) {}

  private get sessionId(): string {
    return this.options.state.record.sessionId;
  }

  /** Reads a file, byte for byte. Throws `INVALID_PATH`, `FILE_NOT_FOUND`. */
  async read(path: string): Promise<Uint8Array> {
    const sandbox = this.options.sandbox();
    if (sandbox) return sandbox.readFile(resolveConfinedPath(sandbox.workspaceDir, path));
    const stored = await this.options.persistence.loadWorkspaceFile(this.sessionId, canonical(path));
    if (!stored) throw new RuntimeError("FILE_NOT_FOUND", `File ${path} not found`);
    return stored;
  }

  /**
   * Writes a file (text as UTF-8, or bytes). Throws `INVALID_PATH`, also,
   * while no sandbox runs, for a path a file system would refuse: below a
   * file, or naming a folder of other files.
   */
  async write(path: string, content: string | Uint8Array): Promise<void> {
    const sandbox = this.options.sandbox();
    if (sandbox) {
      await sandbox.writeFiles([{ path: resolveConfinedPath(sandbox.workspaceDir, path), content }]);
      return;
    }
    const relative = canonical(path);
    this.assertPlaceable(relative);
    const file = storedFile(relative, content, new Date().toISOString());
    await this.options.persistence.saveWorkspaceFile(this.sessionId, file);
    const { state } = this.options;
    const info = storedFileInfo(file);
    state.storedFiles.set(relative, info);
    const event = state.files.has(relative) ? "modified" : "created";
    this.emitAll(applyFileEvent(state, { type: "file", event, ...info }, { changed: false }));
  }

  /** A file may go at `path` (canonical) unless a file is one of its folders, or it is the folder of a file. */
  private assertPlaceable(path: string): void {
    const { files } = this.options.state;
    const segments = path.split("/");
    for (let end = 1; end < segments.length; end++) {
      const folder = segments.slice(0, end).join("/");
      if (files.has(folder)) throw invalidPath(path, `${folder} is a file`);
    }
    const prefix = `${path}/`;
    for (const known of files.keys()) {
      if (known.startsWith(prefix)) throw invalidPath(path, "is a folder");
    }
  }

  /** Deletes a file. Throws `INVALID_PATH`, `FILE_NOT_FOUND`. */
  async delete(path: string): Promise<void> {
    const sandbox = this.options.sandbox();
    const relative = canonical(path);
    if (!this.options.state.files.has(relative))
      throw new RuntimeError("FILE_NOT_FOUND", `File ${path} not found`);
    if (sandbox) {
      await sandbox.deleteFile(resolveConfinedPath(sandbox.workspaceDir, relative));
      return;
    }
    await this.options.persistence.deleteWorkspaceFile(this.sessionId, relative);
    this.options.state.storedFiles.delete(relative);
    this.emitAll(
      applyFileEvent(
        this.options.state,
        { type: "file", event: "deleted", path: relative },
        { changed: false },
      ),
    );
  }

  /**
   * The sandbox's watcher reports a change: the index follows. A path outside
   * the workspace is ignored (the runner protocol admits none; this is the
   * second line of defence).
   */
  reported(output: Extract<RunnerOutput, { type: "file" }>): void {
    try {
      confinedSegments(output.path);
    } catch {
      return;
    }
    this.emitAll(applyFileEvent(this.options.state, output));
  }

  /**
   * A new sandbox kept a workspace: it is the truth. The index follows it,
   * and what differs from the stored copies is marked for the next sync (a
   * file the agent wrote before a crash is indexed and stored now).
   */
  kept(entries: readonly WorkspaceEntry[]): void {
    const { state } = this.options;
    const onDisk = new Set<string>();
    for (const entry of entries) {
      onDisk.add(entry.path);
      const known = state.files.get(entry.path);
      if (known && known.size === entry.size && known.modifiedAt === entry.modifiedAt) continue;
      this.emitAll(applyFileEvent(state, { type: "file", event: known ? "modified" : "created", ...entry }));
    }
    for (const path of [...state.files.keys()]) {
      if (!onDisk.has(path)) this.emitAll(applyFileEvent(state, { type: "file", event: "deleted", path }));
    }
  }

  private emitAll(events: SessionEventInput[]): void {
    for (const event of events) this.options.emit(event);
  }
}

/**
 * Applies a workspace file event (from the runner's watcher, or a write made
 * through the API while no sandbox runs) to the file index. `changed` says
 * whether the file's content still has to be stored. Paths must already be
 * confined to the workspace.
 */
export function applyFileEvent(
  state: SessionState,
  output: Extract<RunnerOutput, { type: "file" }>,
  options: { changed: boolean; now?: Date } = { changed: true },
): SessionEventInput[] {
  const { path } = output;
  if (output.event === "deleted") {
    if (!state.files.delete(path)) return [];
    state.changedFiles.delete(path);
    if (options.changed) state.deletedFiles.add(path);
    return [{ type: "session:file:deleted", path }];
  }
  const file: WorkspaceFile = {
    path,
    size: output.size ?? 0,
    modifiedAt: output.modifiedAt ?? (options.now ?? new Date()).toISOString(),
  };
  const known = state.files.has(path);
  state.files.set(path, file);
  state.deletedFiles.delete(path);
  if (options.changed) state.changedFiles.add(path);
  else state.changedFiles.delete(path);
  return [{ type: known ? "session:file:modified" : "session:file:created", file }];
}
