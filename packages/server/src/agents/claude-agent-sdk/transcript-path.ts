import { posix } from "node:path";
import { resolveConfinedPath } from "../../confined-path.js";

/** Claude Code keeps at most this many characters of the encoded project folder name. */
const MAX_PROJECT_DIR_LENGTH = 200;

/**
 * Where Claude Code stores the transcript of a session:
 * `<home>/.claude/projects/<encoded cwd>/<session id>.jsonl`. The cwd is
 * encoded by replacing every character but ASCII letters and digits with
 * `-`; names longer than 200 characters are cut and suffixed with a hash of
 * the cwd (Claude Code 2.1.x behaviour, verified against its binary). The
 * session id comes from the agent's output: throws `INVALID_PATH` when it
 * would name a file outside the project folder.
 */
export function claudeTranscriptPath(input: {
  homeDir: string;
  workspaceDir: string;
  nativeSessionId: string;
}): string {
  return resolveConfinedPath(
    posix.join(input.homeDir, ".claude", "projects", encodeProjectDir(input.workspaceDir)),
    `${input.nativeSessionId}.jsonl`,
  );
}

export function encodeProjectDir(cwd: string): string {
  const encoded = cwd.replace(/[^a-zA-Z0-9]/g, "-");
  if (encoded.length <= MAX_PROJECT_DIR_LENGTH) return encoded;
  return `${encoded.slice(0, MAX_PROJECT_DIR_LENGTH)}-${Math.abs(stringHash(cwd)).toString(36)}`;
}

/** Java's `String.hashCode` over UTF-16 code units, as Claude Code computes it. */
function stringHash(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = ((hash << 5) - hash + text.charCodeAt(i)) | 0;
  return hash;
}
