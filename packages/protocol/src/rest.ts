import { z } from "zod";
import { sessionEventSchema } from "./events.js";
import { agentProfileSchema, agentProfileSummarySchema } from "./profile.js";
import { architectureSchema, sessionOptionsSchema, sessionSummarySchema } from "./session.js";

/** Request and response bodies of the REST API (v1). */

export const healthResponseSchema = z.object({
  status: z.literal("ok"),
  version: z.string(),
  demoModel: z.boolean(),
  authRequired: z.boolean(),
});
export type HealthResponse = z.infer<typeof healthResponseSchema>;

export const createSessionRequestSchema = z.object({
  agentProfileRef: z.string().min(1),
  architecture: architectureSchema.default("claude-agent-sdk"),
  sessionOptions: sessionOptionsSchema.optional(),
});
export type CreateSessionRequest = z.input<typeof createSessionRequestSchema>;

export const createSessionResponseSchema = sessionSummarySchema;

export const listSessionsResponseSchema = z.object({ sessions: z.array(sessionSummarySchema) });

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

export const sendMessageRequestSchema = z.object({
  content: z.string().min(1).max(MAX_MESSAGE_LENGTH),
});
export type SendMessageRequest = z.infer<typeof sendMessageRequestSchema>;

export const sendMessageResponseSchema = z.object({
  turnId: z.string(),
  /** True when another turn is running and this message waits its turn. */
  queued: z.boolean(),
});
export type SendMessageResponse = z.infer<typeof sendMessageResponseSchema>;

export const interruptResponseSchema = z.object({ interrupted: z.boolean() });

export const eventsQuerySchema = z.object({
  after: z.coerce.number().int().nonnegative().default(0),
});

export const eventsResponseSchema = z.object({
  events: z.array(sessionEventSchema),
  lastSeq: z.number().int().nonnegative(),
});
export type EventsResponse = z.infer<typeof eventsResponseSchema>;

export const permissionAnswerRequestSchema = z.object({
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

export const writeFileRequestSchema = z.object({ content: z.string() });
export const fileContentResponseSchema = z.object({
  path: z.string(),
  content: z.string(),
  size: z.number(),
});
