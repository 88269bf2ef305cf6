import { posix } from "node:path";
import { codexTranscriptFileName } from "@agent-runtime/protocol";
import { resolveConfinedPath } from "../../confined-path.js";

/**
 * Where the runner copies Codex's rollouts (their own path holds their
 * creation time, unknown to the server): `<home>/.local/share/agent-runtime/codex`.
 * The runner learns it from `CODEX_TRANSCRIPT_DIR_ENV`, copies the
 * session's rollout there after every turn and puts it back before
 * resuming the session in a new sandbox.
 */
export function codexTranscriptDir(homeDir: string): string {
  return posix.join(homeDir, ".local", "share", "agent-runtime", "codex");
}

/** The transcript of a session in `codexTranscriptDir`; throws `INVALID_PATH` for an id that would leave it. */
export function codexTranscriptPath(input: { homeDir: string; nativeSessionId: string }): string {
  return resolveConfinedPath(
    codexTranscriptDir(input.homeDir),
    codexTranscriptFileName(input.nativeSessionId),
  );
}
