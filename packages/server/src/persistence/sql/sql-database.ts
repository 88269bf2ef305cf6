import type { ColumnType } from "kysely";

/**
 * Table shapes shared by the SQLite and PostgreSQL adapters (created by
 * `sql-migrations.ts`). JSON is stored as text; timestamps are the ISO 8601
 * strings of the records, so text order is time order.
 */
export interface SqlDatabase {
  sessions: SessionsTable;
  blocks: BlocksTable;
  transcript_chunks: TranscriptChunksTable;
  stored_files: StoredFilesTable;
  stored_file_chunks: StoredFileChunksTable;
  agent_profiles: AgentProfilesTable;
  tenant_usage: TenantUsageTable;
  audit_log: AuditLogTable;
}

export interface SessionsTable {
  id: string;
  /**
   * The record's `tenantId` (null: no tenant), written at creation (a
   * session never changes tenant), so that a tenant's listing reads its
   * page through the index on (tenant_id, updated_at, id).
   */
  tenant_id: ColumnType<string | null, string | null | undefined, never>;
  /** `SessionRecord` as JSON. */
  record: string;
  created_at: string;
  updated_at: string;
}

/** Primary key (session_id, block_id); rows cascade-delete with their session. */
export interface BlocksTable {
  session_id: string;
  block_id: string;
  /** The block's position in the session. */
  ord: number;
  /** `Block` as JSON. */
  json: string;
}

/**
 * A session's transcript is the concatenation of its chunks in `seq` order:
 * a replacement writes one chunk, an append adds one, so an append costs
 * what it adds, not what the transcript holds. Primary key (session_id,
 * seq); cascade-deletes with its session.
 */
export interface TranscriptChunksTable {
  session_id: string;
  seq: number;
  text: string;
}

/**
 * One row per workspace file: its metadata, never its content. Primary key
 * (session_id, path); cascade-deletes with its session. On PostgreSQL `path`
 * has collation "C", so both backends order paths by UTF-8 bytes.
 */
export interface StoredFilesTable {
  session_id: string;
  path: string;
  /** PostgreSQL returns its `bigint` as a string. */
  size: ColumnType<number | string, number, number>;
  sha256: string;
  modified_at: string;
  /** A symbolic link's target; null for a regular file. */
  link_target: string | null;
}

/**
 * A file's content is the concatenation of its chunks in `seq` order (none
 * for an empty file), so no statement moves more than one chunk. Primary key
 * (session_id, path, seq); cascade-deletes with its `stored_files` row.
 */
export interface StoredFileChunksTable {
  session_id: string;
  path: string;
  seq: number;
  /** SQLite BLOB, PostgreSQL `bytea`. */
  bytes: Uint8Array;
}

export interface AgentProfilesTable {
  id: string;
  /** `AgentProfile` (defaults applied) as JSON. */
  json: string;
}

/** A tenant's usage totals (`TenantUsageTotals`), one row per tenant. */
export interface TenantUsageTable {
  tenant_id: string;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_creation_tokens: number;
  cost_usd: number;
  sandbox_seconds: number;
}

/** One audit record (`AuditRecord` as JSON in `record`), its filter and order columns beside it. */
export interface AuditLogTable {
  id: string;
  at: string;
  tenant_id: string | null;
  session_id: string | null;
  record: string;
}
