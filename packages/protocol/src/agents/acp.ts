import { z } from "zod";

/**
 * What the server and the runner agree on for agents spoken to over the
 * Agent Client Protocol (ACP, https://agentclientprotocol.com): the
 * `acp` architecture runs any ACP agent command; named architectures
 * (`codex`, `gemini`) are ACP agents the runtime ships.
 */

/** The architectures the runner hosts over ACP. */
export const ACP_ARCHITECTURES = ["acp", "codex", "gemini"] as const;
export type AcpArchitecture = (typeof ACP_ARCHITECTURES)[number];

/** True for an architecture the runner speaks ACP to. */
export function isAcpArchitecture(architecture: string): architecture is AcpArchitecture {
  return (ACP_ARCHITECTURES as readonly string[]).includes(architecture);
}

/** Environment variables an ACP agent command may set (`acp.env`). */
export const ACP_MAX_ENV_ENTRIES = 100;

/**
 * The ACP agent a profile or session of the `acp` architecture runs: a
 * command inside the sandbox (a path, or a name on the sandbox's `PATH`)
 * that speaks ACP on its stdin and stdout, with its arguments and extra
 * environment.
 */
export const acpAgentCommandSchema = z.strictObject({
  command: z.string().min(1).max(4096),
  args: z.array(z.string().max(4096)).max(100).default([]),
  env: z
    .record(z.string().min(1).max(200), z.string().max(16_384))
    .superRefine((env, context) => {
      const count = Object.keys(env).length;
      if (count > ACP_MAX_ENV_ENTRIES)
        context.addIssue({
          code: "custom",
          message: `at most ${ACP_MAX_ENV_ENTRIES} environment variables, got ${count}`,
        });
    })
    .optional(),
});
export type AcpAgentCommand = z.infer<typeof acpAgentCommandSchema>;
export type AcpAgentCommandInput = z.input<typeof acpAgentCommandSchema>;

/**
 * What the runner relays (as `agent` lines) from an ACP agent; the server's
 * ACP parser reads them:
 * - `acp_session`: the ACP session the turns run in (`resumed`: loaded
 *   or resumed rather than new), the agent's name and version, and `run`,
 *   a random id of this runner's agent process (ACP names no messages, so
 *   the parser's block ids start with it and stay unique across restarts);
 * - `acp_update`: one `session/update` notification's `update`, unchanged;
 * - `acp_prompt_end`: the `session/prompt` answer of a turn (its stop reason,
 *   and its usage and `_meta` when the agent gives them).
 */
export type AcpRelayedMessage =
  | {
      readonly type: "acp_session";
      readonly sessionId: string;
      readonly resumed: boolean;
      readonly run: string;
      readonly agentName?: string;
      readonly agentVersion?: string;
    }
  | { readonly type: "acp_update"; readonly update: unknown }
  | {
      readonly type: "acp_prompt_end";
      readonly stopReason: string;
      readonly usage?: unknown;
      /** The answer's `_meta` (Gemini CLI reports its token counts there, as `quota.token_count`). */
      readonly meta?: unknown;
    };

/**
 * The runtime's tool name for an ACP tool call of `kind` (ACP's tool kinds:
 * read, edit, delete, move, search, execute, think, fetch, switch_mode,
 * other), in Claude Code's spelling of the tool table, so the blocks and
 * the permission policy's `tools` read alike for every agent. Unknown or
 * absent kinds are `Tool`.
 */
export function acpToolName(kind: unknown): string {
  switch (kind) {
    case "read":
      return "Read";
    case "edit":
    case "delete":
    case "move":
      return "Edit";
    case "search":
      return "Grep";
    case "execute":
      return "Bash";
    case "fetch":
      return "WebFetch";
    case "think":
      return "Think";
    case "switch_mode":
      return "SwitchMode";
    default:
      return "Tool";
  }
}
