import { restClient } from "./rest.js";
import { SocketRecorder } from "./socket-recorder.js";
import { PROMPTS, type WorkspaceFixtures } from "./workspace-fixtures.js";
import { ABSENT, fileUrl, hashesListedIn, putTextFile, runTurn, sizesInIndex } from "./workspace-probe.js";

/** A session whose live sandbox holds the fixtures, as the agent wrote them. */
export interface FixtureSession {
  readonly sessionId: string;
  /** Joined from seq 0; the caller closes it. */
  readonly recorder: SocketRecorder;
  /** Path → SHA-256 the agent listed right after writing (the deleted file still there). */
  readonly writtenHashes: Record<string, string>;
}

/**
 * Creates a session of the `test` profile (with `createBody`, e.g. an
 * architecture) on the server at `url` (whose mock
 * model runs `fixtureRules(fixtures)`), writes `fixtures.putPath` through
 * the API before any sandbox exists, lets the agent write the others, waits
 * until the index shows them all, then deletes `fixtures.deleted` through the
 * API while the sandbox runs and waits until the index drops it. Throws when
 * any step does not happen (the setup, not the durability under test).
 */
export async function startFixtureSession(
  url: string,
  fixtures: WorkspaceFixtures,
  createBody: Record<string, unknown> = {},
): Promise<FixtureSession> {
  const sessionId = await restClient(url).createSession(createBody);
  await putTextFile(url, sessionId, fixtures.putPath, fixtures.files.get(fixtures.putPath)!.toString("utf8"));
  const recorder = new SocketRecorder(url);
  await recorder.join(sessionId, 0);
  const turn = await runTurn(url, recorder, sessionId, PROMPTS.write);
  if (turn.stopReason !== "end_turn")
    throw new Error(`writing the fixtures ended with ${turn.stopReason}: ${turn.errors.join("; ")}`);
  const all = [...fixtures.files.keys(), fixtures.deleted.path, ...fixtures.links.keys()];
  const writtenHashes = hashesListedIn(turn.blocks, all);

  await waitUntil(async () =>
    Object.values(await sizesInIndex(url, sessionId, all)).every((s) => s !== ABSENT),
  );
  const deleted = await fetch(fileUrl(url, sessionId, fixtures.deleted.path), { method: "DELETE" });
  if (deleted.status !== 204) throw new Error(`DELETE ${fixtures.deleted.path}: ${deleted.status}`);
  await waitUntil(
    async () =>
      (await sizesInIndex(url, sessionId, [fixtures.deleted.path]))[fixtures.deleted.path] === ABSENT,
  );
  return { sessionId, recorder, writtenHashes };
}

/** Polls `check` every 100 ms until it holds; throws after `timeoutMs`. */
export async function waitUntil(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
