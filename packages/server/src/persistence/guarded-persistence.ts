import type { AuditRecord, TenantUsageTotals } from "@agent-runtime/protocol";
import { errorMessage, RuntimeError } from "../errors.js";
import type { AuditListPage, PersistenceAdapter } from "./persistence-adapter.js";

export interface GuardedPersistenceOptions {
  /** Longest a call may take before it is reported as failed. */
  readonly timeoutMs: number;
}

/**
 * Wraps an adapter so that every call settles within `timeoutMs`: a call that
 * throws, or hangs past the timeout, rejects with `PERSISTENCE_FAILED` (a
 * `RuntimeError` from the adapter keeps its own code). The runtime's retries
 * deal with the failure; nothing waits on storage forever.
 *
 * A timed-out call may still be running inside the adapter. To keep the
 * adapter's ordering contract (writes for one session never overlap), a
 * session's next write starts only once its previous write really settled;
 * the next write's timeout includes that wait.
 */
export function guardPersistence(
  adapter: PersistenceAdapter,
  options: GuardedPersistenceOptions,
): PersistenceAdapter {
  const lastWrite = new Map<string, Promise<void>>();

  const bounded = <T>(name: string, work: () => Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new RuntimeError(
              "PERSISTENCE_FAILED",
              `Storage did not answer ${name} within ${options.timeoutMs} ms`,
            ),
          ),
        options.timeoutMs,
      );
    });
    return Promise.race([Promise.resolve().then(work), timeout])
      .catch((error: unknown) => {
        if (RuntimeError.is(error)) throw error;
        throw new RuntimeError("PERSISTENCE_FAILED", `Storage failed in ${name}: ${errorMessage(error)}`, {
          cause: error,
        });
      })
      .finally(() => clearTimeout(timer));
  };

  const write = (name: string, sessionId: string, work: () => Promise<void>): Promise<void> =>
    bounded(name, () => {
      const run = (lastWrite.get(sessionId) ?? Promise.resolve()).then(work);
      const settled = run.catch(() => undefined);
      lastWrite.set(sessionId, settled);
      void settled.then(() => {
        if (lastWrite.get(sessionId) === settled) lastWrite.delete(sessionId);
      });
      return run;
    });

  return {
    ...(adapter.init ? { init: () => bounded("init", () => adapter.init!()) } : {}),
    ...(adapter.close ? { close: () => bounded("close", () => adapter.close!()) } : {}),
    listSessions: (page) => bounded("listSessions", () => adapter.listSessions(page)),
    loadSession: (id) => bounded("loadSession", () => adapter.loadSession(id)),
    createSession: (record) => write("createSession", record.sessionId, () => adapter.createSession(record)),
    updateSession: (record) => write("updateSession", record.sessionId, () => adapter.updateSession(record)),
    deleteSession: (id) => write("deleteSession", id, () => adapter.deleteSession(id)),
    saveBlocks: (id, blocks) => write("saveBlocks", id, () => adapter.saveBlocks(id, blocks)),
    loadBlocks: (id) => bounded("loadBlocks", () => adapter.loadBlocks(id)),
    saveTranscript: (id, transcript) =>
      write("saveTranscript", id, () => adapter.saveTranscript(id, transcript)),
    ...(adapter.appendTranscript
      ? {
          appendTranscript: (id: string, text: string) =>
            write("appendTranscript", id, () => adapter.appendTranscript!(id, text)),
        }
      : {}),
    loadTranscript: (id) => bounded("loadTranscript", () => adapter.loadTranscript(id)),
    saveWorkspaceFile: (id, file) =>
      write("saveWorkspaceFile", id, () => adapter.saveWorkspaceFile(id, file)),
    deleteWorkspaceFile: (id, path) =>
      write("deleteWorkspaceFile", id, () => adapter.deleteWorkspaceFile(id, path)),
    listWorkspaceFiles: (id) => bounded("listWorkspaceFiles", () => adapter.listWorkspaceFiles(id)),
    loadWorkspaceFile: (id, path) => bounded("loadWorkspaceFile", () => adapter.loadWorkspaceFile(id, path)),
    ...(adapter.loadWorkspaceFileRange
      ? {
          loadWorkspaceFileRange: (id: string, path: string, start: number, maxBytes: number) =>
            bounded("loadWorkspaceFileRange", () =>
              adapter.loadWorkspaceFileRange!(id, path, start, maxBytes),
            ),
        }
      : {}),
    ...(adapter.addTenantUsage && adapter.loadTenantUsage
      ? {
          addTenantUsage: (tenantId: string, delta: TenantUsageTotals) =>
            bounded("addTenantUsage", () => adapter.addTenantUsage!(tenantId, delta)),
          loadTenantUsage: (tenantId: string) =>
            bounded("loadTenantUsage", () => adapter.loadTenantUsage!(tenantId)),
        }
      : {}),
    ...(adapter.appendAuditRecords && adapter.listAuditRecords
      ? {
          appendAuditRecords: (records: readonly AuditRecord[]) =>
            bounded("appendAuditRecords", () => adapter.appendAuditRecords!(records)),
          listAuditRecords: (page: AuditListPage) =>
            bounded("listAuditRecords", () => adapter.listAuditRecords!(page)),
        }
      : {}),
    ...(adapter.pruneAuditRecords
      ? {
          pruneAuditRecords: (before: Date) =>
            bounded("pruneAuditRecords", () => adapter.pruneAuditRecords!(before)),
        }
      : {}),
    listAgentProfiles: () => bounded("listAgentProfiles", () => adapter.listAgentProfiles()),
    loadAgentProfile: (id) => bounded("loadAgentProfile", () => adapter.loadAgentProfile(id)),
  };
}
