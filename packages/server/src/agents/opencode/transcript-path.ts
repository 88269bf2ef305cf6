import { posix } from "node:path";

/**
 * Where the runner exports OpenCode sessions (OpenCode's own SQLite database
 * cannot be copied while it runs): `<home>/.local/share/agent-runtime/opencode`.
 * The runner learns it from `AGENT_RUNTIME_OPENCODE_TRANSCRIPT_DIR`, writes
 * `<session id>.json` (the `opencode export` format) after every turn, and
 * imports it with `opencode import` before resuming that session.
 */
export function openCodeTranscriptDir(homeDir: string): string {
  return posix.join(homeDir, ".local", "share", "agent-runtime", "opencode");
}

export function openCodeTranscriptPath(input: { homeDir: string; nativeSessionId: string }): string {
  return posix.join(openCodeTranscriptDir(input.homeDir), `${input.nativeSessionId}.json`);
}
