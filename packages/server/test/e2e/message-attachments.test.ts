import { createHash } from "node:crypto";
import type { ScriptInput } from "@agent-runtime/mock-model";
import type { Block } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restClient } from "../support/rest.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/**
 * Images and files in messages, with the real Claude Code and OpenCode
 * against the mock model: the model receives the image's bytes, the
 * message's block records where its attachments are in the workspace, a file
 * is placed there and named to the agent, and bad attachments get a 4xx.
 */
/** A 1×1 PNG. */
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  "base64",
);
const PNG_SHA256 = createHash("sha256").update(PNG).digest("hex");

const script: ScriptInput = {
  rules: [
    { name: "image", match: { prompt: "What is in the picture", image: true }, reply: "A tiny picture." },
    {
      name: "no-image",
      match: { prompt: "What is in the picture", image: false },
      reply: "I see no picture.",
    },
    { name: "file", match: { prompt: "Read the attached notes" }, reply: "Noted." },
  ],
};

const cases = [{ architecture: "claude-agent-sdk" }, { architecture: "opencode" }] as const;

describe.each(cases)("$architecture: attachments", ({ architecture }) => {
  let server: TestServer;
  const recorders: SocketRecorder[] = [];

  beforeAll(async () => {
    server = await startTestServer({ script });
  });
  afterAll(async () => {
    for (const recorder of recorders) recorder.close();
    await server?.dispose();
  });

  async function session(): Promise<{ id: string; recorder: SocketRecorder }> {
    const id = await restClient(server.url).createSession({ agentProfileRef: "test", architecture });
    const recorder = new SocketRecorder(server.url);
    recorders.push(recorder);
    await recorder.join(id, 0);
    return { id, recorder };
  }

  const post = (id: string, body: unknown) =>
    fetch(`${server.url}/sessions/${id}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  const userBlocks = (recorder: SocketRecorder) =>
    recorder.events.flatMap((e) =>
      e.type === "session:block:complete" && e.block.type === "user_message" ? [e.block] : [],
    ) as Extract<Block, { type: "user_message" }>[];

  it("an inline image reaches the model byte for byte, and is kept in the workspace", async () => {
    const { id, recorder } = await session();
    const sent = await post(id, {
      content: "What is in the picture?",
      attachments: [{ type: "image", mediaType: "image/png", data: PNG.toString("base64") }],
    });
    expect(sent.status).toBe(202);
    await recorder.waitForTurns(1, 120_000);
    const requests = server.mock.requests.filter((r) => r.matched === "image");
    expect(requests.length).toBeGreaterThan(0);
    expect(requests[0]?.images).toEqual([{ mediaType: "image/png", bytes: PNG.length, sha256: PNG_SHA256 }]);
    const [block] = userBlocks(recorder);
    expect(block?.content).toBe("What is in the picture?");
    expect(block?.attachments).toEqual([
      {
        type: "image",
        path: expect.stringMatching(/^attachments\/[0-9a-f]{8}\/image-1\.png$/),
        mediaType: "image/png",
        size: PNG.length,
      },
    ]);
    const stored = await fetch(`${server.url}/sessions/${id}/files/${block?.attachments?.[0]?.path}`);
    expect(Buffer.from(await stored.arrayBuffer()).equals(PNG)).toBe(true);

    // The same image again, by its workspace path.
    expect(
      (
        await post(id, {
          content: "What is in the picture now?",
          attachments: [{ type: "image", path: block?.attachments?.[0]?.path }],
        })
      ).status,
    ).toBe(202);
    await recorder.waitForTurns(2, 120_000);
    const again = server.mock.requests.filter((r) => r.matched === "image").at(-1);
    expect(again?.images.map((image) => image.sha256)).toEqual([PNG_SHA256]);
  });

  it("a file is placed in the workspace and named in the message the agent gets", async () => {
    const { id, recorder } = await session();
    const notes = Buffer.from("line one\nline two\n");
    expect(
      (
        await post(id, {
          content: "Read the attached notes",
          attachments: [{ type: "file", name: "notes.txt", data: notes.toString("base64") }],
        })
      ).status,
    ).toBe(202);
    await recorder.waitForTurns(1, 120_000);
    const [block] = userBlocks(recorder);
    const path = block?.attachments?.[0]?.path ?? "";
    expect(path).toMatch(/^attachments\/[0-9a-f]{8}\/notes\.txt$/);
    expect(await (await fetch(`${server.url}/sessions/${id}/files/${path}`)).text()).toBe(notes.toString());
    const request = server.mock.requests.find((r) => r.matched === "file");
    expect(JSON.stringify(request?.messages)).toContain(`Attached files (in the workspace): ${path}`);
  });

  it("refuses bad attachments with a clear 4xx, before any turn", async () => {
    const { id } = await session();
    const notPng = await post(id, {
      content: "x",
      attachments: [
        { type: "image", mediaType: "image/png", data: Buffer.from("GIF89a....").toString("base64") },
      ],
    });
    expect(notPng.status).toBe(400);
    expect((await notPng.json()).error.message).toContain("not image/png");
    const svg = await post(id, {
      content: "x",
      attachments: [{ type: "image", mediaType: "image/svg+xml", data: "AAAA" }],
    });
    expect(svg.status).toBe(400);
    const big = await post(id, {
      content: "x",
      attachments: [
        { type: "image", mediaType: "image/png", data: Buffer.alloc(5 * 1024 * 1024 + 3).toString("base64") },
      ],
    });
    expect(big.status).toBe(400);
    const outside = await post(id, {
      content: "x",
      attachments: [{ type: "file", name: "../x", data: "AAAA" }],
    });
    expect(outside.status).toBe(400);
    const missing = await post(id, { content: "x", attachments: [{ type: "image", path: "nowhere.png" }] });
    expect(missing.status).toBe(404);
    const data = await restClient(server.url).session(id);
    expect(data.blocks).toEqual([]);
  });
});
