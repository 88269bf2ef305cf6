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

  it("records to a cassette and replays it", async () => {
    const upstream = await runMockModelCli(["--script", join(dir, "script.json"), "--port", "0", "--quiet"]);
    const cassette = join(dir, "cassette.json");
    const ask = async (url: string) => {
      const response = await fetch(`${url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "m", max_tokens: 10, messages: [{ role: "user", content: "ping" }] }),
      });
      return response.json();
    };
    const recorder = await runMockModelCli(["--record", upstream.url, "--cassette", cassette, "--port", "0"]);
    const recorded = await ask(recorder.url);
    await recorder.close();
    await upstream.close();
    const replay = await runMockModelCli(["--replay", cassette, "--pacing", "original", "--port", "0"]);
    try {
      expect(await ask(replay.url)).toEqual(recorded);
    } finally {
      await replay.close();
    }
  });

  it("rejects a record mode without a cassette and an unknown pacing", async () => {
    await expect(runMockModelCli(["--record", "http://127.0.0.1:9", "--port", "0"])).rejects.toThrow(
      /--cassette/,
    );
    await expect(runMockModelCli(["--replay", "x.json", "--pacing", "slow"])).rejects.toThrow(/pacing/);
  });

  it("rejects an invalid script file and a bad port", async () => {
    const file = join(dir, "bad.json");
    await writeFile(file, JSON.stringify({ rules: [{ match: { prompt: 1 }, reply: "x" }] }));
    await expect(runMockModelCli(["--script", file, "--port", "0"])).rejects.toBeInstanceOf(MockModelError);
    await expect(runMockModelCli(["--port", "http"])).rejects.toThrow(/port/);
  });
});
