/**
 * What the server and the runner agree on for Claude Code hosted through the
 * Claude Agent SDK.
 */

/**
 * Environment the runtime's turn model needs from Claude Code: subagents run
 * in the foreground, since a background task would end a turn early and
 * start an unsolicited one when it settles. The server sets it in the
 * runner's environment over the profile's; the runner applies it to Claude
 * Code unless its own environment says otherwise.
 */
export const CLAUDE_CODE_TURN_ENV: Readonly<Record<string, string>> = {
  CLAUDE_CODE_DISABLE_BACKGROUND_TASKS: "1",
};
