import { posix } from "node:path";
import { geminiTranscriptFileName } from "@agent-runtime/protocol";
import { resolveConfinedPath } from "../../confined-path.js";

/**
 * Where the runner copies Gemini CLI's chats (it keeps them under
 * `~/.gemini/tmp/<project>/chats/`, named after the minute they started,
 * unknown to the server): `<home>/.local/share/agent-runtime/gemini`. The
 * runner learns it from `GEMINI_TRANSCRIPT_DIR_ENV`, copies the session's
 * chat there after every turn and puts it back before loading the session
 * in a new sandbox.
 */
export function geminiTranscriptDir(homeDir: string): string {
  return posix.join(homeDir, ".local", "share", "agent-runtime", "gemini");
}

/** The transcript of a session in `geminiTranscriptDir`; throws `INVALID_PATH` for an id that would leave it. */
export function geminiTranscriptPath(input: { homeDir: string; nativeSessionId: string }): string {
  return resolveConfinedPath(
    geminiTranscriptDir(input.homeDir),
    geminiTranscriptFileName(input.nativeSessionId),
  );
}
