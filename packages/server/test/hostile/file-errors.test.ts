import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTurnUntilFile } from "../http/run-turn.js";
import { restClient } from "../support/rest.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { isErrorBody } from "./error-shape.js";
import { ODD_ENTRIES_PROMPT, ODD_ENTRY_NAMES, oddEntriesScript } from "./odd-entries.js";

/**
 * Issue 15: whatever the agent left in the workspace (see `ODD_ENTRY_NAMES`) and
 * whatever name a client asks for (256 bytes, below a file), the files API
 * answers a 4xx with a code, never a 500.
 */
describe("file system errors through the files API", () => {
  let server: TestServer;
  let sessionId: string;

  beforeAll(async () => {
    server = await startTestServer({ script: oddEntriesScript });
    sessionId = await restClient(server.url).createSession();
    await runTurnUntilFile(server.url, sessionId, ODD_ENTRIES_PROMPT, "done.txt");
  });
  afterAll(async () => {
    await server?.dispose();
  });

  const names = [
    ...ODD_ENTRY_NAMES,
    "sock/below",
    "fifo/below",
    "file.txt/below",
    "a".repeat(256),
    `dir/${"c".repeat(256)}`,
    `${"d".repeat(255)}/${"e".repeat(255)}`,
  ];

  it("answers a 4xx with a code to every read, write and delete", async () => {
    const failures: string[] = [];
    for (const name of names) {
      const path = `${server.url}/sessions/${sessionId}/files/${name.split("/").map(encodeURIComponent).join("/")}`;
      for (const init of [
        { method: "GET" },
        {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ content: "over" }),
        },
        { method: "DELETE" },
      ]) {
        const response = await fetch(path, init);
        if (response.status < 300) continue;
        const text = await response.text();
        const error = (isErrorBody(safeJson(text)) && response.status < 500) || `${response.status} ${text}`;
        if (error !== true) failures.push(`${init.method} ${name.slice(0, 40)}: ${error.slice(0, 200)}`);
      }
    }
    expect(failures).toEqual([]);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });
});

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
