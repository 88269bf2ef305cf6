/**
 * What the server and the runner agree on for Gemini CLI (`@google/gemini-cli`
 * in ACP mode): the server sets these variables in the runner's environment,
 * the runner's Gemini host passes them on as Gemini CLI's own.
 */

/** The Gemini API base URL (the server root: Gemini CLI adds `/v1beta/models/…`). */
export const GEMINI_BASE_URL_ENV = "AGENT_RUNTIME_GEMINI_BASE_URL";
/** The Gemini API key (a placeholder when the egress proxy holds the key). */
export const GEMINI_API_KEY_ENV = "AGENT_RUNTIME_GEMINI_API_KEY";
/** The model Gemini CLI uses when neither the session nor the profile names one. */
export const DEFAULT_GEMINI_MODEL = "gemini-2.5-flash";
/**
 * Where the runner copies each Gemini CLI session's chat (its transcript)
 * after every turn, as `geminiTranscriptFileName`, and puts it back from
 * before loading that session in a new sandbox.
 */
export const GEMINI_TRANSCRIPT_DIR_ENV = "AGENT_RUNTIME_GEMINI_TRANSCRIPT_DIR";

/** The file name of a session's exported chat in the transcript folder. */
export function geminiTranscriptFileName(sessionId: string): string {
  return `${sessionId}.jsonl`;
}
