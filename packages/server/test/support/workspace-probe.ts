import type { Block, SessionEvent, TurnStopReason } from "@agent-runtime/protocol";
import { type TarEntry, untarGz } from "../http/untar.js";
import { restClient } from "./rest.js";
import type { SocketRecorder } from "./socket-recorder.js";
import {
  expectedHashes,
  linkView,
  PROMPTS,
  parseHashListing,
  sha256,
  type WorkspaceFixtures,
} from "./workspace-fixtures.js";

/**
 * Observes a session's workspace from outside, the ways a user can: the
 * file index, each file's bytes through the files API, the workspace
 * archive, and what the agent itself reads in its sandbox. Every view is a plain object keyed by
 * path, so one `toEqual` against `expectedView` shows every difference at once.
 */

/**
 * What a durable workspace holding `fixtures` shows: each file's hash and
 * size, the deleted file absent; each link's target (`linkTargets`, as the
 * index shows it) and `linkView` (as a listing in the sandbox shows it).
 */
export function expectedView(fixtures: WorkspaceFixtures) {
  return {
    linkTargets: Object.fromEntries(fixtures.links),
    inSandbox: {
      ...expectedHashes(fixtures.files),
      [fixtures.deleted.path]: ABSENT,
      ...Object.fromEntries([...fixtures.links].map(([path, target]) => [path, linkView(target)])),
    },
    hashes: { ...expectedHashes(fixtures.files), [fixtures.deleted.path]: ABSENT },
    sizes: {
      ...Object.fromEntries([...fixtures.files].map(([path, content]) => [path, content.length])),
      [fixtures.deleted.path]: ABSENT,
    },
  };
}

/** Stands for a file a view does not show. */
export const ABSENT = "absent";

/** `/sessions/:id/files/<path>` with each segment of `path` URL-encoded. */
export function fileUrl(url: string, sessionId: string, path: string): string {
  return `${url}/sessions/${sessionId}/files/${path.split("/").map(encodeURIComponent).join("/")}`;
}

/** Writes a text file through `PUT /sessions/:id/files/*`. Throws unless it answers 204. */
export async function putTextFile(url: string, sessionId: string, path: string, text: string): Promise<void> {
  const response = await fetch(fileUrl(url, sessionId, path), {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ content: text }),
  });
  if (response.status !== 204) throw new Error(`PUT ${path}: ${response.status} ${await response.text()}`);
}

/** Path → SHA-256 of what `GET /sessions/:id/files/<path>` serves, or `HTTP <status>` (404: `ABSENT`). */
export async function hashesViaApi(
  url: string,
  sessionId: string,
  paths: Iterable<string>,
): Promise<Record<string, string>> {
  const hashes: Record<string, string> = {};
  for (const path of paths) {
    const response = await fetch(fileUrl(url, sessionId, path));
    if (response.status === 200) hashes[path] = sha256(new Uint8Array(await response.arrayBuffer()));
    else {
      await response.body?.cancel();
      hashes[path] = response.status === 404 ? ABSENT : `HTTP ${response.status}`;
    }
  }
  return hashes;
}

/** The entries of the `GET /sessions/:id/workspace` archive. */
async function archiveEntries(url: string, sessionId: string): Promise<TarEntry[]> {
  const response = await fetch(`${url}/sessions/${sessionId}/workspace`);
  if (response.status !== 200) throw new Error(`GET workspace: ${response.status} ${await response.text()}`);
  return untarGz(new Uint8Array(await response.arrayBuffer()));
}

/** Path → SHA-256 of each of `paths` in the `GET /sessions/:id/workspace` archive (`ABSENT` when left out). */
export async function hashesInArchive(
  url: string,
  sessionId: string,
  paths: Iterable<string>,
): Promise<Record<string, string>> {
  const entries = await archiveEntries(url, sessionId);
  const byName = new Map(entries.map((entry) => [entry.name, sha256(entry.content)]));
  return Object.fromEntries([...paths].map((path) => [path, byName.get(path) ?? ABSENT]));
}

/** Path → link target of each of `paths` in the `GET /sessions/:id/workspace` archive (`ABSENT` when not a link there). */
export async function linkTargetsInArchive(
  url: string,
  sessionId: string,
  paths: Iterable<string>,
): Promise<Record<string, string>> {
  const entries = await archiveEntries(url, sessionId);
  const links = new Map(
    entries.flatMap((entry) => (entry.type === "symlink" ? [[entry.name, entry.linkname]] : [])),
  );
  return Object.fromEntries([...paths].map((path) => [path, links.get(path) ?? ABSENT]));
}

/** Path → size in `GET /sessions/:id/files` for each of `paths` (`ABSENT` when not indexed). */
export async function sizesInIndex(
  url: string,
  sessionId: string,
  paths: Iterable<string>,
): Promise<Record<string, number | string>> {
  const response = await fetch(`${url}/sessions/${sessionId}/files`);
  if (response.status !== 200) throw new Error(`GET files: ${response.status} ${await response.text()}`);
  const { files } = (await response.json()) as { files: Array<{ path: string; size: number }> };
  const byPath = new Map(files.map((file) => [file.path, file.size]));
  return Object.fromEntries([...paths].map((path) => [path, byPath.get(path) ?? ABSENT]));
}

/** Path → link target in `GET /sessions/:id/files` for each of `paths` (`ABSENT` when not indexed as a link). */
export async function linkTargetsInIndex(
  url: string,
  sessionId: string,
  paths: Iterable<string>,
): Promise<Record<string, string>> {
  const response = await fetch(`${url}/sessions/${sessionId}/files`);
  if (response.status !== 200) throw new Error(`GET files: ${response.status} ${await response.text()}`);
  const { files } = (await response.json()) as { files: Array<{ path: string; linkTarget?: string }> };
  const byPath = new Map(files.map((file) => [file.path, file.linkTarget]));
  return Object.fromEntries([...paths].map((path) => [path, byPath.get(path) ?? ABSENT]));
}

/** How one turn ended, with the errors it showed. */
export interface TurnOutcome {
  readonly stopReason: TurnStopReason | "none";
  /** `code: message` of every `error` event of the turn. */
  readonly errors: string[];
  /** The turn's blocks, in order. */
  readonly blocks: Block[];
}

/**
 * Sends `content` and waits for its `session:turn:completed`; `recorder`
 * must have joined the session. Resolves with the turn's stop reason, the
 * errors it showed and its blocks.
 */
export async function runTurn(
  url: string,
  recorder: SocketRecorder,
  sessionId: string,
  content: string,
  timeoutMs = 90_000,
): Promise<TurnOutcome> {
  const from = recorder.events.at(-1)?.seq ?? 0;
  const response = await restClient(url).send(sessionId, content);
  if (response.status !== 202) throw new Error(`send: ${response.status} ${await response.text()}`);
  const after = (e: SessionEvent) => e.seq > from;
  const end = await recorder.waitFor((e) => after(e) && e.type === "session:turn:completed", timeoutMs);
  const events = recorder.events.filter((e) => after(e) && e.seq <= end.seq);
  return {
    stopReason: end.type === "session:turn:completed" ? end.stopReason : "none",
    errors: events.flatMap((e) => (e.type === "error" ? [`${e.code}: ${e.message}`] : [])),
    blocks: events.flatMap((e) => (e.type === "session:block:complete" ? [e.block] : [])),
  };
}

/** Path → SHA-256 listed by the last `tool_result` among `blocks` (see `HASH_COMMAND`), `ABSENT` for the rest of `paths`. */
export function hashesListedIn(blocks: Block[], paths: Iterable<string>): Record<string, string> {
  const result = blocks.filter((b) => b.type === "tool_result").at(-1);
  const listed = parseHashListing(result?.type === "tool_result" ? result.content : "");
  return Object.fromEntries([...paths].map((path) => [path, listed[path] ?? ABSENT]));
}

/**
 * Asks the agent to hash its workspace (`PROMPTS.hash`): the view from inside
 * the session's sandbox, brought up anew when none runs.
 */
export async function hashesInSandbox(
  url: string,
  recorder: SocketRecorder,
  sessionId: string,
  paths: Iterable<string>,
): Promise<{ stopReason: TurnOutcome["stopReason"]; errors: string[]; hashes: Record<string, string> }> {
  const turn = await runTurn(url, recorder, sessionId, PROMPTS.hash);
  return { stopReason: turn.stopReason, errors: turn.errors, hashes: hashesListedIn(turn.blocks, paths) };
}

/** Every path a view of `fixtures` covers: the files and the deleted one (the links aside). */
export function viewedPaths(fixtures: WorkspaceFixtures): string[] {
  return [...fixtures.files.keys(), fixtures.deleted.path];
}

/** Every path a view inside the sandbox covers: `viewedPaths` and the links. */
export function sandboxPaths(fixtures: WorkspaceFixtures): string[] {
  return [...viewedPaths(fixtures), ...fixtures.links.keys()];
}
