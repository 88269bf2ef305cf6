import type { SessionData } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restClient } from "../support/rest.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { runTurnUntilFile } from "./run-turn.js";
import { untarGz } from "./untar.js";

/** `GET /sessions/:id/workspace` against a real server: from storage, then from a live sandbox. */
describe("whole-workspace download", () => {
  let server: TestServer;
  let sessionId: string;
  const written: Record<string, string> = {
    "README.md": "# Hello\n",
    "src/deep/nested/index.ts": "export const answer = 42;\n",
    "notes/ünïcødé ✓.txt": "päckchen\n",
    "empty.txt": "",
  };

  beforeAll(async () => {
    server = await startTestServer({
      script: {
        rules: [
          {
            name: "binary",
            match: { prompt: "Make a binary file" },
            replies: [
              {
                tool: "Bash",
                input: {
                  command: "mkdir -p bin && printf '\\000\\001\\377\\376' > bin/data.bin",
                  description: "Write bytes",
                },
              },
              "Done.",
            ],
          },
        ],
      },
    });
    sessionId = await restClient(server.url).createSession();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  const download = () => fetch(`${server.url}/sessions/${sessionId}/workspace`);

  it("archives the stored workspace before any sandbox exists", async () => {
    for (const [path, content] of Object.entries(written)) {
      const put = await fetch(`${server.url}/sessions/${sessionId}/files/${encodeURI(path)}`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ content }),
      });
      expect(put.status).toBe(204);
    }
    const response = await download();
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/gzip");
    expect(response.headers.get("content-disposition")).toBe(
      `attachment; filename="workspace-${sessionId}.tar.gz"`,
    );
    const entries = await untarGz(new Uint8Array(await response.arrayBuffer()));
    const data = (await (await fetch(`${server.url}/sessions/${sessionId}`)).json()) as SessionData;
    expect(entries.map((e) => e.name)).toEqual(data.files.map((f) => f.path));
    for (const entry of entries) {
      expect(entry.type).toBe("file");
      expect(entry.mode).toBe(0o644);
      if (entry.name in written) expect(entry.content.toString("utf8")).toBe(written[entry.name]);
    }
    expect(Object.keys(written).every((path) => entries.some((e) => e.name === path))).toBe(true);
  });

  it("archives the live sandbox's workspace, byte for byte", async () => {
    await runTurnUntilFile(server.url, sessionId, "Make a binary file", "bin/data.bin");
    const put = await fetch(`${server.url}/sessions/${sessionId}/files/bin/keep.txt`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ content: "keep\n" }),
    });
    expect(put.status).toBe(204);
    const entries = await untarGz(new Uint8Array(await (await download()).arrayBuffer()));
    const data = (await (await fetch(`${server.url}/sessions/${sessionId}`)).json()) as SessionData;
    expect(data.runtime.sandboxStatus).toBe("running");
    for (const file of data.files) {
      const entry = entries.find((e) => e.name === file.path);
      expect(entry, file.path).toBeDefined();
      const direct = Buffer.from(
        await (
          await fetch(`${server.url}/sessions/${sessionId}/files/${encodeURI(file.path)}`)
        ).arrayBuffer(),
      );
      expect(entry?.content.equals(direct), file.path).toBe(true);
    }
    expect(entries.find((e) => e.name === "bin/data.bin")?.content).toEqual(Buffer.from([0, 1, 255, 254]));
    expect(entries.find((e) => e.name === "src/deep/nested/index.ts")?.content.toString()).toBe(
      written["src/deep/nested/index.ts"],
    );
  });

  it("answers 404 SESSION_NOT_FOUND for an unknown session, before any byte of an archive", async () => {
    const response = await fetch(`${server.url}/sessions/00000000-0000-0000-0000-000000000000/workspace`);
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("SESSION_NOT_FOUND");
  });

  it("is documented in the OpenAPI document", async () => {
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
      paths: Record<string, { get?: { responses: Record<string, { content?: Record<string, unknown> }> } }>;
    };
    const operation = doc.paths["/sessions/{id}/workspace"]?.get;
    expect(Object.keys(operation?.responses["200"]?.content ?? {})).toEqual(["application/gzip"]);
  });
});
