import { posix } from "node:path";
import { resolveConfinedPath } from "../../confined-path.js";

/**
 * Where a Gemini CLI session's transcript would be kept:
 * `<home>/.local/share/agent-runtime/gemini/<session id>.json`. Gemini CLI
 * keeps its chats under `~/.gemini/tmp/<project hash>/`, which the runtime
 * does not carry into a new sandbox yet (the architecture has no native
 * resume after its sandbox is lost); the path only has to stay confined.
 * Throws `INVALID_PATH` for a session id that would leave that folder.
 */
export function geminiTranscriptPath(input: { homeDir: string; nativeSessionId: string }): string {
  return resolveConfinedPath(
    posix.join(input.homeDir, ".local", "share", "agent-runtime", "gemini"),
    `${input.nativeSessionId}.json`,
  );
}
