import { AgentRuntimeClient } from "@agent-runtime/client";
import type { Block, BlockPage, JoinAck, SessionData } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMemoryPersistenceAdapter } from "../../src/index.js";
import { connectSocket } from "../support/socket-client.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const BLOCK_COUNT = 2_345;
const SESSION_ID = "paged-session";
const SMALL_SESSION_ID = "small-session";

function conversation(count: number): Block[] {
  return Array.from({ length: count }, (_, index) => ({
    type: index % 2 === 0 ? ("user_message" as const) : ("assistant_text" as const),
    id: `block-${String(index).padStart(5, "0")}`,
    timestamp: new Date(1_700_000_000_000 + index * 1000).toISOString(),
    content: `message ${index} ${"x".repeat(200)}`,
  }));
}

/** Issue 25: `GET /sessions/:id` is bounded; `GET /sessions/:id/blocks` pages the rest (a real server, stored sessions). */
describe("paged session reads", () => {
  let server: TestServer;
  const all = conversation(BLOCK_COUNT);

  const getJson = async <T>(path: string): Promise<{ status: number; body: T; bytes: number }> => {
    const response = await fetch(`${server.url}${path}`);
    const text = await response.text();
    return { status: response.status, body: JSON.parse(text) as T, bytes: Buffer.byteLength(text) };
  };

  beforeAll(async () => {
    const persistence = createMemoryPersistenceAdapter();
    const now = new Date().toISOString();
    for (const [sessionId, blocks] of [
      [SESSION_ID, all],
      [SMALL_SESSION_ID, conversation(3)],
    ] as const) {
      await persistence.createSession({
        sessionId,
        agentProfileRef: "test",
        architecture: "claude-agent-sdk",
        sessionOptions: {},
        createdAt: now,
        updatedAt: now,
        // Events up to here are no longer held: a socket resuming from before gets a snapshot.
        lastSeq: 5_000,
        usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0, costUsd: 0 },
      });
      await persistence.saveBlocks(
        sessionId,
        blocks.map((block, order) => ({ order, block })),
      );
    }
    server = await startTestServer({ persistence });
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it("answers GET /sessions/:id with the newest 500 blocks and says older ones exist", async () => {
    const { status, body, bytes } = await getJson<SessionData>(`/sessions/${SESSION_ID}`);
    expect(status).toBe(200);
    expect(body.blocks.map((b) => b.id)).toEqual(all.slice(-500).map((b) => b.id));
    expect(body.hasOlderBlocks).toBe(true);
    // Bounded by the page, not by the session: well under the whole conversation's size.
    expect(bytes).toBeLessThan(Buffer.byteLength(JSON.stringify(all)) / 3);
  });

  it("takes blocksLimit, 0 included, and refuses one over 1000", async () => {
    const ten = await getJson<SessionData>(`/sessions/${SESSION_ID}?blocksLimit=10`);
    expect(ten.body.blocks.map((b) => b.id)).toEqual(all.slice(-10).map((b) => b.id));
    const none = await getJson<SessionData>(`/sessions/${SESSION_ID}?blocksLimit=0`);
    expect(none.body.blocks).toEqual([]);
    expect(none.body.hasOlderBlocks).toBe(true);
    const over = await getJson<{ error: { code: string } }>(`/sessions/${SESSION_ID}?blocksLimit=1001`);
    expect([over.status, over.body.error.code]).toEqual([400, "VALIDATION_FAILED"]);
  });

  it("answers a session within the limit exactly as before: every block, no hasOlderBlocks", async () => {
    const { body } = await getJson<SessionData>(`/sessions/${SMALL_SESSION_ID}`);
    expect(body.blocks.map((b) => b.id)).toEqual(["block-00000", "block-00001", "block-00002"]);
    expect(body.hasOlderBlocks).toBeUndefined();
  });

  it("pages back from the newest blocks to the first, completely and in order", async () => {
    const first = await getJson<SessionData>(`/sessions/${SESSION_ID}?blocksLimit=100`);
    let blocks = first.body.blocks;
    let more = first.body.hasOlderBlocks === true;
    let pages = 0;
    while (more) {
      const page = await getJson<BlockPage>(
        `/sessions/${SESSION_ID}/blocks?before=${blocks[0]!.id}&limit=300`,
      );
      expect(page.status).toBe(200);
      expect(page.body.blocks.length).toBeLessThanOrEqual(300);
      expect(page.body.hasMoreAfter).toBe(true);
      blocks = [...page.body.blocks, ...blocks];
      more = page.body.hasMoreBefore;
      pages++;
    }
    expect(pages).toBe(Math.ceil((BLOCK_COUNT - 100) / 300));
    expect(blocks).toEqual(all);
  });

  it("pages forward from the first block to the last, completely and in order", async () => {
    let blocks: Block[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await getJson<BlockPage>(
        `/sessions/${SESSION_ID}/blocks?limit=1000${after ? `&after=${after}` : ""}`,
      );
      expect(page.body.blocks.length).toBeLessThanOrEqual(1000);
      expect(page.body.sessionId).toBe(SESSION_ID);
      blocks = [...blocks, ...page.body.blocks];
      if (!page.body.hasMoreAfter) break;
      after = page.body.blocks.at(-1)!.id;
    }
    expect(blocks).toEqual(all);
    // A page defaults to 500 blocks.
    expect((await getJson<BlockPage>(`/sessions/${SESSION_ID}/blocks`)).body.blocks).toHaveLength(500);
  });

  it("refuses an unknown cursor, both cursors at once, and answers 404 for a missing session", async () => {
    const unknown = await getJson<{ error: { code: string; message: string } }>(
      `/sessions/${SESSION_ID}/blocks?before=nope`,
    );
    expect([unknown.status, unknown.body.error.code]).toEqual([400, "VALIDATION_FAILED"]);
    expect(unknown.body.error.message).toContain("nope");
    const both = await getJson<{ error: { code: string } }>(
      `/sessions/${SESSION_ID}/blocks?before=block-00010&after=block-00001`,
    );
    expect([both.status, both.body.error.code]).toEqual([400, "VALIDATION_FAILED"]);
    const missing = await getJson<{ error: { code: string } }>("/sessions/no-such-session/blocks");
    expect([missing.status, missing.body.error.code]).toEqual([404, "SESSION_NOT_FOUND"]);
  });

  it("the client loads the newest blocks, then older pages on demand, until it holds the whole conversation", async () => {
    const client = new AgentRuntimeClient({ apiUrl: server.url });
    try {
      const opened = client.openSession(SESSION_ID);
      const loaded = await opened.ready;
      expect(loaded.blocks).toHaveLength(500);
      expect(loaded.hasOlderBlocks).toBe(true);
      // Concurrent calls share one request: the store gains one page, not two copies of it.
      const [more] = await Promise.all([
        client.loadOlderBlocks(SESSION_ID, 400),
        client.loadOlderBlocks(SESSION_ID, 400),
      ]);
      expect(more).toBe(true);
      expect(opened.store.getSnapshot().blocks).toEqual(all.slice(-900));
      while (await client.loadOlderBlocks(SESSION_ID, 1000));
      const snapshot = opened.store.getSnapshot();
      expect(snapshot.blocks).toEqual(all);
      expect(snapshot.hasOlderBlocks).toBe(false);
      // A resync (the newest page again) keeps what was paged in.
      await client.syncSession(SESSION_ID);
      expect(opened.store.getSnapshot().blocks).toEqual(all);
      opened.release();
    } finally {
      client.close();
    }
  });

  it("bounds the socket's session:snapshot to the newest blocks as well", async () => {
    const socket = await connectSocket(server.url);
    try {
      const snapshot = new Promise<{ session: SessionData }>((resolve) =>
        socket.once("session:snapshot", resolve),
      );
      const ack = (await socket
        .timeout(10_000)
        .emitWithAck("session:join", { sessionId: SESSION_ID, afterSeq: 1 })) as JoinAck;
      expect(ack).toMatchObject({ ok: true, snapshot: true });
      const { session } = await snapshot;
      expect(session.blocks.map((b) => b.id)).toEqual(all.slice(-500).map((b) => b.id));
      expect(session.hasOlderBlocks).toBe(true);
    } finally {
      socket.close();
    }
  });
});
