import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentRuntimeClient } from "../src/index.js";
import { type RealServer, startRealServer } from "./support/real-server.js";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** `RestClient.writeFileBytes` against a real server (no sandbox yet: the bytes go to storage). */
describe("writing a workspace file as bytes", () => {
  let server: RealServer;
  let client: AgentRuntimeClient;

  beforeAll(async () => {
    server = await startRealServer({ rules: [] });
    client = new AgentRuntimeClient({ apiUrl: server.url });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("round-trips any bytes, invalid UTF-8 included, and reads them back exactly", async () => {
    const { sessionId } = await client.rest.createSession({ agentProfileRef: "test" });
    const bytes = new Uint8Array(
      Buffer.concat([Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0]), randomBytes(2 * 1024 * 1024)]),
    );
    await client.rest.writeFileBytes(sessionId, "bin/ünï data.bin", bytes);
    expect(sha256(await client.rest.readFileBytes(sessionId, "bin/ünï data.bin"))).toBe(sha256(bytes));
    expect((await client.rest.listFiles(sessionId)).find((f) => f.path === "bin/ünï data.bin")?.size).toBe(
      bytes.byteLength,
    );
  });
});
