import { z } from "zod";

/**
 * The script format: what the mock model answers. A script is a list of
 * rules tried in order; the first rule whose `match` holds and which has a
 * reply for the current position in the conversation answers.
 *
 * The same schema validates TypeScript objects and JSON files; the input
 * types (`ScriptInput`, …) accept the compact shorthands, the output types
 * (`Script`, …) are the normalized form the server works with.
 */

/** A plain string matches as a case-sensitive substring; `{regex}` as a JavaScript RegExp. */
export const matcherSchema = z.union([
  z.string(),
  z.strictObject({
    regex: z.string().refine(isValidRegex, "invalid regular expression"),
    /** RegExp flags, e.g. `"i"`. */
    flags: z.string().optional(),
  }),
]);
export type Matcher = z.infer<typeof matcherSchema>;

/** Every given criterion must hold; an empty `match` matches every request. */
export const matchSchema = z.strictObject({
  /** The text of the latest user prompt (the last user message that is not a tool result), without `<system-reminder>` sections. */
  prompt: matcherSchema.optional(),
  /** The text of the tool results in the last message; fails when the last message carries no tool result. */
  toolResult: matcherSchema.optional(),
  /** The system prompt (all system text of the request, joined by blank lines). */
  system: matcherSchema.optional(),
  /** The requested model name. */
  model: matcherSchema.optional(),
  /** The name of a tool the request offers (exact). */
  toolOffered: z.string().optional(),
  /** The latest user prompt carries at least one image (`true`) or none (`false`). */
  image: z.boolean().optional(),
});
export type Match = z.infer<typeof matchSchema>;

const textStepSchema = z.strictObject({ text: z.string() });
const thinkingStepSchema = z.strictObject({
  thinking: z.string(),
  /** Sent as `signature_delta`; a fixed mock signature when absent. */
  signature: z.string().optional(),
});
const toolStepSchema = z.strictObject({
  /**
   * The tool name as the agent offers it. `Task` and `Agent` are aliases of
   * each other: when the request offers only one of them, that one is used.
   */
  tool: z.string().min(1),
  input: z.record(z.string(), z.unknown()).default({}),
  /** The `tool_use` id; derived deterministically from the conversation when absent. */
  id: z.string().optional(),
});

/** One content block of a reply. A bare string is a text step. */
export const stepSchema = z.union([
  z.string().transform((text) => ({ text })),
  textStepSchema,
  thinkingStepSchema,
  toolStepSchema,
]);
export type StepInput = z.input<typeof stepSchema>;
export type Step = z.output<typeof stepSchema>;

/** Token counts reported for a reply; estimated from the text lengths (4 characters a token) when absent. */
export const usageSchema = z.strictObject({
  inputTokens: z.number().int().nonnegative().optional(),
  outputTokens: z.number().int().nonnegative().optional(),
});
export type Usage = z.infer<typeof usageSchema>;

/** How a reply is streamed. */
export const pacingSchema = z.strictObject({
  /** Delay before each streamed chunk, in milliseconds. @default 0 */
  chunkDelayMs: z.number().nonnegative().optional(),
  /** Characters per streamed text / thinking / tool-input chunk. @default 24 */
  chunkSize: z.number().int().positive().optional(),
});
export type Pacing = z.infer<typeof pacingSchema>;

const fullReplySchema = pacingSchema.extend({
  steps: z.array(stepSchema).min(1),
  usage: usageSchema.optional(),
  /**
   * A model that stalls mid-answer: after this many streamed chunks (0: right
   * after the stream starts) nothing more is sent, and the response stays
   * open until the client leaves or the server closes. Non-streamed answers
   * ignore it. @default never
   */
  stallAfterChunks: z.number().int().nonnegative().optional(),
});

/**
 * One model response: a step, a list of steps (content blocks in order), or
 * `{steps, usage?, chunkDelayMs?, chunkSize?, stallAfterChunks?}`. String values in text and
 * tool inputs may use `{{cwd}}` (the agent's working directory, read from
 * Claude Code's environment section) and `{{prompt}}` (the matched prompt).
 */
export const replySchema = z
  .union([stepSchema, z.array(stepSchema).min(1), fullReplySchema])
  .transform((reply) => {
    if (Array.isArray(reply)) return { steps: reply };
    if ("steps" in reply) return reply;
    return { steps: [reply] };
  });
export type ReplyInput = z.input<typeof replySchema>;
export type Reply = z.output<typeof replySchema>;

/**
 * A rule answers either with `replies` (a scripted conversation: the n-th
 * reply answers the n-th model request after the matched prompt, counted
 * from the assistant turns in the request, so it is stateless; once the
 * replies are used up the rule no longer matches) or with `reply` (the same
 * reply whenever the rule matches, e.g. to react to a tool result; a `reply`
 * that calls a tool loops unless its `match` stops holding). Exactly one of
 * the two must be given.
 */
export const ruleSchema = z
  .strictObject({
    /** Shown in the request log (`matched`) and in logs. @default "rule <index>" */
    name: z.string().optional(),
    match: matchSchema.default({}),
    replies: z.array(replySchema).min(1).optional(),
    reply: replySchema.optional(),
  })
  .refine((rule) => (rule.replies === undefined) !== (rule.reply === undefined), {
    message: "a rule needs exactly one of `replies` and `reply`",
  });
export type RuleInput = z.input<typeof ruleSchema>;
export type Rule = z.output<typeof ruleSchema>;

/**
 * A script: `{rules, fallback?, defaults?}`. `parseScript` also accepts the
 * bare array of rules.
 */
export const scriptSchema = z.strictObject({
  rules: z.array(ruleSchema).default([]),
  /** Answers requests no rule matches. @default a text reply starting with "[mock-model] No script rule matched" */
  fallback: replySchema.optional(),
  /** Pacing applied to every reply that does not set its own. */
  defaults: pacingSchema.optional(),
});
export type ScriptInput = z.input<typeof scriptSchema> | RuleInput[];
export type Script = z.output<typeof scriptSchema>;

function isValidRegex(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}
