import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MockModel, startMockModel } from "../server.js";

let model: MockModel;

beforeAll(async () => {
  model = await startMockModel({
    demo: true,
    script: [
      {
        name: "list",
        match: { prompt: "list files" },
        replies: [
          [
            { thinking: "Listing first." },
            "Listing.",
            { tool: "run_shell_command", input: { command: "ls {{cwd}}" } },
          ],
          "Two files.",
        ],
      },
    ],
  });
});
afterAll(() => model.close());

const tools = [{ functionDeclarations: [{ name: "run_shell_command" }, { name: "write_file" }] }];
/** Gemini CLI's context message, which is not the prompt. */
const context = {
  role: "user",
  parts: [{ text: "<session_context>\n- **Workspace Directories:**\n  - /work/space\n</session_context>" }],
};
const ask = { role: "user", parts: [{ text: "Please list files" }] };

async function call(method: string, body: unknown): Promise<Response> {
  return fetch(`${model.url}/v1beta/models/gemini-test:${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-goog-api-key": "k" },
    body: JSON.stringify(body),
  });
}

describe("POST /v1beta/models/<model>:streamGenerateContent", () => {
  it("streams thought and text parts, a whole function call, then the finish reason and usage", async () => {
    const response = await call("streamGenerateContent?alt=sse", {
      systemInstruction: { parts: [{ text: "You are terse." }] },
      // As Gemini CLI sends it: its context and the prompt as parts of one content.
      contents: [{ role: "user", parts: [...context.parts, ...ask.parts] }],
      tools,
    });
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const events = (await response.text())
      .split("\n\n")
      .filter((event) => event.startsWith("data: "))
      .map((event) => JSON.parse(event.slice("data: ".length)));
    const parts = events.flatMap((event) => event.candidates[0].content.parts);
    expect(
      parts
        .filter((part) => part.thought)
        .map((part) => part.text)
        .join(""),
    ).toBe("Listing first.");
    expect(
      parts
        .filter((part) => part.text && !part.thought)
        .map((part) => part.text)
        .join(""),
    ).toBe("Listing.");
    expect(parts.find((part) => part.functionCall)?.functionCall).toMatchObject({
      name: "run_shell_command",
      args: { command: "ls /work/space" },
    });
    expect(events.at(-1)).toMatchObject({
      candidates: [{ finishReason: "STOP" }],
      usageMetadata: { totalTokenCount: expect.any(Number) },
    });
    expect(model.requests.at(-1)).toMatchObject({ api: "gemini", model: "gemini-test", matched: "list" });
  });

  it("answers the next position after the function response, without streaming too", async () => {
    const response = await call("generateContent", {
      contents: [
        ask,
        { role: "model", parts: [{ functionCall: { name: "run_shell_command", args: {} } }] },
        {
          role: "user",
          parts: [{ functionResponse: { name: "run_shell_command", response: { output: "a b" } } }],
        },
      ],
      tools,
    });
    const body = await response.json();
    expect(body.candidates[0].content.parts).toEqual([{ text: "Two files." }]);
  });

  it("runs the demo's file rule with Gemini CLI's write_file", async () => {
    const response = await call("generateContent", {
      contents: [context, { role: "user", parts: [{ text: "create a file" }] }],
      tools,
    });
    const parts = (await response.json()).candidates[0].content.parts;
    expect(parts[1].functionCall).toMatchObject({
      name: "write_file",
      args: { file_path: "/work/space/hello.txt" },
    });
  });

  it("refuses an unknown method and a body without contents with Google's error shape", async () => {
    expect((await call("embedContent", { contents: [ask] })).status).toBe(404);
    const bad = await call("generateContent", {});
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 400, status: "INVALID_ARGUMENT" } });
  });
});
