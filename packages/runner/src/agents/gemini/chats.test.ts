import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { exportChat, findChat, importChat } from "./chats.js";

const ID = "9f581c6c-2433-4c8f-a51d-8284db77dadc";
const header = (sessionId: string) => JSON.stringify({ sessionId, projectHash: "h", kind: "main" });

describe("Gemini CLI chats carried between sandboxes", () => {
  let root: string;
  let gemini: string;
  const workspace = "/workspace";
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "gemini-chats-"));
    gemini = join(root, ".gemini");
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("exports the chat Gemini CLI last wrote for the session, from the project it registered", async () => {
    const chats = join(gemini, "tmp", "workspace", "chats");
    await mkdir(chats, { recursive: true });
    await writeFile(
      join(gemini, "projects.json"),
      JSON.stringify({ projects: { [workspace]: "workspace" } }),
    );
    await writeFile(join(chats, `session-2026-12-06T23-52-${ID.slice(0, 8)}.jsonl`), `${header(ID)}\nold\n`);
    await utimes(join(chats, `session-2026-12-06T23-52-${ID.slice(0, 8)}.jsonl`), 1, 1);
    await writeFile(join(chats, `session-resumed-${ID.slice(0, 8)}.jsonl`), `${header(ID)}\nnewest\n`);
    await writeFile(join(chats, "session-2026-12-06T23-52-8420e6f5.jsonl"), `${header("8420e6f5-other")}\n`);
    // Same first eight characters, another session.
    await writeFile(join(chats, `session-2026-12-06T23-53-${ID.slice(0, 8)}.jsonl`), `${header(`${ID}x`)}\n`);
    await utimes(join(chats, `session-2026-12-06T23-53-${ID.slice(0, 8)}.jsonl`), 1, 1);

    expect(await findChat(gemini, workspace, ID)).toBe(
      join(chats, `session-resumed-${ID.slice(0, 8)}.jsonl`),
    );
    const transcripts = join(root, "transcripts");
    expect(await exportChat(gemini, workspace, transcripts, ID)).toBe(true);
    expect(await readFile(join(transcripts, `${ID}.jsonl`), "utf8")).toBe(`${header(ID)}\nnewest\n`);
    expect(await exportChat(gemini, workspace, transcripts, "0badc0de-none")).toBe(false);
  });

  it("imports it in a new sandbox under a name no new chat takes, in a project folder Gemini CLI adopts", async () => {
    const transcripts = join(root, "transcripts");
    await mkdir(transcripts, { recursive: true });
    await writeFile(join(transcripts, `${ID}.jsonl`), `${header(ID)}\nturns\n`);
    expect(await importChat(gemini, workspace, transcripts, ID)).toBe(true);
    const project = join(gemini, "tmp", "agent-runtime");
    expect(await readFile(join(project, ".project_root"), "utf8")).toBe(workspace);
    expect(await readdir(join(project, "chats"))).toEqual([`session-resumed-${ID.slice(0, 8)}.jsonl`]);
    expect(await findChat(gemini, workspace, ID)).toBe(
      join(project, "chats", `session-resumed-${ID.slice(0, 8)}.jsonl`),
    );
    expect(await importChat(gemini, workspace, transcripts, "4d55c055-missing")).toBe(false);
    expect(await importChat(gemini, workspace, transcripts, "../../etc")).toBe(false);
  });
});
