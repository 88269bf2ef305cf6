import {
  type AgentProfile,
  type AgentProfileInput,
  type AuditRecord,
  agentProfileSchema,
  type Block,
  type SessionRecord,
  type TenantUsageTotals,
} from "@agent-runtime/protocol";
import { validateInput } from "../../profiles/validate-input.js";
import type { BuiltInPersistenceAdapter } from "../built-in-persistence-adapter.js";
import type { SessionListPosition, StoredFile } from "../persistence-adapter.js";
import { conflictingSessionError, sessionNotFoundError } from "../persistence-errors.js";
import { storedFileInfo } from "../stored-file.js";
import { addTenantUsageTotals } from "../tenant-usage-totals.js";

/** Most bytes one `loadWorkspaceFileRange` call returns, as the SQL adapters do. */
const RANGE_BYTES = 1024 * 1024;

export interface MemoryPersistenceAdapterOptions {
  /**
   * Profiles the adapter starts with, validated at creation (throws `VALIDATION_FAILED`).
   * @default []
   */
  profiles?: AgentProfileInput[];
}

interface StoredSession {
  record: SessionRecord;
  blocks: Map<string, { order: number; block: Block }>;
  transcript: string | null;
  files: Map<string, StoredFile>;
}

/**
 * Keeps everything in process memory; nothing survives the process. Meant for
 * tests, demos and apps that persist elsewhere. Values, file bytes included,
 * are copied on the way in and out. Ordering matches the SQL adapters:
 * sessions by `updatedAt` (string order, ISO 8601) descending then id, blocks
 * by order then id, files by path in code point order (the SQL adapters' UTF-8
 * byte order), profiles by id.
 */
export function createMemoryPersistenceAdapter(
  options: MemoryPersistenceAdapterOptions = {},
): BuiltInPersistenceAdapter {
  const sessions = new Map<string, StoredSession>();
  const profiles = new Map<string, AgentProfile>();
  const tenantUsage = new Map<string, TenantUsageTotals>();
  const audit = new Map<string, AuditRecord>();
  for (const [index, input] of (options.profiles ?? []).entries()) {
    const profile = validateInput(
      agentProfileSchema,
      input,
      `memory persistence options: profiles[${index}]`,
    );
    profiles.set(profile.id, profile);
  }

  function existing(sessionId: string): StoredSession {
    const stored = sessions.get(sessionId);
    if (!stored) throw sessionNotFoundError(sessionId);
    return stored;
  }

  return {
    async init() {},
    async close() {},

    async listSessions({ limit, after, tenantId }) {
      const listOrder = (a: SessionListPosition, b: SessionListPosition) =>
        compareText(b.updatedAt, a.updatedAt) || compareText(a.sessionId, b.sessionId);
      return [...sessions.values()]
        .map((stored) => stored.record)
        .filter((record) => tenantId === undefined || record.tenantId === tenantId)
        .filter((record) => after === undefined || listOrder(after, record) < 0)
        .sort(listOrder)
        .slice(0, limit)
        .map((record) => structuredClone(record));
    },

    async loadSession(sessionId) {
      const stored = sessions.get(sessionId);
      return stored ? structuredClone(stored.record) : null;
    },

    async createSession(record) {
      const stored = sessions.get(record.sessionId);
      if (stored) {
        if (JSON.stringify(stored.record) !== JSON.stringify(record)) {
          throw conflictingSessionError(record.sessionId);
        }
        return;
      }
      sessions.set(record.sessionId, {
        record: structuredClone(record),
        blocks: new Map(),
        transcript: null,
        files: new Map(),
      });
    },

    async updateSession(record) {
      existing(record.sessionId).record = structuredClone(record);
    },

    async deleteSession(sessionId) {
      sessions.delete(sessionId);
    },

    async saveBlocks(sessionId, blocks) {
      const stored = existing(sessionId);
      for (const { order, block } of structuredClone(blocks)) {
        stored.blocks.set(block.id, { order, block });
      }
    },

    async loadBlocks(sessionId) {
      const stored = sessions.get(sessionId);
      if (!stored) return [];
      return [...stored.blocks.values()]
        .sort((a, b) => a.order - b.order || compareText(a.block.id, b.block.id))
        .map(({ block }) => structuredClone(block));
    },

    async saveTranscript(sessionId, transcript) {
      existing(sessionId).transcript = transcript;
    },

    async appendTranscript(sessionId, text) {
      const session = existing(sessionId);
      session.transcript = (session.transcript ?? "") + text;
    },

    async loadTranscript(sessionId) {
      return sessions.get(sessionId)?.transcript ?? null;
    },

    async saveWorkspaceFile(sessionId, file) {
      // A copy, not `content.slice()`: on a Buffer that is a view of the caller's bytes.
      existing(sessionId).files.set(file.path, {
        ...storedFileInfo(file),
        content: new Uint8Array(file.content),
      });
    },

    async deleteWorkspaceFile(sessionId, path) {
      sessions.get(sessionId)?.files.delete(path);
    },

    async listWorkspaceFiles(sessionId) {
      const stored = sessions.get(sessionId);
      if (!stored) return [];
      return [...stored.files.values()].sort((a, b) => compareCodePoints(a.path, b.path)).map(storedFileInfo);
    },

    async loadWorkspaceFile(sessionId, path) {
      const content = sessions.get(sessionId)?.files.get(path)?.content;
      return content ? new Uint8Array(content) : null;
    },

    async loadWorkspaceFileRange(sessionId, path, start, maxBytes) {
      const file = sessions.get(sessionId)?.files.get(path);
      if (!file) return null;
      const bytes = file.content.slice(start, start + Math.min(maxBytes, RANGE_BYTES));
      return { size: file.size, sha256: file.sha256, bytes };
    },

    async addTenantUsage(tenantId, delta) {
      tenantUsage.set(tenantId, addTenantUsageTotals(tenantUsage.get(tenantId), delta));
    },

    async loadTenantUsage(tenantId) {
      const totals = tenantUsage.get(tenantId);
      return totals ? { ...totals } : null;
    },

    async appendAuditRecords(records) {
      for (const record of records) if (!audit.has(record.id)) audit.set(record.id, structuredClone(record));
    },

    async listAuditRecords({ limit, after, tenantId, sessionId }) {
      return [...audit.values()]
        .filter(
          (record) =>
            (tenantId === undefined || record.tenantId === tenantId) &&
            (sessionId === undefined || record.sessionId === sessionId) &&
            (after === undefined ||
              compareText(record.at, after.at) < 0 ||
              (record.at === after.at && compareText(record.id, after.id) < 0)),
        )
        .sort((a, b) => compareText(b.at, a.at) || compareText(b.id, a.id))
        .slice(0, limit)
        .map((record) => structuredClone(record));
    },

    async pruneAuditRecords(before) {
      const bound = before.toISOString();
      let pruned = 0;
      for (const [id, record] of audit)
        if (compareText(record.at, bound) < 0) {
          audit.delete(id);
          pruned += 1;
        }
      return pruned;
    },

    async listAgentProfiles() {
      return [...profiles.values()]
        .sort((a, b) => compareText(a.id, b.id))
        .map((profile) => structuredClone(profile));
    },

    async loadAgentProfile(id) {
      const profile = profiles.get(id);
      return profile ? structuredClone(profile) : null;
    },

    async saveAgentProfile(input) {
      const profile = validateInput(agentProfileSchema, input, "agent profile");
      profiles.set(profile.id, profile);
      return structuredClone(profile);
    },
  };
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Orders by Unicode code point (as UTF-8 bytes sort), where `compareText` orders by UTF-16 code unit. */
function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let index = 0; index < length; index++) {
    const x = a.charCodeAt(index);
    const y = b.charCodeAt(index);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** Moves surrogates (U+D800–U+DFFF, halves of code points above U+FFFF) above U+E000–U+FFFF. */
function codePointRank(codeUnit: number): number {
  if (codeUnit >= 0xe000) return codeUnit - 0x800;
  if (codeUnit >= 0xd800) return codeUnit + 0x2000;
  return codeUnit;
}
