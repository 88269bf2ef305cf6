import type { SessionData } from "@agent-runtime/protocol";
import type { PersistenceAdapter } from "../persistence/persistence-adapter.js";
import { SessionState } from "./session-state.js";

/**
 * A session's snapshot as persistence holds it, for a node that does not
 * run the session (cluster mode): its record, blocks, files and subagents
 * as of its owner's last sync, shown unloaded here. Null when there is no
 * such session.
 */
export async function storedSessionSnapshot(
  persistence: PersistenceAdapter,
  sessionId: string,
): Promise<SessionData | null> {
  const record = await persistence.loadSession(sessionId);
  if (!record) return null;
  const [blocks, files] = await Promise.all([
    persistence.loadBlocks(sessionId),
    persistence.listWorkspaceFiles(sessionId),
  ]);
  const state = new SessionState(record, { blocks, files });
  return {
    ...record,
    runtime: { ...state.runtime, isLoaded: false },
    blocks: state.mainBlocks(),
    files: state.sortedFiles(),
    subagents: [...state.subagents.values()],
    pendingPermissions: record.pendingPermissions ?? [],
  };
}
