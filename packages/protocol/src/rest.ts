import { z } from "zod";
import { MAX_ATTACHMENTS, messageAttachmentSchema } from "./attachments.js";
import { sessionEventSchema } from "./events.js";
import { agentProfileSchema, agentProfileSummarySchema } from "./profile.js";
import {
  architectureSchema,
  sessionOptionsPatchSchema,
  sessionOptionsSchema,
  sessionSummarySchema,
  tenantIdSchema,
} from "./session.js";

/** Request and response bodies of the REST API (v1). */

export const healthResponseSchema = z.object({
  status: z.literal("ok"),
  version: z.string(),
  demoModel: z.boolean(),
  authRequired: z.boolean(),
});
export type HealthResponse = z.infer<typeof healthResponseSchema>;

/*
 * Request bodies and query strings are strict (an unknown field is refused
 * with `VALIDATION_FAILED` naming it) and every string and array in them is
 * bounded.
 */

export const createSessionRequestSchema = z.strictObject({
  agentProfileRef: z.string().min(1).max(200),
  architecture: architectureSchema.default("claude-agent-sdk"),
  sessionOptions: sessionOptionsSchema.optional(),
  /**
   * The tenant the session belongs to. An admin key may name any tenant
   * (omitted: the session belongs to no tenant); a tenant key may name only
   * its own (omitted: its own), another is refused with 403 `FORBIDDEN`.
   */
  tenantId: tenantIdSchema.optional(),
});
export type CreateSessionRequest = z.input<typeof createSessionRequestSchema>;

export const createSessionResponseSchema = sessionSummarySchema;

/** Sessions per page of `GET /sessions` when the client names no `limit`. */
export const DEFAULT_SESSION_PAGE_SIZE = 50;
/** Largest `limit` of `GET /sessions`. */
export const MAX_SESSION_PAGE_SIZE = 200;

/** `GET /sessions?limit=&cursor=`: a page of the sessions, newest `updatedAt` first. */
export const listSessionsQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(MAX_SESSION_PAGE_SIZE).default(DEFAULT_SESSION_PAGE_SIZE),
  /** The `nextCursor` of the previous page (opaque). */
  cursor: z.string().min(1).max(512).optional(),
});
export type ListSessionsQuery = Partial<z.infer<typeof listSessionsQuerySchema>>;

export const listSessionsResponseSchema = z.object({
  sessions: z.array(sessionSummarySchema),
  /** Where the next page starts (pass it as `cursor`); `null` on the last page. */
  nextCursor: z.string().nullable(),
});
export type ListSessionsResponse = z.infer<typeof listSessionsResponseSchema>;

/**
 * What an agent architecture supports; clients offer only what the chosen
 * architecture can do.
 */
export const architectureCapabilitiesSchema = z.object({
  /** Streams its reasoning as `thinking` blocks. */
  thinking: z.boolean(),
  /** Starts subagents, whose runs appear as `subagent` blocks with their own transcripts. */
  subagents: z.boolean(),
  /** Honours the `ask` permission mode (tool calls wait for `session:permission:requested` answers). */
  permissions: z.boolean(),
  /**
   * Resumes from its own transcript after its sandbox is recreated
   * (hibernation, server restart); without it the agent does not remember
   * the earlier turns then.
   */
  nativeResume: z.boolean(),
  /**
   * Runs models of the server's further model providers, named
   * `provider/model` (added after v1; absent means false: only the main
   * endpoint's models).
   */
  modelProviders: z.boolean().optional(),
  /**
   * Offers only the profile's `tools` (mapped to its own) and refuses other
   * calls (added after v1; absent means true). False: the profile's tools
   * are checked for a counterpart, and the agent offers its own set.
   */
  toolRestriction: z.boolean().optional(),
  /** Is given the profile's skills (added after v1; absent means true). */
  skills: z.boolean().optional(),
  /** Runs the profile's commands (`/name args`; added after v1; absent means true). */
  commands: z.boolean().optional(),
});
export type ArchitectureCapabilities = z.infer<typeof architectureCapabilitiesSchema>;

/** One architecture a server runs sessions with. */
export const architectureInfoSchema = z.object({
  id: architectureSchema,
  capabilities: architectureCapabilitiesSchema,
});
export type ArchitectureInfo = z.infer<typeof architectureInfoSchema>;

/** `GET /agent-architectures`: the architectures this server runs, in its order of preference. */
export const listArchitecturesResponseSchema = z.object({ architectures: z.array(architectureInfoSchema) });
export type ListArchitecturesResponse = z.infer<typeof listArchitecturesResponseSchema>;

export const listProfilesResponseSchema = z.object({ profiles: z.array(agentProfileSummarySchema) });
export const getProfileResponseSchema = agentProfileSchema;

/** Upper bound on one message (characters). */
export const MAX_MESSAGE_LENGTH = 200_000;

export const sendMessageRequestSchema = z.strictObject({
  content: z.string().min(1).max(MAX_MESSAGE_LENGTH),
  /** Images and files (see `messageAttachmentSchema`); at most `MAX_ATTACHMENTS`. */
  attachments: z.array(messageAttachmentSchema).max(MAX_ATTACHMENTS).optional(),
});
export type SendMessageRequest = z.infer<typeof sendMessageRequestSchema>;

export const sendMessageResponseSchema = z.object({
  turnId: z.string(),
  /** True when another turn is running and this message waits its turn. */
  queued: z.boolean(),
});
export type SendMessageResponse = z.infer<typeof sendMessageResponseSchema>;

export const interruptResponseSchema = z.object({ interrupted: z.boolean() });

/** `PATCH /sessions/:id`: a partial change of the session's options (see `sessionOptionsPatchSchema`). */
export const updateSessionRequestSchema = z.strictObject({ sessionOptions: sessionOptionsPatchSchema });
export type UpdateSessionRequest = z.input<typeof updateSessionRequestSchema>;
/** The session's options after the change; the agent runs with them from the next turn. */
export const updateSessionResponseSchema = z.object({ sessionOptions: sessionOptionsSchema });
export type UpdateSessionResponse = z.infer<typeof updateSessionResponseSchema>;

/** `POST /sessions/:id/stop`: the session is unloaded, its sandbox gone, everything kept. */
export const stopSessionResponseSchema = z.object({ stopped: z.literal(true) });
/** `POST /sessions/:id/sync`: what the session had is in storage (answered once the write is durable). */
export const syncSessionResponseSchema = z.object({ syncedAt: z.string() });

export const eventsQuerySchema = z.strictObject({
  after: z.coerce.number().int().nonnegative().default(0),
});

export const eventsResponseSchema = z.object({
  events: z.array(sessionEventSchema),
  lastSeq: z.number().int().nonnegative(),
});
export type EventsResponse = z.infer<typeof eventsResponseSchema>;

export const permissionAnswerRequestSchema = z.strictObject({
  decision: z.enum(["allow", "deny"]),
  /** With `allow`: allow this tool for the rest of the session without asking. */
  always: z.boolean().optional(),
  /** With `deny`: told to the agent. */
  message: z.string().max(2000).optional(),
});
export type PermissionAnswerRequest = z.infer<typeof permissionAnswerRequestSchema>;

export const permissionAnswerResponseSchema = z.object({
  requestId: z.string(),
  decision: z.enum(["allow", "deny"]),
});

/** The content is bounded by the server's body limit. */
export const writeFileRequestSchema = z.strictObject({ content: z.string() });
export const fileContentResponseSchema = z.object({
  path: z.string(),
  content: z.string(),
  size: z.number(),
});
