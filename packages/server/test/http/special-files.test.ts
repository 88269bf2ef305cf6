import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restClient } from "../support/rest.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { runTurnUntilFile } from "./run-turn.js";
import { untarGz } from "./untar.js";

/** Fails the test rather than hanging it when a request blocks (a FIFO opened for reading). */
function withinSeconds<T>(operation: Promise<T>, seconds = 10): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer after ${seconds} s`)), seconds * 1000);
  });
  return Promise.race([operation, timeout]).finally(() => clearTimeout(timer));
}

/**
 * A FIFO and a unix socket the agent made in its workspace (issue 14): the
 * index and the archive leave them out, a direct read answers 400
 * INVALID_PATH, never a 500 or a hang, and everything else is still served.
 */
describe("special files in the workspace through the HTTP API", () => {
  let server: TestServer;
  let sessionId: string;

  beforeAll(async () => {
    const command = [
      "mkfifo fifo",
      "mkdir -p sub && mkfifo sub/fifo",
      `node -e "require('node:net').createServer().listen('sock', () => process.exit(0))"`,
      "echo regular > ok.txt",
    ].join(" && ");
    server = await startTestServer({
      script: {
        rules: [
          {
            name: "specials",
            match: { prompt: "Make special files" },
            replies: [{ tool: "Bash", input: { command, description: "Make special files" } }, "Made."],
          },
        ],
      },
    });
    sessionId = await restClient(server.url).createSession();
    await runTurnUntilFile(server.url, sessionId, "Make special files", "ok.txt");
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it("answers 400 INVALID_PATH for a direct read of a FIFO or a socket, at once", async () => {
    for (const name of ["fifo", "sub/fifo", "sock"]) {
      const response = await withinSeconds(fetch(`${server.url}/sessions/${sessionId}/files/${name}`));
      expect(response.status, name).toBe(400);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code, name).toBe("INVALID_PATH");
      expect(body.error.message, name).toContain("is not a regular file");
    }
    const ok = await fetch(`${server.url}/sessions/${sessionId}/files/ok.txt`);
    expect(await ok.text()).toBe("regular\n");
  });

  it("leaves them out of the index and archives everything else, completely", async () => {
    const files = (await restClient(server.url).session(sessionId)).files.map((file) => file.path);
    expect(files).toContain("ok.txt");
    expect(files).not.toContain("fifo");
    expect(files).not.toContain("sub/fifo");
    expect(files).not.toContain("sock");

    const response = await withinSeconds(fetch(`${server.url}/sessions/${sessionId}/workspace`));
    expect(response.status).toBe(200);
    // An aborted archive fails here (the stream or the gzip ends early).
    const entries = await withinSeconds(untarGz(new Uint8Array(await response.arrayBuffer())));
    expect(entries.find((entry) => entry.name === "ok.txt")?.content.toString()).toBe("regular\n");
    expect(entries.map((entry) => entry.name)).toEqual(expect.arrayContaining(files));
    for (const name of ["fifo", "sub/fifo", "sock"]) {
      expect(entries.map((entry) => entry.name)).not.toContain(name);
    }
  });
});
