import type { ScriptInput } from "@agent-runtime/mock-model";

/** The prompt on which the mock model's agent leaves `ODD_ENTRY_NAMES` in its workspace. */
export const ODD_ENTRIES_PROMPT = "Make odd entries";

/**
 * What the agent leaves in its workspace: every kind of entry a file API may
 * trip on (symlinks to a name longer than NAME_MAX, to a deep path, to
 * itself, out of the workspace and to a socket; a FIFO; a socket; folders),
 * then `done.txt`.
 */
export const ODD_ENTRY_NAMES = [
  "long-link",
  "deep-link",
  "loop",
  "outside-link",
  "sock-link",
  "fifo",
  "sock",
  "dir",
  "dir/sub",
  "file.txt",
  "done.txt",
] as const;

const MAKE_ODD_ENTRIES = [
  `ln -s ${"a".repeat(300)} long-link`,
  `ln -s ${Array.from({ length: 16 }, () => "b".repeat(250)).join("/")} deep-link`,
  "ln -s loop loop",
  "ln -s /etc/passwd outside-link",
  "ln -s sock sock-link",
  "mkfifo fifo",
  "mkdir -p dir/sub",
  "echo x > file.txt",
  `node -e "require('node:net').createServer().listen('sock', () => process.exit(0))"`,
  "echo done > done.txt",
].join(" && ");

/** A mock model script with the rule that makes the odd entries. */
export const oddEntriesScript: ScriptInput = {
  rules: [
    {
      name: "odd entries",
      match: { prompt: ODD_ENTRIES_PROMPT },
      replies: [{ tool: "Bash", input: { command: MAKE_ODD_ENTRIES, description: "Odd entries" } }, "Made."],
    },
  ],
};
