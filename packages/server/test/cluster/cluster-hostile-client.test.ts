import { rm } from "node:fs/promises";
import { connect } from "node:net";
import { type MockModel, startMockModel } from "@agent-runtime/mock-model";
import type { SessionData } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SocketRecorder } from "../support/socket-recorder.js";
import { type ClusterNodeProcess, startClusterNode } from "./cluster-node-process.js";
import { type ClusterTestDatabase, createClusterTestDatabase } from "./cluster-test-database.js";
import { deleteKeys, testRedis, uniqueKeyPrefix } from "./redis-test-keys.js";

/**
 * Cluster mode against a hostile client: two real `serve` processes (n1
 * owns the session, n2 forwards), tenants `alpha` and `beta`. No turn runs,
 * so no sandbox starts.
 */
const ALPHA = "alpha-key-0123456789";
const BETA = "beta-key-0123456789";

type Node = ClusterNodeProcess;

describe("cluster mode: a hostile client", () => {
  let mock: MockModel;
  let database: ClusterTestDatabase;
  let keyPrefix: string;
  const nodes: Node[] = [];
  let sessionId: string;

  const startNode = (name: string): Promise<Node> =>
    startClusterNode({
      name,
      databaseUrl: database.url,
      keyPrefix,
      modelUrl: mock.url,
      env: { AGENT_RUNTIME_API_KEYS: `alpha:${ALPHA},beta:${BETA}` },
    });

  const get = (node: Node, path: string, key: string, headers: Record<string, string> = {}) =>
    fetch(`${node.url}${path}`, { headers: { authorization: `Bearer ${key}`, ...headers } });

  beforeAll(async () => {
    mock = await startMockModel({ script: { rules: [] } });
    database = await createClusterTestDatabase("cluster_hostile");
    keyPrefix = uniqueKeyPrefix("hostile");
    nodes.push(await startNode("h1"), await startNode("h2"));
    const created = await fetch(`${nodes[0]!.url}/sessions`, {
      method: "POST",
      headers: { authorization: `Bearer ${ALPHA}`, "content-type": "application/json" },
      body: JSON.stringify({ agentProfileRef: "test" }),
    });
    expect(created.status).toBe(201);
    sessionId = ((await created.json()) as SessionData).sessionId;
  });

  afterAll(async () => {
    await Promise.all(nodes.map((node) => node.process.kill("SIGTERM")));
    await mock?.close();
    await database?.drop();
    const redis = testRedis();
    await deleteKeys(redis, keyPrefix).finally(() => redis.quit());
    await Promise.allSettled(nodes.map((node) => rm(node.dataDir, { recursive: true, force: true })));
  });

  it("serves the owner's tenant through the other node, and no other tenant's key", async () => {
    const [, n2] = nodes as [Node, Node];
    expect((await get(n2, `/sessions/${sessionId}`, ALPHA)).status).toBe(200);
    const foreign = await get(n2, `/sessions/${sessionId}`, BETA);
    expect(foreign.status).toBe(404);
    const socket = new SocketRecorder(n2.url, { token: BETA });
    try {
      expect(await socket.join(sessionId, 0)).toMatchObject({
        ok: false,
        error: { code: "SESSION_NOT_FOUND" },
      });
    } finally {
      socket.close();
    }
  });

  it("does not let a client's own forwarded-by header take a session from its owner", async () => {
    const [n1, n2] = nodes as [Node, Node];
    const spoofed = await get(n2, `/sessions/${sessionId}`, ALPHA, { "x-agent-runtime-forwarded-by": "h1" });
    expect(spoofed.status).toBe(503);
    expect(((await spoofed.json()) as { error: { code: string } }).error.code).toBe("NODE_UNAVAILABLE");
    const owner = (await (await get(n1, `/sessions/${sessionId}`, ALPHA)).json()) as SessionData;
    expect(owner.runtime.isLoaded).toBe(true);
  });

  it("answers 400 for a session id storage cannot hold, on a node that would forward it", async () => {
    const [, n2] = nodes as [Node, Node];
    expect((await get(n2, "/sessions/a%00b/blocks", ALPHA)).status).toBe(400);
    const socket = new SocketRecorder(n2.url, { token: ALPHA });
    try {
      expect(await socket.join("a\u0000b", 0)).toMatchObject({
        ok: false,
        error: { code: "VALIDATION_FAILED" },
      });
      expect(await socket.join("s".repeat(100_000), 0)).toMatchObject({
        ok: false,
        error: { code: "VALIDATION_FAILED" },
      });
    } finally {
      socket.close();
    }
    // Refused before the lease look-up: a hostile client cannot fill the log with failed queries.
    expect(n2.process.output()).not.toContain("finding a session's node failed");
  });

  it("relays the owner's refusal of a message body over its limit, and forwards the next request", async () => {
    const [, n2] = nodes as [Node, Node];
    const huge = await fetch(`${n2.url}/sessions/${sessionId}/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${ALPHA}`, "content-type": "application/json" },
      body: JSON.stringify({ content: "x".repeat(40 * 1024 * 1024) }),
    }).catch((error: unknown) => error);
    // The owner refuses it (413) once the limit is passed; it may cut the upload off before the answer is read.
    if (huge instanceof Response) expect(huge.status).toBe(413);
    expect((await get(n2, `/sessions/${sessionId}`, ALPHA)).status).toBe(200);
  });

  it("keeps the nodes' connection in step after a GET that announces a body", async () => {
    const [, n2] = nodes as [Node, Node];
    // A GET with a Content-Length and its body, on a raw connection: n2 forwards the GET (without the body).
    const { port } = new URL(n2.url);
    const raw = connect(Number(port), "127.0.0.1");
    const body = "x".repeat(200);
    raw.write(
      `GET /sessions/${sessionId} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ALPHA}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    const answer = await new Promise<string>((resolve) => {
      let text = "";
      raw.on("data", (chunk) => (text += chunk.toString()));
      raw.on("close", () => resolve(text));
    });
    expect(answer.split("\r\n")[0]).toBe("HTTP/1.1 200 OK");
    // The next forwarded requests (which reuse n2's kept-alive connection to n1) are answered as themselves.
    for (let attempt = 0; attempt < 3; attempt++) {
      const next = await get(n2, `/sessions/${sessionId}/blocks?limit=1`, ALPHA);
      expect(next.status).toBe(200);
      expect(((await next.json()) as { sessionId: string }).sessionId).toBe(sessionId);
    }
  });

  it("sends a snapshot to a client behind the store when the shared stream holds nothing of the session (it expired)", async () => {
    const [n1, n2] = nodes as [Node, Node];
    const patched = await fetch(`${n1.url}/sessions/${sessionId}`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${ALPHA}`, "content-type": "application/json" },
      body: JSON.stringify({ sessionOptions: { model: "claude-sonnet-4-5" } }),
    });
    expect(patched.status).toBe(200);
    expect(
      (
        await fetch(`${n1.url}/sessions/${sessionId}/sync`, {
          method: "POST",
          headers: { authorization: `Bearer ${ALPHA}`, "content-type": "application/json" },
          body: "{}",
        })
      ).status,
    ).toBe(200);
    const redis = testRedis();
    try {
      await redis.del(`${keyPrefix}session:{${sessionId}}:events`, `${keyPrefix}session:{${sessionId}}:meta`);
    } finally {
      await redis.quit();
    }
    const socket = new SocketRecorder(n2.url, { token: ALPHA });
    try {
      expect(await socket.join(sessionId, 0)).toMatchObject({ ok: true, snapshot: true });
      expect(socket.snapshots).toHaveLength(1);
    } finally {
      socket.close();
    }
  });
});
