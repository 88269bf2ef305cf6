import type {
  AgentProfile,
  AgentProfileInput,
  AuditRecord,
  TenantUsageTotals,
} from "@agent-runtime/protocol";
import type { AuditListPage, PersistenceAdapter } from "./persistence-adapter.js";

/**
 * What the built-in adapters (memory, SQLite, PostgreSQL) offer beyond the
 * `PersistenceAdapter` contract.
 *
 * Semantics shared by all of them, stricter than the interface requires:
 * - `createSession` repeated with an identical record is a no-op; with a
 *   different record for the same id it throws `CONFLICT`.
 * - `updateSession`, `saveBlocks`, `saveTranscript` and `saveWorkspaceFile`
 *   for a session that does not exist throw `SESSION_NOT_FOUND`.
 * - Storage failures and corrupt stored data throw `PERSISTENCE_FAILED`.
 * - Returned objects are copies: mutating them never changes stored state.
 */
export interface BuiltInPersistenceAdapter extends PersistenceAdapter {
  init(): Promise<void>;
  close(): Promise<void>;
  appendTranscript(sessionId: string, text: string): Promise<void>;
  addTenantUsage(tenantId: string, delta: TenantUsageTotals): Promise<void>;
  loadTenantUsage(tenantId: string): Promise<TenantUsageTotals | null>;
  appendAuditRecords(records: readonly AuditRecord[]): Promise<void>;
  listAuditRecords(page: AuditListPage): Promise<AuditRecord[]>;
  pruneAuditRecords(before: Date): Promise<number>;
  /**
   * Validates the profile (`VALIDATION_FAILED` naming the field) and upserts it
   * by `id`. Resolves to the stored profile, defaults applied. Idempotent.
   */
  saveAgentProfile(profile: AgentProfileInput): Promise<AgentProfile>;
}
