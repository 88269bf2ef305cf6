import { createHash, randomBytes } from "node:crypto";
import { readdir, readlink } from "node:fs/promises";
import { setTimeout as delay } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restClient } from "../support/rest.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { runTurnUntilFile } from "./run-turn.js";
import { untarGz } from "./untar.js";

const MiB = 2 ** 20;
/** The sparse files the agent makes: no disk used, only their apparent size. */
const BIG_BYTES = 2_000_000_000;
const HUGE_BYTES = 3_000_000_000;
/** Between the two: the big file is served whole, the huge one only by ranges. */
const MAX_READ_BYTES = 2_500_000_000;
const MAX_WRITE_BYTES = 8 * MiB;
/** Clients reading the big file at once. */
const CLIENTS = 4;
/** How far server memory may grow over its baseline while it serves them. */
const RSS_CEILING_MIB = 200;
/** Name of the archive entry that lists what an archive leaves out. */
const OMITTED_ENTRY = ".agent-runtime-omitted.json";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** Peak growth of this process's RSS (the server runs in it) while `work` runs, in MiB. */
async function rssGrowthDuring(work: () => Promise<void>): Promise<number> {
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 5);
  try {
    await work();
  } finally {
    clearInterval(sampler);
  }
  peak = Math.max(peak, process.memoryUsage().rss);
  return (peak - before) / MiB;
}

/** How many descriptors of this process (the server runs in it) are open on a file named `name`. */
async function openDescriptorsOf(name: string): Promise<number> {
  const links = await Promise.all(
    (await readdir("/proc/self/fd")).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => "")),
  );
  return links.filter((link) => link.endsWith(`/${name}`)).length;
}

/** Reads at least `bytes` of a response body; returns how many were read. */
async function readAtLeast(reader: ReadableStreamDefaultReader<Uint8Array>, bytes: number): Promise<number> {
  let read = 0;
  while (read < bytes) {
    const { done, value } = await reader.read();
    if (done) break;
    read += value.byteLength;
  }
  return read;
}

/**
 * File reads and writes over HTTP against a real server with a real local
 * sandbox (issue 15, item 1; issue 14, binary PUT): a file is streamed from
 * the sandbox or from storage, never held whole in server memory; `Range`
 * reads return the right bytes; reads over the configured maximum answer
 * 413; raw bytes written with `PUT` come back byte for byte, through the
 * file API and the workspace archive.
 */
describe("streamed file reads and writes", () => {
  let server: TestServer;
  let sessionId: string;
  const fileUrl = (path: string, session = sessionId) => `${server.url}/sessions/${session}/files/${path}`;
  const putBytes = (path: string, bytes: Uint8Array, session = sessionId) =>
    fetch(fileUrl(path, session), {
      method: "PUT",
      headers: { "content-type": "application/octet-stream" },
      body: bytes,
    });
  const range = (path: string, value: string) => fetch(fileUrl(path), { headers: { range: value } });

  beforeAll(async () => {
    const command = [
      `truncate -s ${BIG_BYTES} big.bin`,
      `truncate -s ${HUGE_BYTES} huge.bin`,
      "head -c 3145728 /dev/urandom > random.bin",
      "echo small > small.txt",
    ].join(" && ");
    server = await startTestServer({
      script: {
        rules: [
          {
            name: "big files",
            match: { prompt: "Make big files" },
            replies: [{ tool: "Bash", input: { command, description: "Make big files" } }, "Made."],
          },
        ],
      },
      server: { files: { maxReadBytes: MAX_READ_BYTES, maxWriteBytes: MAX_WRITE_BYTES } },
    });
    sessionId = await restClient(server.url).createSession();
    await runTurnUntilFile(server.url, sessionId, "Make big files", "small.txt");
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it(`serves a sparse 2 GB file to ${CLIENTS} clients at once, one of them to the end, in bounded memory`, async () => {
    let fullRead = 0;
    let responses: Response[] = [];
    const growth = await rssGrowthDuring(async () => {
      responses = await Promise.all(Array.from({ length: CLIENTS }, () => fetch(fileUrl("big.bin"))));
      const readers = responses.map((response) => response.body!.getReader());
      await Promise.all(readers.map((reader) => readAtLeast(reader, 16 * MiB)));
      // Slow readers: nobody reads for a while, and the server must not buffer ahead for them.
      await delay(1500);
      for (const reader of readers.slice(1)) await reader.cancel();
      const first = readers[0]!;
      fullRead = 16 * MiB;
      for (;;) {
        const { done, value } = await first.read();
        if (done) break;
        fullRead += value.byteLength;
      }
    });
    console.info(`${CLIENTS} clients × 2 GB: RSS growth ${growth.toFixed(0)} MiB`);
    expect(growth).toBeLessThan(RSS_CEILING_MIB);
    expect(fullRead).toBe(BIG_BYTES);
    for (const response of responses) {
      expect(response.status).toBe(200);
      expect(response.headers.get("content-length")).toBe(String(BIG_BYTES));
      expect(response.headers.get("accept-ranges")).toBe("bytes");
    }
    // Every read released its file, those of the clients that went away too.
    await expect.poll(() => openDescriptorsOf("big.bin")).toBe(0);
  });

  it("answers HEAD with the size and no body, without reading the file", async () => {
    const response = await fetch(fileUrl("big.bin"), { method: "HEAD" });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-length")).toBe(String(BIG_BYTES));
    expect(response.headers.get("accept-ranges")).toBe("bytes");
  });

  it("streams the workspace archive of a workspace holding it, in bounded memory", async () => {
    const growth = await rssGrowthDuring(async () => {
      const response = await fetch(`${server.url}/sessions/${sessionId}/workspace`);
      expect(response.status).toBe(200);
      const reader = response.body!.getReader();
      await readAtLeast(reader, 64 * 1024);
      await delay(1500);
      await reader.cancel();
    });
    console.info(`archive of a 2 GB workspace, slow reader: RSS growth ${growth.toFixed(0)} MiB`);
    expect(growth).toBeLessThan(RSS_CEILING_MIB);
  });

  it("answers a single Range with 206 and exactly its bytes, and an unsatisfiable one with 416", async () => {
    const whole = new Uint8Array(await (await fetch(fileUrl("random.bin"))).arrayBuffer());
    const size = whole.byteLength;
    expect(size).toBe(3 * MiB);
    const cases: Array<[string, number, number]> = [
      ["bytes=0-99", 0, 99],
      ["bytes=1048570-2097160", 1_048_570, 2_097_160],
      ["bytes=-500", size - 500, size - 1],
      [`bytes=${size - 10}-`, size - 10, size - 1],
      [`bytes=${size - 10}-${size * 2}`, size - 10, size - 1],
    ];
    for (const [header, start, end] of cases) {
      const response = await range("random.bin", header);
      expect(response.status, header).toBe(206);
      expect(response.headers.get("content-range"), header).toBe(`bytes ${start}-${end}/${size}`);
      expect(response.headers.get("content-length"), header).toBe(String(end - start + 1));
      const body = new Uint8Array(await response.arrayBuffer());
      expect(sha256(body), header).toBe(sha256(whole.subarray(start, end + 1)));
    }

    const tail = await range("big.bin", `bytes=${BIG_BYTES - 10}-`);
    expect(tail.status).toBe(206);
    expect(new Uint8Array(await tail.arrayBuffer())).toEqual(new Uint8Array(10));

    const unsatisfiable = await range("random.bin", `bytes=${size}-`);
    expect(unsatisfiable.status).toBe(416);
    expect(unsatisfiable.headers.get("content-range")).toBe(`bytes */${size}`);
    expect(((await unsatisfiable.json()) as { error: { code: string } }).error.code).toBe(
      "RANGE_NOT_SATISFIABLE",
    );

    // What a server may ignore is ignored: the whole file comes back.
    for (const header of ["bytes=abc", "bytes=0-1,10-11", "items=0-5"]) {
      const response = await range("random.bin", header);
      expect(response.status, header).toBe(200);
      expect(sha256(new Uint8Array(await response.arrayBuffer())), header).toBe(sha256(whole));
    }
  });

  it("answers 413 FILE_TOO_LARGE to a read over the maximum, at once, and serves a range of it", async () => {
    const started = performance.now();
    const response = await fetch(fileUrl("huge.bin"));
    expect(response.status).toBe(413);
    const body = (await response.json()) as { error: { code: string; message: string; requestId: string } };
    expect(body.error.code).toBe("FILE_TOO_LARGE");
    expect(body.error.message).toContain(String(MAX_READ_BYTES));
    expect(body.error.requestId).toBeTruthy();
    expect(performance.now() - started).toBeLessThan(5000);

    const part = await range("huge.bin", `bytes=${HUGE_BYTES - 1024 * 1024}-`);
    expect(part.status).toBe(206);
    expect((await part.arrayBuffer()).byteLength).toBe(1024 * 1024);
  });

  it("writes raw bytes with PUT application/octet-stream, byte for byte, and refuses a body over the maximum", async () => {
    const bytes = randomBytes(3 * MiB + 1);
    expect((await putBytes("uploads/random.dat", bytes)).status).toBe(204);
    const back = new Uint8Array(await (await fetch(fileUrl("uploads/random.dat"))).arrayBuffer());
    expect(sha256(back)).toBe(sha256(bytes));

    const tooLarge = await putBytes("uploads/random.dat", randomBytes(MAX_WRITE_BYTES + 1));
    expect(tooLarge.status).toBe(413);
    expect(((await tooLarge.json()) as { error: { code: string } }).error.code).toBe("PAYLOAD_TOO_LARGE");
    // Undeclared length (chunked): refused once past the maximum, the earlier file untouched.
    const chunked = await fetch(fileUrl("uploads/random.dat"), {
      method: "PUT",
      headers: { "content-type": "application/octet-stream" },
      body: new ReadableStream<Uint8Array>({
        start(controller) {
          for (let sent = 0; sent <= MAX_WRITE_BYTES; sent += MiB) controller.enqueue(randomBytes(MiB));
          controller.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    expect(chunked.status).toBe(413);
    const after = new Uint8Array(await (await fetch(fileUrl("uploads/random.dat"))).arrayBuffer());
    expect(sha256(after)).toBe(sha256(bytes));

    // The JSON form still writes text.
    const text = await fetch(fileUrl("uploads/note.txt"), {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ content: "ünïcødé\n" }),
    });
    expect(text.status).toBe(204);
    expect(await (await fetch(fileUrl("uploads/note.txt"))).text()).toBe("ünïcødé\n");
  });

  it("archives the workspace byte for byte, leaving out and naming a file over the maximum", async () => {
    const deleted = await fetch(fileUrl("big.bin"), { method: "DELETE" });
    expect(deleted.status).toBe(204);
    // The sandbox's watcher reports the deletion to the index shortly after.
    await expect
      .poll(async () => (await restClient(server.url).session(sessionId)).files.map((f) => f.path))
      .not.toContain("big.bin");
    const response = await fetch(`${server.url}/sessions/${sessionId}/workspace`);
    expect(response.status).toBe(200);
    const entries = await untarGz(new Uint8Array(await response.arrayBuffer()));
    const names = entries.map((entry) => entry.name);
    expect(names).not.toContain("huge.bin");
    expect(names.at(-1)).toBe(OMITTED_ENTRY);
    const omitted = JSON.parse(entries.at(-1)!.content.toString("utf8")) as {
      omitted: Array<{ path: string; size?: number; reason: string }>;
    };
    expect(omitted.omitted).toEqual([
      { path: "huge.bin", size: HUGE_BYTES, reason: expect.stringContaining(String(MAX_READ_BYTES)) },
    ]);
    for (const path of ["random.bin", "uploads/random.dat", "small.txt"]) {
      const entry = entries.find((candidate) => candidate.name === path);
      expect(entry, path).toBeDefined();
      const direct = new Uint8Array(await (await fetch(fileUrl(path))).arrayBuffer());
      expect(sha256(entry!.content), path).toBe(sha256(direct));
    }
  });

  it("serves and archives a binary file written while no sandbox runs, from storage, by ranges too", async () => {
    const stored = await restClient(server.url).createSession();
    const bytes = randomBytes(3 * MiB + 1);
    expect((await putBytes("data/stored.bin", bytes, stored)).status).toBe(204);
    expect((await restClient(server.url).session(stored)).runtime.sandboxStatus).not.toBe("running");

    const whole = await fetch(fileUrl("data/stored.bin", stored));
    expect(whole.headers.get("content-length")).toBe(String(bytes.length));
    expect(sha256(new Uint8Array(await whole.arrayBuffer()))).toBe(sha256(bytes));

    // Across the 1 MiB chunks storage keeps.
    const start = MiB - 10;
    const end = 2 * MiB + 10;
    const part = await fetch(fileUrl("data/stored.bin", stored), {
      headers: { range: `bytes=${start}-${end}` },
    });
    expect(part.status).toBe(206);
    expect(sha256(new Uint8Array(await part.arrayBuffer()))).toBe(sha256(bytes.subarray(start, end + 1)));

    const archive = await fetch(`${server.url}/sessions/${stored}/workspace`);
    const entries = await untarGz(new Uint8Array(await archive.arrayBuffer()));
    expect(entries.map((entry) => entry.name)).toEqual(["data/stored.bin"]);
    expect(sha256(entries[0]!.content)).toBe(sha256(bytes));
  });

  it("documents both request bodies of PUT and the 206, 413 and 416 answers of GET", async () => {
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
      paths: Record<
        string,
        Record<
          string,
          { requestBody?: { content: Record<string, unknown> }; responses: Record<string, unknown> }
        >
      >;
    };
    const operations = doc.paths["/sessions/{id}/files/{*}"];
    expect(Object.keys(operations?.put?.requestBody?.content ?? {}).sort()).toEqual([
      "application/json",
      "application/octet-stream",
    ]);
    expect(Object.keys(operations?.get?.responses ?? {})).toEqual(
      expect.arrayContaining(["200", "206", "413", "416"]),
    );
  });
});
