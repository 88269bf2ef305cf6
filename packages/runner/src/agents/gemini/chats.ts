import { copyFile, mkdir, open, readdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { geminiTranscriptFileName } from "@agent-runtime/protocol";

/**
 * Gemini CLI keeps each session as a chat file,
 * `~/.gemini/tmp/<project>/chats/session-<minute>-<first 8 of its id>.jsonl`,
 * whose first line names the session, in the project folder whose
 * `.project_root` holds the workspace path (`~/.gemini/projects.json` maps
 * the path to that folder's name). The runtime's transcript is a copy of it
 * in the transcript folder (`geminiTranscriptFileName`), written after every
 * turn, and put back before the session is loaded (ACP `session/load`).
 *
 * It is put back under a name no new chat takes
 * (`session-resumed-<first 8>.jsonl`): Gemini CLI 0.61 starts a chat of the
 * loaded session's id before it reads the old one, and within the same
 * minute that new chat is the old file, cleared.
 */

/** The project folder name the runtime gives the workspace when Gemini CLI has none registered. */
const PROJECT_FOLDER = "agent-runtime";

/** What a session id Gemini CLI gives looks like (a UUID); another is neither exported nor imported. */
const SESSION_ID = /^[\w-]{8,128}$/;

/** Largest first line read to learn a chat file's session. */
const MAX_HEADER_BYTES = 64 * 1024;

/** The chats folder of `workspaceDir`: the one Gemini CLI registered, else the runtime's, made Gemini CLI's. */
async function chatsDir(geminiDir: string, workspaceDir: string, create: boolean): Promise<string> {
  try {
    const registry = JSON.parse(await readFile(join(geminiDir, "projects.json"), "utf8")) as {
      projects?: Record<string, unknown>;
    };
    const name = registry.projects?.[workspaceDir];
    if (typeof name === "string" && /^[\w.-]+$/.test(name) && name !== "." && name !== "..") {
      return join(geminiDir, "tmp", name, "chats");
    }
  } catch {
    // no registry yet: a new sandbox
  }
  const project = join(geminiDir, "tmp", PROJECT_FOLDER);
  if (create) {
    await mkdir(join(project, "chats"), { recursive: true });
    await writeFile(join(project, ".project_root"), workspaceDir);
  }
  return join(project, "chats");
}

/** The session id a chat file's first line names; undefined when it names none. */
async function sessionOf(file: string): Promise<string | undefined> {
  const handle = await open(file, "r");
  try {
    const buffer = Buffer.alloc(MAX_HEADER_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, MAX_HEADER_BYTES, 0);
    const text = buffer.subarray(0, bytesRead).toString("utf8");
    const newline = text.indexOf("\n");
    const header = JSON.parse(newline === -1 ? text : text.slice(0, newline)) as { sessionId?: unknown };
    return typeof header.sessionId === "string" ? header.sessionId : undefined;
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}

/** The chat file Gemini CLI last wrote for `sessionId`; undefined when there is none. */
export async function findChat(
  geminiDir: string,
  workspaceDir: string,
  sessionId: string,
): Promise<string | undefined> {
  const dir = await chatsDir(geminiDir, workspaceDir, false);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return undefined;
  }
  const short = sessionId.slice(0, 8);
  let best: { file: string; modified: number; size: number } | undefined;
  for (const name of names) {
    if (!name.startsWith("session-") || !name.endsWith(`-${short}.jsonl`)) continue;
    const file = join(dir, name);
    if ((await sessionOf(file)) !== sessionId) continue;
    const info = await stat(file);
    const newer =
      !best || info.mtimeMs > best.modified || (info.mtimeMs === best.modified && info.size > best.size);
    if (newer) best = { file, modified: info.mtimeMs, size: info.size };
  }
  return best?.file;
}

/** Copies the chat of `sessionId` into `transcriptDir`, atomically (temporary file, then rename). */
export async function exportChat(
  geminiDir: string,
  workspaceDir: string,
  transcriptDir: string,
  sessionId: string,
): Promise<boolean> {
  if (!SESSION_ID.test(sessionId)) return false;
  const chat = await findChat(geminiDir, workspaceDir, sessionId);
  if (!chat) return false;
  await mkdir(transcriptDir, { recursive: true });
  const file = join(transcriptDir, geminiTranscriptFileName(sessionId));
  const temporary = `${file}.${process.pid}.tmp`;
  await copyFile(chat, temporary);
  await rename(temporary, file);
  return true;
}

/**
 * Puts the exported chat of `sessionId` where Gemini CLI looks for it (see
 * above). Resolves `false` when there is nothing to import.
 */
export async function importChat(
  geminiDir: string,
  workspaceDir: string,
  transcriptDir: string,
  sessionId: string,
): Promise<boolean> {
  if (!SESSION_ID.test(sessionId)) return false;
  const exported = join(transcriptDir, geminiTranscriptFileName(sessionId));
  try {
    await stat(exported);
  } catch {
    return false;
  }
  const dir = await chatsDir(geminiDir, workspaceDir, true);
  await mkdir(dir, { recursive: true });
  const target = join(dir, `session-resumed-${sessionId.slice(0, 8)}.jsonl`);
  if (target !== exported) await copyFile(exported, target);
  return true;
}
