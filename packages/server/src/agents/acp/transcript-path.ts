import { posix } from "node:path";
import { resolveConfinedPath } from "../../confined-path.js";

/**
 * Where the transcript of a generic ACP agent's session would be kept:
 * `<home>/.local/share/agent-runtime/acp/<session id>.jsonl`. Generic ACP
 * agents keep their sessions where they like, so nothing is written there
 * (the architecture has no native resume after its sandbox is lost); the
 * path only has to stay confined. Throws `INVALID_PATH` for a session id
 * that would leave that folder.
 */
export function acpTranscriptPath(input: { homeDir: string; nativeSessionId: string }): string {
  return resolveConfinedPath(
    posix.join(input.homeDir, ".local", "share", "agent-runtime", "acp"),
    `${input.nativeSessionId}.jsonl`,
  );
}
