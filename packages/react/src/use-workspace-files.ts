import type { WorkspaceFile } from "@agent-runtime/protocol";
import { useCallback } from "react";
import { useAgentClient } from "./agent-service-provider.js";
import { useSessionSelector } from "./use-session-store.js";

export interface UseWorkspaceFilesResult {
  /** The workspace file index, sorted by path, live. */
  readonly files: readonly WorkspaceFile[];
  /** A file's content as UTF-8 text. */
  readFile(path: string): Promise<string>;
  writeFile(path: string, content: string): Promise<void>;
  deleteFile(path: string): Promise<void>;
}

export function useWorkspaceFiles(sessionId: string): UseWorkspaceFilesResult {
  const client = useAgentClient();
  const files = useSessionSelector(sessionId, (s) => s.files);
  const readFile = useCallback((path: string) => client.rest.readFile(sessionId, path), [client, sessionId]);
  const writeFile = useCallback(
    (path: string, content: string) => client.rest.writeFile(sessionId, path, content),
    [client, sessionId],
  );
  const deleteFile = useCallback(
    (path: string) => client.rest.deleteFile(sessionId, path),
    [client, sessionId],
  );
  return { files, readFile, writeFile, deleteFile };
}
