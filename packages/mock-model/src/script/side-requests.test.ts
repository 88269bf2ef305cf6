import { describe, expect, it } from "vitest";
import { describeConversation, type Turn } from "./conversation.js";
import { parseScript } from "./parse-script.js";
import { createResponder } from "./responder.js";

const system = (text: string): Turn => ({ role: "system", text, toolResults: [] });
const user = (text: string): Turn => ({ role: "user", text, toolResults: [] });

/** The opening of OpenCode 1.18's title agent prompt, sent as a system message over the OpenAI API. */
const OPENCODE_TITLE_PROMPT =
  "You are a title generator. You output ONLY a thread title. Nothing else.\n\n<task>\nGenerate a brief title …";

const answer = createResponder(
  parseScript([
    { name: "notes", match: { prompt: "create notes" }, replies: [{ tool: "write", input: {} }] },
  ]),
  { demo: false },
);

const request = (turns: Turn[], tools: string[]) =>
  describeConversation({ model: "mock", systemPrompt: "", tools, turns, maxTokens: 32000, inputChars: 400 });

describe("OpenCode side requests", () => {
  it("answers OpenCode's title request with a one-line title, leaving the script to the conversation", () => {
    const title = answer(
      request(
        [
          system(OPENCODE_TITLE_PROMPT),
          user("Generate a title for this conversation:\n"),
          user("create notes please"),
        ],
        [],
      ),
    );
    expect(title).toMatchObject({ source: "side", matched: "title" });
    expect(title.response.blocks).toEqual([{ type: "text", text: "Create notes please" }]);

    const turn = answer(
      request(
        [system("You are opencode, an interactive CLI tool."), user("create notes please")],
        ["bash", "write"],
      ),
    );
    expect(turn).toMatchObject({ source: "script", matched: "notes" });
  });

  it("leaves plain clients' tool-less title requests to the script", () => {
    const plain = answer(
      request([system("Suggest a title for the user's notes."), user("create notes")], []),
    );
    expect(plain).toMatchObject({ source: "script", matched: "notes" });
  });
});
