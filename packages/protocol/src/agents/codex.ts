/**
 * What the server and the runner agree on for Codex (`codex-acp`, OpenAI's
 * Codex over ACP): the server sets these variables in the runner's
 * environment, the runner's Codex host turns them into Codex's config.
 */

/** The Responses API base URL (ending in `/v1`) Codex's model provider uses. */
export const CODEX_BASE_URL_ENV = "AGENT_RUNTIME_CODEX_BASE_URL";
/** The variable Codex's model provider reads its key from (a placeholder when the egress proxy holds the key). */
export const CODEX_API_KEY_ENV = "AGENT_RUNTIME_CODEX_API_KEY";
/**
 * Where the runner copies each Codex session's rollout (its transcript)
 * after every turn, as `codexTranscriptFileName`, and puts it back from
 * before resuming that session in a new sandbox.
 */
export const CODEX_TRANSCRIPT_DIR_ENV = "AGENT_RUNTIME_CODEX_TRANSCRIPT_DIR";
/** The model Codex uses when neither the session nor the profile names one. */
export const DEFAULT_CODEX_MODEL = "gpt-5.4";

/** The file name of a session's exported rollout in the transcript folder. */
export function codexTranscriptFileName(sessionId: string): string {
  return `${sessionId}.jsonl`;
}
