import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restClient } from "../support/rest.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { runTurnUntilFile } from "./run-turn.js";
import { untarGz } from "./untar.js";

const OUTSIDE_SECRET = "OUTSIDE-SECRET-4c1f";

/** A raw HTTP request: the path goes on the wire byte for byte (no client-side normalization). */
function raw(
  url: string,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; body: Buffer }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = body === undefined ? {} : { "content-type": "application/json" };
    const req = httpRequest({ hostname, port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Nothing from outside the workspace: no passwd line, no host secret. */
function expectNoOutsideBytes(body: Buffer | string, label: string): void {
  const text = body.toString();
  expect(text, label).not.toContain("root:");
  expect(text, label).not.toContain(OUTSIDE_SECRET);
}

/** RELIABILITY case 13: hostile paths on the file endpoints, by name and through symlinks the agent made. */
describe("path traversal on the file endpoints", () => {
  let server: TestServer;
  let outside: string;
  let sessionId: string;

  beforeAll(async () => {
    outside = await mkdtemp(join(tmpdir(), "agent-runtime-outside-"));
    await writeFile(join(outside, "secret.txt"), `${OUTSIDE_SECRET}\n`);
    const links = [
      "ln -s /etc/passwd passwd-link",
      "ln -s / root-link",
      `ln -s ${outside} host-dir`,
      `ln -s ${join(outside, "secret.txt")} host-file`,
      "ln -s ../../../../../../.. up-link",
      "mkdir -p sub && ln -s ../../../../../../etc/passwd sub/rel-link",
      "echo inside > ok.txt",
    ].join(" && ");
    server = await startTestServer({
      script: {
        rules: [
          {
            name: "links",
            match: { prompt: "Make the links" },
            replies: [{ tool: "Bash", input: { command: links, description: "Make links" } }, "Made."],
          },
        ],
      },
    });
    sessionId = await restClient(server.url).createSession();
    await runTurnUntilFile(server.url, sessionId, "Make the links", "ok.txt");
  });
  afterAll(async () => {
    await server?.dispose();
    await rm(outside, { recursive: true, force: true });
  });

  const files = () => `/sessions/${sessionId}/files`;

  it("rejects hostile names with 400 INVALID_PATH (or 404) on read, write and delete", async () => {
    const vectors = [
      "../../../../etc/passwd",
      "a/../../../../etc/passwd",
      "..%2f..%2f..%2f..%2fetc%2fpasswd",
      "%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
      "%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
      "%2fetc%2fpasswd",
      "/etc/passwd",
      "//etc/passwd",
      "ok.txt%00.png",
      "%00",
      "%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
      "./../../../etc/passwd",
      `${"a/".repeat(2100)}x`,
      "a".repeat(5000),
    ];
    for (const vector of vectors) {
      const path = `${files()}/${vector}`;
      const read = await raw(server.url, "GET", path);
      expect([400, 404], `GET ${vector}`).toContain(read.status);
      expectNoOutsideBytes(read.body, `GET ${vector}`);
      const write = await raw(server.url, "PUT", path, JSON.stringify({ content: "pwned" }));
      expect([400, 404], `PUT ${vector}`).toContain(write.status);
      const remove = await raw(server.url, "DELETE", path);
      expect([400, 404], `DELETE ${vector}`).toContain(remove.status);
    }
    // Double encoding decodes once, to literal names like `%2e%2e`, and a backslash is an ordinary
    // character of a Linux name: ordinary files inside the workspace.
    for (const vector of [
      "%252e%252e/%252e%252e/etc/passwd",
      "..%252f..%252fetc%252fpasswd",
      "..%5c..%5c..%5cetc%5cpasswd",
    ]) {
      const path = `${files()}/${vector}`;
      const read = await raw(server.url, "GET", path);
      expect([400, 404], `GET ${vector}`).toContain(read.status);
      expectNoOutsideBytes(read.body, `GET ${vector}`);
      const write = await raw(server.url, "PUT", path, JSON.stringify({ content: "literal" }));
      expect([204, 400], `PUT ${vector}`).toContain(write.status);
      if (write.status === 204) expect((await raw(server.url, "GET", path)).body.toString()).toBe("literal");
      expect([204, 400, 404], `DELETE ${vector}`).toContain((await raw(server.url, "DELETE", path)).status);
    }
    const named = await raw(server.url, "GET", `${files()}/..%2f..%2fetc%2fpasswd`);
    expect(JSON.parse(named.body.toString()).error.code).toBe("INVALID_PATH");
    const long = await raw(server.url, "GET", `${files()}/${"a".repeat(1500)}`);
    expect(long.status).toBe(400);
    expect(JSON.parse(long.body.toString()).error.code).toMatch(/INVALID_PATH|VALIDATION_FAILED/);
    // The workspace itself is still readable: the checks are not blanket refusals.
    const ok = await raw(server.url, "GET", `${files()}/ok.txt`);
    expect(ok.status).toBe(200);
    expect(ok.body.toString()).toBe("inside\n");
  });

  it("never follows a symlink out of the workspace, for reading, writing or deleting", async () => {
    for (const path of [
      "passwd-link",
      "root-link/etc/passwd",
      "host-dir/secret.txt",
      "host-file",
      "up-link/etc/passwd",
      `up-link${outside}/secret.txt`,
      "sub/rel-link",
    ]) {
      const read = await raw(server.url, "GET", `${files()}/${path}`);
      expect([400, 404], `GET ${path}`).toContain(read.status);
      expectNoOutsideBytes(read.body, `GET ${path}`);
    }
    const write = await raw(
      server.url,
      "PUT",
      `${files()}/host-dir/pwned.txt`,
      JSON.stringify({ content: "x" }),
    );
    expect([400, 404], "PUT through host-dir").toContain(write.status);
    const overwrite = await raw(server.url, "PUT", `${files()}/host-file`, JSON.stringify({ content: "x" }));
    // Replacing the link itself is fine; writing through it is not.
    expect([204, 400, 404]).toContain(overwrite.status);
    await raw(server.url, "DELETE", `${files()}/host-dir/secret.txt`);
    expect(await readdir(outside)).toEqual(["secret.txt"]);
    const { readFile } = await import("node:fs/promises");
    expect(await readFile(join(outside, "secret.txt"), "utf8")).toBe(`${OUTSIDE_SECRET}\n`);
  });

  it("lists and archives the workspace without a byte from outside", async () => {
    const index = await raw(server.url, "GET", files());
    expect(index.status).toBe(200);
    expectNoOutsideBytes(index.body, "index");
    const archive = await fetch(`${server.url}/sessions/${sessionId}/workspace`);
    expect(archive.status).toBe(200);
    const entries = await untarGz(new Uint8Array(await archive.arrayBuffer()));
    expect(entries.find((e) => e.name === "ok.txt")?.content.toString()).toBe("inside\n");
    for (const entry of entries) {
      // A link is archived as the link the agent made (its text), never followed.
      expect(["file", "symlink"], entry.name).toContain(entry.type);
      if (entry.type === "symlink") expect(entry.content.byteLength, entry.name).toBe(0);
      expectNoOutsideBytes(entry.content, entry.name);
    }
  });
});
