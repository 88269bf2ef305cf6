import { z } from "zod";
import { tenantIdSchema } from "./session.js";

/** Most session ids one browser token may name. */
export const MAX_TOKEN_SESSION_IDS = 100;

/** `POST /auth/tokens`: the scope and lifetime of a browser token. */
export const mintTokenRequestSchema = z.strictObject({
  /** The tenant the token reaches; a tenant's key may name only its own (the default). An admin key naming none mints an admin token. */
  tenant: tenantIdSchema.optional(),
  /** Only these sessions (within the tenant). */
  sessionIds: z.array(z.string().min(1).max(200)).min(1).max(MAX_TOKEN_SESSION_IDS).optional(),
  /** Reads only: REST `GET`/`HEAD` and socket events; anything else is refused `FORBIDDEN`. */
  readOnly: z.boolean().optional(),
  /** Lifetime in seconds, at most the server's maximum. @default the server's default (3600) */
  ttlSeconds: z.number().int().min(1).optional(),
});
export type MintTokenRequest = z.infer<typeof mintTokenRequestSchema>;

/** The answer of `POST /auth/tokens` (201). */
export const mintTokenResponseSchema = z.object({
  /** A signed JWT, sent as `Authorization: Bearer <token>` or as the socket handshake's `auth.token`. */
  token: z.string(),
  /** When it stops being accepted (ISO 8601). */
  expiresAt: z.string(),
});
export type MintTokenResponse = z.infer<typeof mintTokenResponseSchema>;

const count = z.number().int().min(0);

/**
 * What one tenant may hold or do at most; an absent field has no limit.
 * Past one, the request is refused `429 QUOTA_EXCEEDED` and nothing is
 * created or started.
 */
export const tenantQuotaSchema = z.strictObject({
  /** Sessions the tenant holds (stored, loaded or not). */
  sessions: count.optional(),
  /** The tenant's sessions whose sandbox is starting or running, or whose turn runs, at once. */
  runningSandboxes: count.optional(),
  /** Messages the tenant sends per minute (a sliding minute), over all its sessions. */
  messagesPerMinute: count.optional(),
  /** Workspace bytes stored for the tenant's sessions together; at or past it, messages and file writes are refused. */
  storedBytes: count.optional(),
});
export type TenantQuota = z.infer<typeof tenantQuotaSchema>;
export type QuotaName = keyof TenantQuota;

/** Quotas of every tenant: `default` for each, and per tenant id a quota that replaces it field by field. */
export const tenantQuotasSchema = z.strictObject({
  default: tenantQuotaSchema.optional(),
  tenants: z.record(tenantIdSchema, tenantQuotaSchema).optional(),
});
export type TenantQuotas = z.infer<typeof tenantQuotasSchema>;

/** What a tenant's sessions have used, totalled since the first. */
export const tenantUsageTotalsSchema = z.object({
  inputTokens: z.number(),
  outputTokens: z.number(),
  cacheReadTokens: z.number(),
  cacheCreationTokens: z.number(),
  costUsd: z.number(),
  /** Seconds the tenant's sandboxes ran, summed over sandboxes. */
  sandboxSeconds: z.number(),
});
export type TenantUsageTotals = z.infer<typeof tenantUsageTotalsSchema>;

/** `GET /usage` and `GET /tenants/:id/usage`. */
export const tenantUsageResponseSchema = z.object({
  tenantId: tenantIdSchema,
  usage: tenantUsageTotalsSchema,
  /** What the tenant holds now, as its quotas count it. */
  current: z.object({ sessions: count, runningSandboxes: count, storedBytes: count }),
  /** The tenant's quotas (absent fields: no limit). */
  quota: tenantQuotaSchema,
});
export type TenantUsageResponse = z.infer<typeof tenantUsageResponseSchema>;
