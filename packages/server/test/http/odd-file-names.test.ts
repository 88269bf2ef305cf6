import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { ScriptInput } from "@agent-runtime/mock-model";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restClient } from "../support/rest.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { untarGz } from "./untar.js";

/**
 * Every name Linux accepts, made by the agent, through a real server with
 * real sandboxes (issue 14): listed, read, archived byte for byte, and the
 * session keeps working after idle teardown brings its files back.
 */
const ODD_NAMES = [
  `${"n".repeat(220)}.txt`,
  "a".repeat(255),
  "日".repeat(85),
  "ünïcødé ✓ 🦀.txt",
  "with  spaces .txt",
  "line\nbreak.txt",
  "-rf",
  "--help",
  "100% #1?.txt",
  `nested dir/${"z".repeat(255)}`,
];
/** A backslash is an ordinary character of a Linux name; a path may be far longer than 1024 bytes. */
const BACKSLASH_AND_DEEP_NAMES = [
  "back\\slash.txt",
  "..\\..\\etc\\passwd",
  ["d", "e", "f", "g", "h"].map((letter) => letter.repeat(255)).join("/"),
];

/** A shell word that is exactly `value`. */
const shellQuote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

/** A Bash command writing each name with its own name as content, then `done.txt`. */
function writeAll(names: readonly string[]): string {
  const writes = names.map((name) => {
    const folder = name.includes("/")
      ? `mkdir -p ${shellQuote(name.slice(0, name.lastIndexOf("/")))} && `
      : "";
    return `${folder}printf %s ${shellQuote(name)} > ${shellQuote(name)}`;
  });
  return [...writes, "echo done > done.txt"].join(" && ");
}

const script: ScriptInput = {
  rules: [
    {
      name: "odd names",
      match: { prompt: "Write the odd names" },
      replies: [
        { tool: "Bash", input: { command: writeAll(ODD_NAMES), description: "Write files" } },
        "Written.",
      ],
    },
    {
      name: "backslash names",
      match: { prompt: "Write the backslash and deep names" },
      replies: [
        {
          tool: "Bash",
          input: {
            command: writeAll(BACKSLASH_AND_DEEP_NAMES).replace("done.txt", "done2.txt"),
            description: "Write",
          },
        },
        "Written.",
      ],
    },
    { name: "hello", match: { prompt: "Hello again" }, reply: "Hello." },
  ],
};

const fileUrl = (url: string, sessionId: string, path: string) =>
  `${url}/sessions/${sessionId}/files/${path.split("/").map(encodeURIComponent).join("/")}`;

describe("odd file names through the HTTP API", () => {
  let server: TestServer;
  let rest: ReturnType<typeof restClient>;

  beforeAll(async () => {
    server = await startTestServer({ script, idleTimeoutMs: 1_500 });
    rest = restClient(server.url);
  });
  afterAll(async () => {
    await server?.dispose();
  });

  /** Runs one turn and waits for its end: every file the turn wrote is indexed by then. */
  async function turn(sessionId: string, recorder: SocketRecorder, content: string) {
    const from = recorder.events.at(-1)?.seq ?? 0;
    await rest.send(sessionId, content);
    const done = await recorder.waitFor((e) => e.seq > from && e.type === "session:turn:completed", 60_000);
    expect(done).toMatchObject({ type: "session:turn:completed", stopReason: "end_turn" });
  }

  /** The names are listed, read and archived with the content `contentOf` gives (the agent wrote the name itself). */
  async function expectServed(
    sessionId: string,
    names: readonly string[],
    contentOf: (name: string) => string = (name) => name,
  ) {
    const listed = (await rest.session(sessionId)).files.map((file) => file.path);
    expect(listed).toEqual(expect.arrayContaining([...names]));
    for (const name of names) {
      const response = await fetch(fileUrl(server.url, sessionId, name));
      expect(response.status, name).toBe(200);
      expect(await response.text(), name).toBe(contentOf(name));
    }
    const archive = await fetch(`${server.url}/sessions/${sessionId}/workspace`);
    expect(archive.status).toBe(200);
    const entries = await untarGz(new Uint8Array(await archive.arrayBuffer()));
    for (const name of names) {
      expect(entries.find((entry) => entry.name === name)?.content.toString(), name).toBe(contentOf(name));
    }
  }

  it("lists, reads, writes and archives them, and restores them into a new sandbox", async () => {
    const sessionId = await rest.createSession();
    const recorder = new SocketRecorder(server.url);
    const written = (name: string) => `written over ${name}`;
    try {
      await recorder.join(sessionId, 0);
      await turn(sessionId, recorder, "Write the odd names");
      await expectServed(sessionId, ODD_NAMES);
      for (const name of ODD_NAMES) {
        const put = await fetch(fileUrl(server.url, sessionId, name), {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ content: written(name) }),
        });
        expect(put.status, name).toBe(204);
      }
      await expectServed(sessionId, ODD_NAMES, written);

      const from = recorder.events.at(-1)?.seq ?? 0;
      await recorder.waitFor(
        (e) => e.seq > from && e.type === "session:status" && e.runtime.sandboxStatus === "terminated",
        15_000,
      );
      // The sandbox's disk is lost (a new host, a wiped data folder): the next
      // sandbox starts empty and gets every stored file written back.
      await rm(join(server.dataDir, "sandboxes", `session-${sessionId}`), { recursive: true });
      await turn(sessionId, recorder, "Hello again");
      await turn(sessionId, recorder, "Hello again");
      expect((await rest.session(sessionId)).runtime.sandboxStatus).toBe("running");
      await expectServed(sessionId, ODD_NAMES, written);
    } finally {
      recorder.close();
    }
  });

  it("lists, reads and archives names that hold a backslash, and a path 1,279 bytes long", async () => {
    const sessionId = await rest.createSession();
    const recorder = new SocketRecorder(server.url);
    try {
      await recorder.join(sessionId, 0);
      await turn(sessionId, recorder, "Write the backslash and deep names");
      await expectServed(sessionId, BACKSLASH_AND_DEEP_NAMES);
    } finally {
      recorder.close();
    }
  });
});
