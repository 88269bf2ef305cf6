import type { AuditRecord, ListAuditResponse } from "@agent-runtime/protocol";
import type { Logger } from "pino";
import { errorMessage, RuntimeError } from "../errors.js";
import type { AuditListPage, PersistenceAdapter } from "../persistence/persistence-adapter.js";

export interface AuditTrailOptions {
  /** Where records are stored when it has the capability (`appendAuditRecords`); else the log only. */
  readonly persistence: PersistenceAdapter;
  /** Every record is logged here first, as one structured line (`audit: {...}`). */
  readonly logger: Logger;
  /**
   * Records waiting to be stored; past it the oldest waiting record is
   * dropped from storage (it stays in the log) and counted in `dropped`.
   * @default 10_000
   */
  readonly maxPending?: number;
  /** Records stored per write. @default 200 */
  readonly batchSize?: number;
  /** Called on each failed write of a batch (the batch is kept and retried with the next record or flush). */
  readonly onWriteFailed?: () => void;
  /**
   * How long stored records are kept: from `start()` on, older ones are
   * deleted (when the adapter can, `pruneAuditRecords`) at once and then
   * every `pruneIntervalMs`. 0 keeps every record. The log keeps its own.
   * @default 0
   */
  readonly retentionMs?: number;
  /** How often records past the retention are deleted. @default 3_600_000 (an hour) */
  readonly pruneIntervalMs?: number;
}

/**
 * The audit trail: every record is logged at once (the log is the trail of
 * record) and stored through the persistence adapter's optional capability,
 * in batches, in order, one write at a time. A failed write keeps its batch
 * for the next attempt; storage never blocks the request being audited.
 * Stored records older than `retentionMs` are deleted periodically.
 */
export class AuditTrail {
  private pending: AuditRecord[] = [];
  private writing: Promise<void> | undefined;
  private droppedCount = 0;
  private closed = false;
  private pruneTimer: NodeJS.Timeout | undefined;
  private pruning: Promise<void> | undefined;
  private readonly maxPending: number;
  private readonly batchSize: number;

  constructor(private readonly options: AuditTrailOptions) {
    this.maxPending = options.maxPending ?? 10_000;
    this.batchSize = options.batchSize ?? 200;
  }

  /** True when the adapter stores records (`GET /audit` can answer). */
  get stored(): boolean {
    return Boolean(this.options.persistence.appendAuditRecords && this.options.persistence.listAuditRecords);
  }

  /** Records waiting to be stored that were dropped because too many waited. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Logs `record` and queues it for storage. Never throws. */
  record(record: AuditRecord): void {
    this.options.logger.info({ audit: record }, "audit");
    if (!this.stored || this.closed) return;
    this.pending.push(record);
    if (this.pending.length > this.maxPending) {
      this.pending.shift();
      this.droppedCount += 1;
      this.options.logger.error(
        { dropped: this.droppedCount },
        "audit records could not be stored in time; the oldest waiting one stays in the log only",
      );
    }
    void this.flush();
  }

  /** Starts deleting records past `retentionMs` (now, then every `pruneIntervalMs`); nothing when it is 0. */
  start(): void {
    const { retentionMs = 0, pruneIntervalMs = 3_600_000 } = this.options;
    if (retentionMs <= 0 || !this.options.persistence.pruneAuditRecords || this.pruneTimer) return;
    const prune = () => {
      this.pruning ??= this.prune(retentionMs).finally(() => {
        this.pruning = undefined;
      });
    };
    prune();
    this.pruneTimer = setInterval(prune, pruneIntervalMs);
    this.pruneTimer.unref();
  }

  /** Stores what waits, then only logs: called before persistence closes. Never rejects. */
  async close(): Promise<void> {
    clearInterval(this.pruneTimer);
    await this.pruning;
    await this.flush();
    this.closed = true;
  }

  /** Stores what waits; resolves when the queue is empty or a write failed. Never rejects. */
  flush(): Promise<void> {
    this.writing ??= this.drain().finally(() => {
      this.writing = undefined;
    });
    return this.writing;
  }

  /**
   * One page of stored records, newest first (see `PersistenceAdapter.listAuditRecords`).
   * Throws `UNSUPPORTED` when the adapter does not store them, `VALIDATION_FAILED` for a foreign cursor.
   */
  async list(query: {
    limit: number;
    cursor?: string | undefined;
    tenantId?: string | undefined;
    sessionId?: string | undefined;
  }): Promise<ListAuditResponse> {
    const { listAuditRecords } = this.options.persistence;
    if (!listAuditRecords || !this.stored)
      throw new RuntimeError(
        "UNSUPPORTED",
        "This server's persistence adapter does not store the audit trail; it is in the server's log",
      );
    await this.flush();
    const page: AuditListPage = {
      limit: query.limit + 1,
      ...(query.cursor === undefined ? {} : { after: decodeCursor(query.cursor) }),
      ...(query.tenantId === undefined ? {} : { tenantId: query.tenantId }),
      ...(query.sessionId === undefined ? {} : { sessionId: query.sessionId }),
    };
    const rows = await listAuditRecords.call(this.options.persistence, page);
    // The adapter filters; checked again, so a tenant's isolation never rests on an application's adapter.
    const records = rows
      .filter(
        (record) =>
          (query.tenantId === undefined || record.tenantId === query.tenantId) &&
          (query.sessionId === undefined || record.sessionId === query.sessionId),
      )
      .slice(0, query.limit);
    const last = records.at(-1);
    return { records, nextCursor: rows.length > query.limit && last ? encodeCursor(last) : null };
  }

  private async prune(retentionMs: number): Promise<void> {
    const { persistence, logger } = this.options;
    const before = new Date(Date.now() - retentionMs);
    try {
      const pruned = await persistence.pruneAuditRecords!(before);
      if (pruned > 0)
        logger.info({ pruned, before: before.toISOString() }, "pruned audit records past their retention");
    } catch (error) {
      logger.error(
        { err: errorMessage(error) },
        "pruning audit records failed; retrying at the next interval",
      );
    }
  }

  private async drain(): Promise<void> {
    const { persistence, logger } = this.options;
    while (this.pending.length > 0) {
      const batch = this.pending.slice(0, this.batchSize);
      try {
        await persistence.appendAuditRecords!(batch);
      } catch (error) {
        this.options.onWriteFailed?.();
        logger.error(
          { err: errorMessage(error), waiting: this.pending.length },
          "storing audit records failed",
        );
        return;
      }
      // Records dropped meanwhile shifted the queue: remove what was stored by identity.
      const storedIds = new Set(batch.map((record) => record.id));
      this.pending = this.pending.filter((record) => !storedIds.has(record.id));
    }
  }
}

function encodeCursor(record: AuditRecord): string {
  return Buffer.from(JSON.stringify([record.at, record.id])).toString("base64url");
}

function decodeCursor(cursor: string): { at: string; id: string } {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === "string" &&
      typeof value[1] === "string" &&
      // No control character (PostgreSQL's text cannot hold a NUL): a forged cursor is the client's mistake.
      /^\P{Cc}+$/u.test(value[0]) &&
      /^\P{Cc}+$/u.test(value[1])
    )
      return { at: value[0], id: value[1] };
  } catch {
    // Answered below.
  }
  throw new RuntimeError("VALIDATION_FAILED", "cursor: not a cursor this server issued");
}
