import { copyFile, mkdir, readdir, readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { codexTranscriptFileName } from "@agent-runtime/protocol";

/**
 * Codex keeps each session as a rollout file,
 * `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<session id>.jsonl`,
 * whose path the server cannot know from the id alone. The runtime's
 * transcript is therefore a copy in the transcript folder
 * (`codexTranscriptFileName`), written after every turn and put back at
 * the rollout's own place before the session is resumed in a new sandbox.
 */

/** Searches `sessionsDir` (three levels of dated folders) for the rollout of `sessionId`. */
export async function findRollout(sessionsDir: string, sessionId: string): Promise<string | undefined> {
  const suffix = `-${sessionId}.jsonl`;
  const walk = async (dir: string, depth: number): Promise<string | undefined> => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return undefined;
    }
    for (const entry of entries) {
      if (depth === 0 && entry.isFile() && entry.name.startsWith("rollout-") && entry.name.endsWith(suffix))
        return join(dir, entry.name);
      if (depth > 0 && entry.isDirectory()) {
        const found = await walk(join(dir, entry.name), depth - 1);
        if (found) return found;
      }
    }
    return undefined;
  };
  return walk(sessionsDir, 3);
}

/** Copies the rollout of `sessionId` into `dir`, atomically (temporary file, then rename). */
export async function exportRollout(sessionsDir: string, dir: string, sessionId: string): Promise<boolean> {
  const rollout = await findRollout(sessionsDir, sessionId);
  if (!rollout) return false;
  await mkdir(dir, { recursive: true });
  const file = join(dir, codexTranscriptFileName(sessionId));
  const temporary = `${file}.${process.pid}.tmp`;
  await copyFile(rollout, temporary);
  await rename(temporary, file);
  return true;
}

/**
 * Puts the exported rollout of `sessionId` back where Codex looks for it,
 * named after the time its first line (`session_meta`) records, unless
 * Codex has it already. Resolves `false` when there is nothing to import.
 */
export async function importRollout(sessionsDir: string, dir: string, sessionId: string): Promise<boolean> {
  if (await findRollout(sessionsDir, sessionId)) return true;
  const file = join(dir, codexTranscriptFileName(sessionId));
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return false;
  }
  const newline = text.indexOf("\n");
  const at = recordedTime(newline === -1 ? text : text.slice(0, newline)) ?? new Date();
  const iso = at.toISOString();
  const folder = join(sessionsDir, iso.slice(0, 4), iso.slice(5, 7), iso.slice(8, 10));
  await mkdir(folder, { recursive: true });
  const name = `rollout-${iso.slice(0, 19).replaceAll(":", "-")}-${sessionId}.jsonl`;
  await copyFile(file, join(folder, name));
  return true;
}

/** The `timestamp` of a rollout's first line; undefined when it has none. */
function recordedTime(line: string): Date | undefined {
  try {
    const { timestamp } = JSON.parse(line) as { timestamp?: unknown };
    const time = typeof timestamp === "string" ? new Date(timestamp) : undefined;
    return time && !Number.isNaN(time.getTime()) ? time : undefined;
  } catch {
    return undefined;
  }
}
