import { performance } from "node:perf_hooks";
import type { Block } from "@agent-runtime/protocol";
import { createAgentRuntime, createAgentServer, createMemoryPersistenceAdapter } from "@agent-runtime/server";
import { createFakeSandboxProvider } from "@agent-runtime/server/testing";
import { pino } from "pino";

export interface SessionReadResult {
  readonly blocks: number;
  /** Per route: requests answered per second, and the bytes of one answer. */
  readonly routes: { readonly path: string; readonly perSecond: number; readonly bytes: number }[];
}

const SESSION_ID = "bench-long-session";

/**
 * `GET /sessions/:id` on a stored session of `blockCount` blocks (~300 bytes
 * each, as in issue 25's measurement), answered by the server in this process
 * to `concurrency` keep-alive clients for `seconds` each: the default answer
 * (the newest 500 blocks), the largest page (1,000), and a page of the
 * `/blocks` route from the middle of the conversation.
 */
export async function measureSessionRead(
  blockCount = 10_000,
  { concurrency = 8, seconds = 5 } = {},
): Promise<SessionReadResult> {
  const persistence = createMemoryPersistenceAdapter();
  const now = new Date().toISOString();
  await persistence.createSession({
    sessionId: SESSION_ID,
    agentProfileRef: "bench",
    architecture: "claude-agent-sdk",
    sessionOptions: {},
    createdAt: now,
    updatedAt: now,
    lastSeq: 0,
    usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0, costUsd: 0 },
  });
  const blocks: Block[] = Array.from({ length: blockCount }, (_, index) => ({
    type: index % 2 === 0 ? "user_message" : "assistant_text",
    id: `block-${index}`,
    timestamp: new Date(1_700_000_000_000 + index).toISOString(),
    content: `${"The agent wrote this line of text. ".repeat(7)}${index}`,
  }));
  await persistence.saveBlocks(
    SESSION_ID,
    blocks.map((block, order) => ({ order, block })),
  );
  const runtime = createAgentRuntime({
    persistence,
    sandbox: createFakeSandboxProvider(),
    agents: [{ id: "bench", name: "Bench" }],
    model: { baseUrl: "http://127.0.0.1:9", apiKey: "bench" },
    egress: "open",
    idleTimeoutMs: 0,
    logger: pino({ level: "warn" }),
  });
  const server = await createAgentServer({ runtime, rateLimit: false });
  const url = await server.listen({ port: 0 });
  try {
    const paths = [
      `/sessions/${SESSION_ID}`,
      `/sessions/${SESSION_ID}?blocksLimit=1000`,
      `/sessions/${SESSION_ID}/blocks?before=block-${Math.floor(blockCount / 2)}&limit=500`,
    ];
    const routes: SessionReadResult["routes"] = [];
    for (const path of paths) {
      const bytes = (await (await fetch(`${url}${path}`)).arrayBuffer()).byteLength;
      let answered = 0;
      const deadline = performance.now() + seconds * 1000;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (performance.now() < deadline) {
            const response = await fetch(`${url}${path}`);
            await response.arrayBuffer();
            if (response.status !== 200) throw new Error(`${path}: ${response.status}`);
            answered++;
          }
        }),
      );
      routes.push({ path, perSecond: answered / seconds, bytes });
    }
    return { blocks: blockCount, routes };
  } finally {
    await server.close();
  }
}

export function printSessionRead(result: SessionReadResult): void {
  for (const route of result.routes)
    console.log(
      `  GET ${route.path.replace(SESSION_ID, ":id")}: ${route.perSecond.toFixed(0)} requests/s, ${(route.bytes / 1024).toFixed(0)} KiB each`,
    );
}
