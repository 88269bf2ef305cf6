import { type Rule, type RuleInput, ruleSchema } from "./schema.js";

/** The prompt the demo hands to its subagent; the subagent's own requests are matched on it. */
const SUBAGENT_PROMPT = "Demo subagent task: list the files in the working directory and report back.";

/**
 * Codex offers no Write or Bash tool: it runs shell commands through
 * `exec_command` (`{cmd, workdir}`). Its demo rules come first and match only
 * requests that offer that tool.
 */
const CODEX_DEMO_RULES: RuleInput[] = [
  {
    name: "demo: create a file (codex)",
    match: {
      toolOffered: "exec_command",
      prompt: { regex: "\\b(create|write|make)\\b[\\s\\S]*\\bfile\\b", flags: "i" },
    },
    replies: [
      [
        "Sure, I'll create `hello.txt` in the working directory.",
        {
          tool: "exec_command",
          input: {
            cmd: "printf 'Hello from the Agent Runtime demo model!\\n' > hello.txt",
            workdir: "{{cwd}}",
          },
        },
      ],
      "I created `hello.txt`. (This answer is scripted: you are talking to the demo model.)",
    ],
  },
  {
    name: "demo: run a command (codex)",
    match: {
      toolOffered: "exec_command",
      prompt: { regex: "\\b(run|execute)\\b[\\s\\S]*\\bcommand\\b", flags: "i" },
    },
    replies: [
      [
        "Sure, I'll run a command.",
        {
          tool: "exec_command",
          input: { cmd: "echo 'Hello from the demo model' && uname -a", workdir: "{{cwd}}" },
        },
      ],
      "The command ran; its output is above. (This answer is scripted: you are talking to the demo model.)",
    ],
  },
];

/** Gemini CLI's tools are `write_file` and `run_shell_command`; its demo rules match requests that offer them. */
const GEMINI_DEMO_RULES: RuleInput[] = [
  {
    name: "demo: create a file (gemini)",
    match: {
      toolOffered: "write_file",
      prompt: { regex: "\\b(create|write|make)\\b[\\s\\S]*\\bfile\\b", flags: "i" },
    },
    replies: [
      [
        "Sure, I'll create `hello.txt` in the working directory.",
        {
          tool: "write_file",
          input: { file_path: "{{cwd}}/hello.txt", content: "Hello from the Agent Runtime demo model!\n" },
        },
      ],
      "I created `hello.txt`. (This answer is scripted: you are talking to the demo model.)",
    ],
  },
  {
    name: "demo: run a command (gemini)",
    match: {
      toolOffered: "run_shell_command",
      prompt: { regex: "\\b(run|execute)\\b[\\s\\S]*\\bcommand\\b", flags: "i" },
    },
    replies: [
      [
        "Sure, I'll run a command.",
        {
          tool: "run_shell_command",
          input: {
            command: "echo 'Hello from the demo model' && uname -a",
            description: "Print a greeting and system information",
          },
        },
      ],
      "The command ran; its output is above. (This answer is scripted: you are talking to the demo model.)",
    ],
  },
];

const DEMO_RULES: RuleInput[] = [
  ...CODEX_DEMO_RULES,
  ...GEMINI_DEMO_RULES,
  {
    name: "demo: subagent task",
    match: { prompt: "Demo subagent task" },
    replies: [
      [
        "I'm the subagent. Listing the working directory.",
        { tool: "Bash", input: { command: "ls -la", description: "List files in the working directory" } },
      ],
      "Subagent report: I listed the working directory (see the Bash output above).",
    ],
  },
  {
    name: "demo: think",
    match: { prompt: { regex: "\\bthink\\b", flags: "i" } },
    replies: [
      [
        {
          thinking:
            "The user asked me to think. I am the demo model, so this thinking block is scripted: it shows how reasoning streams before the answer.",
        },
        "Done thinking! That grey block above was a scripted thinking block from the demo model.",
      ],
    ],
  },
  {
    name: "demo: create a file",
    match: { prompt: { regex: "\\b(create|write|make)\\b[\\s\\S]*\\bfile\\b", flags: "i" } },
    replies: [
      [
        "Sure, I'll create `hello.txt` in the working directory.",
        {
          tool: "Write",
          input: {
            file_path: "{{cwd}}/hello.txt",
            content: "Hello from the Agent Runtime demo model!\n",
          },
        },
      ],
      "I created `hello.txt`. (This answer is scripted: you are talking to the demo model.)",
    ],
  },
  {
    name: "demo: run a command",
    match: { prompt: { regex: "\\b(run|execute)\\b[\\s\\S]*\\bcommand\\b", flags: "i" } },
    replies: [
      [
        "Sure, I'll run a command.",
        {
          tool: "Bash",
          input: {
            command: "echo 'Hello from the demo model' && uname -a",
            description: "Print a greeting and system information",
          },
        },
      ],
      "The command ran; its output is above. (This answer is scripted: you are talking to the demo model.)",
    ],
  },
  {
    name: "demo: use a subagent",
    match: { prompt: { regex: "sub-?agent", flags: "i" } },
    replies: [
      [
        "I'll hand this to a subagent.",
        {
          tool: "Task",
          input: {
            description: "Demo subagent",
            prompt: SUBAGENT_PROMPT,
            subagent_type: "general-purpose",
            run_in_background: false,
          },
        },
      ],
      "The subagent finished and reported back. (This answer is scripted: you are talking to the demo model.)",
    ],
  },
  {
    name: "demo: introduction",
    reply: [
      "Hi! I'm the **demo model** of Agent Runtime: a scripted stand-in, not a real AI, used because no API key is configured. ",
      "Set `ANTHROPIC_API_KEY` to talk to Claude.\n\nTry one of these:\n",
      "- *create a file* (uses the Write tool)\n- *run a command* (uses Bash)\n",
      "- *use a subagent* (uses the Task tool)\n- *think about it* (shows a thinking block)",
    ].join(""),
  },
];

/** Built-in rules of demo mode, tried after the script's own rules. The last one answers every request. */
export const demoRules: readonly Rule[] = DEMO_RULES.map((rule) => ruleSchema.parse(rule));
