import { filterWorkspaceFiles, type WorkspaceFileFilter } from "@agent-runtime/client";
import type { WorkspaceFile } from "@agent-runtime/protocol";
import { useCallback, useMemo } from "react";
import { useAgentClient } from "./agent-service-provider.js";
import { useSessionSelector } from "./use-session-store.js";

export interface UseWorkspaceFilesResult {
  /** The workspace file index, sorted by path, live; only the files that pass the filter, when one is given. */
  readonly files: readonly WorkspaceFile[];
  /**
   * A file's content as UTF-8 text, cached per version of the file: read
   * over REST once, and again after the file changes (see
   * `AgentRuntimeClient.getFile`). Rejects with the REST error (e.g. 404).
   */
  getFile(path: string): Promise<string>;
  /** A file's content as UTF-8 text, always read over REST. */
  readFile(path: string): Promise<string>;
  writeFile(path: string, content: string): Promise<void>;
  deleteFile(path: string): Promise<void>;
}

/**
 * The workspace files of a session, optionally filtered by glob patterns
 * and extensions (`{glob: "src/**\/*.ts"}`, `{extensions: ["md"]}`); the
 * filter may be a new object on every render.
 */
export function useWorkspaceFiles(sessionId: string, filter?: WorkspaceFileFilter): UseWorkspaceFilesResult {
  const client = useAgentClient();
  const all = useSessionSelector(sessionId, (s) => s.files);
  const filterKey = filter ? JSON.stringify([filter.glob, filter.extensions]) : "";
  // biome-ignore lint/correctness/useExhaustiveDependencies: the filter is compared by value (filterKey).
  const files = useMemo(() => filterWorkspaceFiles(all, filter), [all, filterKey]);
  const getFile = useCallback((path: string) => client.getFile(sessionId, path), [client, sessionId]);
  const readFile = useCallback((path: string) => client.rest.readFile(sessionId, path), [client, sessionId]);
  const writeFile = useCallback(
    (path: string, content: string) => client.rest.writeFile(sessionId, path, content),
    [client, sessionId],
  );
  const deleteFile = useCallback(
    (path: string) => client.rest.deleteFile(sessionId, path),
    [client, sessionId],
  );
  return { files, getFile, readFile, writeFile, deleteFile };
}
