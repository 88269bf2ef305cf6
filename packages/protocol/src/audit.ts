import { z } from "zod";
import { sessionIdRefSchema, tenantIdSchema } from "./session.js";

/** Most audit records one `GET /audit` page returns. */
export const MAX_AUDIT_PAGE_SIZE = 500;
/** Audit records per page when `limit` is not given. */
export const DEFAULT_AUDIT_PAGE_SIZE = 100;

/**
 * One state-changing request, as the audit trail keeps it: who (tenant, the
 * id of the key or token, never the key), what (`action`, the route and its
 * targets), when, and how it ended. Request bodies are never recorded.
 */
export const auditRecordSchema = z.object({
  /** Unique id of the record. */
  id: z.string(),
  /** When the request was answered (ISO 8601). */
  at: z.string(),
  /** The request's id, as its error replies and logs carry it. */
  requestId: z.string(),
  /** The trace of the request, when tracing is on. */
  traceId: z.string().optional(),
  /**
   * The tenant the change concerns: the caller's, or, for an admin, the
   * tenant of the session it touched when one is known; absent: none.
   */
  tenantId: tenantIdSchema.optional(),
  /** `admin` or `tenant`; `anonymous` for a request refused before its credential was accepted. */
  role: z.enum(["admin", "tenant", "anonymous"]),
  /** Stable id of the credential (a digest of the key, or of the key that minted the token); empty without one. */
  keyId: z.string(),
  /** What was done, e.g. `session.create`, `session.message`, `file.write`, `token.mint`. */
  action: z.string(),
  method: z.string(),
  /** The route's pattern, e.g. `/sessions/:id/files/*` (never the query string). */
  route: z.string(),
  sessionId: z.string().optional(),
  /** The second target of the route: a file path, a permission request id. */
  target: z.string().optional(),
  outcome: z.enum(["success", "failure"]),
  /** The HTTP status answered. */
  status: z.number().int(),
  /** The error code answered, on failure. */
  errorCode: z.string().optional(),
});
export type AuditRecord = z.infer<typeof auditRecordSchema>;

/** `GET /audit` query: newest first, one page at a time, optionally one tenant's or one session's. */
export const listAuditQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(MAX_AUDIT_PAGE_SIZE).default(DEFAULT_AUDIT_PAGE_SIZE),
  /** The `nextCursor` of the previous page (opaque). */
  cursor: z.string().min(1).max(512).optional(),
  /** Only this tenant's records (a tenant's own key reads its own only, whatever it asks). */
  tenantId: tenantIdSchema.optional(),
  sessionId: sessionIdRefSchema.optional(),
});
export type ListAuditQuery = z.infer<typeof listAuditQuerySchema>;

export const listAuditResponseSchema = z.object({
  records: z.array(auditRecordSchema),
  /** Where the next page starts (pass it as `cursor`); `null` on the last page. */
  nextCursor: z.string().nullable(),
});
export type ListAuditResponse = z.infer<typeof listAuditResponseSchema>;
