import { posix } from "node:path";
import { openCodeTranscriptFileName } from "@agent-runtime/protocol";
import { resolveConfinedPath } from "../../confined-path.js";

/**
 * Where the runner exports OpenCode sessions (OpenCode's own SQLite database
 * cannot be copied while it runs): `<home>/.local/share/agent-runtime/opencode`.
 * The runner learns it from `OPENCODE_TRANSCRIPT_DIR_ENV`, writes each
 * session there (`openCodeTranscriptFileName`, the `opencode export` format)
 * after every turn, and imports it with `opencode import` before resuming
 * that session.
 */
export function openCodeTranscriptDir(homeDir: string): string {
  return posix.join(homeDir, ".local", "share", "agent-runtime", "opencode");
}

/**
 * The transcript file of a session in `openCodeTranscriptDir`. The session id
 * comes from the agent's output: throws `INVALID_PATH` when it would name a
 * file outside that folder.
 */
export function openCodeTranscriptPath(input: { homeDir: string; nativeSessionId: string }): string {
  return resolveConfinedPath(
    openCodeTranscriptDir(input.homeDir),
    openCodeTranscriptFileName(input.nativeSessionId),
  );
}
