import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { runMockModelCli } from "./cli.js";
import { MockModelError } from "./errors.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mock-model-cli-"));
  vi.spyOn(console, "log").mockImplementation(() => {});
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("runMockModelCli", () => {
  it("serves a JSON script file on the given port", async () => {
    const file = join(dir, "script.json");
    await writeFile(file, JSON.stringify([{ match: { prompt: "ping" }, reply: "pong" }]));
    const server = await runMockModelCli(["--script", file, "--port", "0", "--quiet"]);
    try {
      const response = await fetch(`${server.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "m", max_tokens: 10, messages: [{ role: "user", content: "ping" }] }),
      });
      expect(await response.json()).toMatchObject({ content: [{ type: "text", text: "pong" }] });
    } finally {
      await server.close();
    }
  });

  it("rejects an invalid script file and a bad port", async () => {
    const file = join(dir, "bad.json");
    await writeFile(file, JSON.stringify({ rules: [{ match: { prompt: 1 }, reply: "x" }] }));
    await expect(runMockModelCli(["--script", file, "--port", "0"])).rejects.toBeInstanceOf(MockModelError);
    await expect(runMockModelCli(["--port", "http"])).rejects.toThrow(/port/);
  });
});
