import { type MockModel, type ScriptInput, startMockModel } from "@agent-runtime/mock-model";
import type { Block, SessionEvent, SessionEventOf } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restClient } from "../support/rest.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/**
 * A model that stops sending mid-answer, with the real agents in real
 * sandboxes: once the model has sent nothing for the stall timeout the turn
 * ends with a `MODEL_STALLED` error (not before), the text that did arrive
 * stays, and the next turn works.
 */
const STALL_TIMEOUT_MS = 3000;
const PARTIAL = "Once upon a time";

const script: ScriptInput = {
  rules: [
    {
      name: "stall",
      match: { prompt: "Tell me a long story" },
      // Two chunks of eight characters ("Once upo", "n a time"), then nothing.
      reply: { steps: [`${PARTIAL}, a model stopped talking.`], chunkSize: 8, stallAfterChunks: 2 },
    },
    { name: "hello", match: { prompt: "Say hello" }, reply: "Hello again." },
  ],
};

const ofType = <T extends SessionEvent["type"]>(events: SessionEvent[], type: T) =>
  events.filter((e): e is SessionEventOf<T> => e.type === type);
const completedBlocks = (events: SessionEvent[]) =>
  ofType(events, "session:block:complete").map((e) => e.block);

describe.each([{ architecture: "claude-agent-sdk" }, { architecture: "opencode" }] as const)(
  "a stalled model ($architecture)",
  ({ architecture }) => {
    let mock: MockModel;
    let server: TestServer;
    let rest: ReturnType<typeof restClient>;
    /** When the mock model wrote its last chunk (same clock as `performance.now()`). */
    let lastChunkAt = 0;

    beforeAll(async () => {
      mock = await startMockModel({
        script,
        onChunk: ({ timestamp }) => {
          lastChunkAt = timestamp - performance.timeOrigin;
        },
      });
      server = await startTestServer({ mock, runtime: { modelStallTimeoutMs: STALL_TIMEOUT_MS } });
      rest = restClient(server.url);
    });
    afterAll(async () => {
      await server?.dispose();
      await mock?.close();
    });

    it("ends the turn with MODEL_STALLED after the timeout, keeps the partial text, and the next turn works", async () => {
      const sessionId = await rest.createSession({ architecture });
      const recorder = new SocketRecorder(server.url);
      await recorder.join(sessionId, 0);
      expect((await rest.send(sessionId, "Tell me a long story")).status).toBe(202);
      await recorder.waitFor((e) => e.type === "error" && e.code === "MODEL_STALLED", 60_000);
      const stalledAt = performance.now();
      await recorder.waitForTurns(1, 30_000);

      const first = [...recorder.events];
      const [completed] = ofType(first, "session:turn:completed");
      expect(completed?.stopReason).toBe("error");
      const errors = completedBlocks(first).filter(
        (b): b is Extract<Block, { type: "error" }> => b.type === "error",
      );
      expect(errors.map((b) => b.code)).toEqual(["MODEL_STALLED"]);
      expect(ofType(first, "error").map((e) => e.code)).toContain("MODEL_STALLED");
      const text = completedBlocks(first)
        .filter((b): b is Extract<Block, { type: "assistant_text" }> => b.type === "assistant_text")
        .map((b) => b.content)
        .join("");
      expect(text).toContain(PARTIAL);
      expect(text).not.toContain("stopped talking");
      // Said once the model's last byte is the timeout old, not before, and soon after.
      expect(lastChunkAt).toBeGreaterThan(0);
      expect(stalledAt - lastChunkAt).toBeGreaterThanOrEqual(STALL_TIMEOUT_MS);
      expect(stalledAt - lastChunkAt).toBeLessThan(STALL_TIMEOUT_MS + 5_000);

      expect((await rest.send(sessionId, "Say hello")).status).toBe(202);
      await recorder.waitForTurns(2, 60_000);
      recorder.close();
      const second = recorder.events.slice(first.length);
      expect(ofType(second, "session:turn:completed").map((e) => e.stopReason)).toEqual(["end_turn"]);
      expect(
        completedBlocks(second).some(
          (b) => b.type === "assistant_text" && b.content.includes("Hello again."),
        ),
      ).toBe(true);
      expect(completedBlocks(second).filter((b) => b.type === "error")).toEqual([]);
      const session = await rest.session(sessionId);
      expect(session.runtime.busy).toBe(false);
    });
  },
);
