import { posix } from "node:path";
import {
  isIgnoredWorkspacePath,
  type RunnerOutput,
  type SessionEventInput,
  type WorkspaceFile,
} from "@agent-runtime/protocol";
import { confinedSegments, invalidPath, resolveConfinedPath } from "../confined-path.js";
import { RuntimeError } from "../errors.js";
import type { PersistenceAdapter } from "../persistence/persistence-adapter.js";
import { storedFile, storedFileInfo } from "../persistence/stored-file.js";
import type { Sandbox, WorkspaceEntry } from "../sandboxes/sandbox-provider.js";
import type { SessionState } from "./session-state.js";
import { openSandboxFile, openStoredFile, type WorkspaceFileReader } from "./workspace-file-reader.js";

/** How many links a read follows, like the kernel's ELOOP limit for one path. */
const MAX_LINK_HOPS = 40;

/** The one spelling of a workspace-relative path (`a//b/` is `a/b`), as the index and storage key it. Throws `INVALID_PATH`. */
function canonical(path: string): string {
  return confinedSegments(path).join("/");
}

export interface SessionWorkspaceOptions {
  readonly persistence: PersistenceAdapter;
  readonly state: SessionState;
  /** Paths the session does not track (see `untrackedPaths`): the API does not write or delete there. */
  readonly untracked: readonly string[];
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

  /**
   * Reads a file, byte for byte; a symbolic link is followed while it stays
   * in the workspace, as in the sandbox. Throws `INVALID_PATH`, `FILE_NOT_FOUND`.
   */
  async read(path: string): Promise<Uint8Array> {
    const sandbox = this.options.sandbox();
    if (sandbox) return sandbox.readFile(resolveConfinedPath(sandbox.workspaceDir, path));
    const stored = await this.options.persistence.loadWorkspaceFile(this.sessionId, this.followLinks(path));
    if (!stored) throw new RuntimeError("FILE_NOT_FOUND", `File ${path} not found`);
    return stored;
  }

  /**
   * Opens a file for streaming (see `WorkspaceFileReader`), following links
   * as `read` does; memory stays bounded whatever the file's size when the
   * sandbox provider or the storage adapter can stream. Throws `INVALID_PATH`,
   * `FILE_NOT_FOUND`.
   */
  async open(path: string): Promise<WorkspaceFileReader> {
    const sandbox = this.options.sandbox();
    if (sandbox) return openSandboxFile(sandbox, resolveConfinedPath(sandbox.workspaceDir, path));
    const stored = await openStoredFile(this.options.persistence, this.sessionId, this.followLinks(path));
    if (!stored) throw new RuntimeError("FILE_NOT_FOUND", `File ${path} not found`);
    return stored;
  }

  /** The stored file `path` names once its links are followed. Throws `FILE_NOT_FOUND` for a link out of the workspace. */
  private followLinks(path: string): string {
    let current = canonical(path);
    for (let hops = 0; hops <= MAX_LINK_HOPS; hops++) {
      const target = this.options.state.files.get(current)?.linkTarget;
      if (target === undefined) return current;
      const next = posix.normalize(posix.join(posix.dirname(current), target));
      if (target.startsWith("/") || next === ".." || next.startsWith("../")) {
        throw new RuntimeError("FILE_NOT_FOUND", `File ${path} is a link out of the workspace`);
      }
      current = next;
    }
    throw new RuntimeError("FILE_NOT_FOUND", `File ${path}: too many levels of symbolic links`);
  }

  /**
   * Writes a file (text as UTF-8, or bytes). Throws `INVALID_PATH`, also,
   * while no sandbox runs, for a path a file system would refuse: below a
   * file, or naming a folder of other files.
   */
  async write(path: string, content: string | Uint8Array): Promise<void> {
    this.assertTracked(path);
    const sandbox = this.options.sandbox();
    if (sandbox) {
      await sandbox.writeFiles([{ path: resolveConfinedPath(sandbox.workspaceDir, path), content }]);
      this.wroteInSandbox(
        path,
        typeof content === "string" ? Buffer.byteLength(content) : content.byteLength,
      );
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

  /**
   * A write through the API into the running sandbox is in the index at once
   * (and marked for the next sync); the watcher's own report of it follows.
   */
  private wroteInSandbox(path: string, size: number): void {
    const { state } = this.options;
    const relative = canonical(path);
    const event = state.files.has(relative) ? "modified" : "created";
    this.emitAll(applyFileEvent(state, { type: "file", event, path: relative, size }));
  }

  /** Throws `INVALID_PATH` when the session does not track `path`: a change there would be neither indexed nor kept. */
  private assertTracked(path: string): void {
    const relative = canonical(path);
    if (isIgnoredWorkspacePath(relative, this.options.untracked)) {
      throw invalidPath(path, "is not tracked by this session (see the profile's untrackedPaths)");
    }
  }

  /**
   * Writes a file from a byte stream, which the caller bounds: streamed into
   * the sandbox when its provider can (`writeFileFrom`), else collected and
   * written as `write` writes. Throws what `write` throws; rethrows the
   * stream's error, leaving the earlier file as it was.
   */
  async writeFrom(path: string, source: AsyncIterable<Uint8Array>): Promise<void> {
    this.assertTracked(path);
    const sandbox = this.options.sandbox();
    if (sandbox?.writeFileFrom) {
      let size = 0;
      const counted = (async function* () {
        for await (const chunk of source) {
          size += chunk.byteLength;
          yield chunk;
        }
      })();
      await sandbox.writeFileFrom(resolveConfinedPath(sandbox.workspaceDir, path), counted);
      this.wroteInSandbox(path, size);
      return;
    }
    // Refused paths are refused before the stream is read.
    if (sandbox) resolveConfinedPath(sandbox.workspaceDir, path);
    else this.assertPlaceable(canonical(path));
    const chunks: Uint8Array[] = [];
    for await (const chunk of source) chunks.push(chunk);
    await this.write(path, Buffer.concat(chunks));
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
    this.assertTracked(relative);
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
      if (
        known &&
        known.size === entry.size &&
        known.modifiedAt === entry.modifiedAt &&
        known.linkTarget === entry.linkTarget
      )
        continue;
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
    ...(output.linkTarget === undefined ? {} : { linkTarget: output.linkTarget }),
  };
  const known = state.files.has(path);
  state.files.set(path, file);
  state.deletedFiles.delete(path);
  if (options.changed) state.changedFiles.add(path);
  else state.changedFiles.delete(path);
  return [{ type: known ? "session:file:modified" : "session:file:created", file }];
}
