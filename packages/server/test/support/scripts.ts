import type { RuleInput } from "@agent-runtime/mock-model";

/** Mock-model rules several end-to-end suites share (Claude Code's tool names). */

/** "Create notes.txt": one Write call, then a short answer. */
export const notesRule: RuleInput = {
  name: "notes",
  match: { prompt: "Create notes.txt" },
  replies: [
    { tool: "Write", input: { file_path: "{{cwd}}/notes.txt", content: "remember the milk\n" } },
    "Created notes.txt.",
  ],
};

/** "Tell me a long story": a paced stream of several hundred deltas, long enough to act on mid-stream. */
export const longStoryRule: RuleInput = {
  name: "long",
  match: { prompt: "Tell me a long story" },
  reply: {
    steps: [`Once upon a time ${"and then ".repeat(400)}the end.`],
    chunkDelayMs: 10,
    chunkSize: 4,
  },
};
