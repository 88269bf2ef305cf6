import type { RuleInput } from "@agent-runtime/mock-model";
import type { AgentProfileInput, Block, SessionEvent } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restClient } from "../support/rest.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/**
 * Every profile feature, used by a running agent: the real Claude Code,
 * OpenCode, Codex and Gemini CLI against the mock model, one server per
 * agent, one session per row, the rows' sessions in parallel. Every row runs
 * on every agent: where an agent lacks what a row needs (its declared
 * capabilities say so), the row checks that declaration at
 * `GET /agent-architectures` and the documented fallback instead.
 *
 * A row is a profile fragment, the mock model's rules for it (in the agent's
 * tool names) and what must hold once its turn is over. Rule names start
 * with the row's name and are unique across rows, so `requests` finds a
 * row's model requests; each row's prompts carry a marker of their own, so
 * no row's rule answers another row. The full tool-restriction suite (MCP
 * tools, permission policies, command turns) is profile-tools.test.ts.
 */

/** What a row may need that an agent can lack (`ArchitectureCapabilities`). */
type Capability = "skills" | "commands" | "subagents" | "toolRestriction";

interface ArchitectureCase {
  readonly architecture: "claude-agent-sdk" | "opencode" | "codex" | "gemini";
  /** What it lacks, as its capabilities declare (checked by the rows that need it). */
  readonly lacks: readonly Capability[];
  /** The model's names of the search and shell tools (the blocks' are `grep` and `bash`). */
  readonly model: { readonly grep: string; readonly bash: string };
  /**
   * Whether a file tool's output (read, search) is in its `tool_result`
   * block. Gemini CLI reports none over ACP; the rows read what the model
   * got instead (its `functionResponse` parts).
   */
  readonly fileToolOutputInBlocks: boolean;
  /** A file read with the agent's file tool, and the name of its block. */
  readonly readFile: {
    readonly step: (path: string) => { tool: string; input: Record<string, unknown> };
    readonly block: string;
  };
  /** The name of the skill tool's block. */
  readonly skillBlock: string;
  /** A shell command and a file read as the model calls them (the block names are `bash` and `read`). */
  readonly shellStep: (
    command: string,
    description: string,
  ) => { tool: string; input: Record<string, unknown> };
  readonly readStep: (path: string) => { tool: string; input: Record<string, unknown> };
  /**
   * Sessions run at once. Starting an agent is CPU-bound, and more at once on
   * two cores only makes each slower: OpenCode's server takes seconds to start
   * and the runner gives it 30.
   */
  readonly parallel: number;
  /** Tool names and the argument names that differ between the agents. */
  readonly bash: string;
  readonly read: string;
  readonly readPath: string;
  readonly grep: string;
  readonly skill: string;
  readonly skillName: string;
  readonly task: string;
  /** Where the agent's skills live, relative to the workspace. */
  readonly skillsDir: string;
}

const cases: ArchitectureCase[] = [
  {
    architecture: "claude-agent-sdk",
    fileToolOutputInBlocks: true,
    lacks: [],
    model: { grep: "Grep", bash: "Bash" },
    readFile: { step: (path) => ({ tool: "Read", input: { file_path: path } }), block: "Read" },
    skillBlock: "Skill",
    parallel: 3,
    shellStep: (command, description) => ({ tool: "Bash", input: { command, description } }),
    readStep: (path) => ({ tool: "Read", input: { file_path: path } }),
    bash: "Bash",
    read: "Read",
    readPath: "file_path",
    grep: "Grep",
    skill: "Skill",
    skillName: "skill",
    task: "Agent",
    skillsDir: ".claude/skills",
  },
  {
    architecture: "opencode",
    fileToolOutputInBlocks: true,
    lacks: [],
    model: { grep: "grep", bash: "bash" },
    readFile: { step: (path) => ({ tool: "read", input: { filePath: path } }), block: "read" },
    skillBlock: "skill",
    parallel: 2,
    shellStep: (command, description) => ({ tool: "bash", input: { command, description } }),
    readStep: (path) => ({ tool: "read", input: { filePath: path } }),
    bash: "bash",
    read: "read",
    readPath: "filePath",
    grep: "grep",
    skill: "skill",
    skillName: "name",
    task: "task",
    skillsDir: ".opencode/skills",
  },
  {
    architecture: "codex",
    fileToolOutputInBlocks: true,
    lacks: ["skills", "commands", "subagents", "toolRestriction"],
    model: { grep: "exec_command", bash: "exec_command" },
    readFile: {
      step: (path) => ({ tool: "exec_command", input: { cmd: `cat ${path}`, workdir: "{{cwd}}" } }),
      block: "Read",
    },
    skillBlock: "",
    parallel: 2,
    // Codex runs everything through exec_command; a command that reads a file is reported as a read.
    shellStep: (command) => ({ tool: "exec_command", input: { cmd: command, workdir: "{{cwd}}" } }),
    readStep: (path) => ({ tool: "exec_command", input: { cmd: `cat ${path}`, workdir: "{{cwd}}" } }),
    bash: "Bash",
    read: "Read",
    readPath: "",
    grep: "",
    skill: "",
    skillName: "",
    task: "",
    skillsDir: "",
  },
  {
    architecture: "gemini",
    fileToolOutputInBlocks: false,
    lacks: ["commands", "subagents"],
    model: { grep: "grep_search", bash: "run_shell_command" },
    readFile: { step: (path) => ({ tool: "read_file", input: { file_path: path } }), block: "Read" },
    // Gemini CLI reports its skill tool's calls with kind `other`.
    skillBlock: "Tool",
    parallel: 2,
    shellStep: (command, description) => ({ tool: "run_shell_command", input: { command, description } }),
    // Gemini CLI reports no output of read_file over ACP: this row reads through its shell.
    readStep: (path) => ({
      tool: "run_shell_command",
      input: { command: `cat ${path}`, description: "Read" },
    }),
    bash: "Bash",
    read: "Bash",
    readPath: "",
    grep: "Grep",
    skill: "activate_skill",
    skillName: "name",
    task: "",
    skillsDir: ".gemini/skills",
  },
];

type ToolResult = Extract<Block, { type: "tool_result" }>;

/** What a row's check gets: its session, after its turn. */
interface ScenarioRun {
  readonly c: ArchitectureCase;
  readonly server: TestServer;
  readonly sessionId: string;
  readonly events: readonly SessionEvent[];
  /** Completed blocks, the subagents' included. */
  readonly blocks: readonly Block[];
  /** The mock model requests a rule answered. */
  requests(rule: string): TestServer["mock"]["requests"];
  /** The result of the parent agent's first call of `toolName`. */
  resultOf(toolName: string): ToolResult | undefined;
  /** A workspace file through the files API: its status and text. */
  file(path: string): Promise<{ status: number; text: string }>;
}

/** What a row does on an agent that lacks what it needs: the documented fallback. */
interface Fallback {
  readonly rules: (c: ArchitectureCase) => RuleInput[];
  readonly check: (run: ScenarioRun) => Promise<void> | void;
}

interface Scenario {
  /** The test's name; also the profile id and the prefix of its rules' names. */
  readonly name: string;
  /** What an agent must be able to do for this row; one that cannot runs `fallback`. */
  readonly needs?: Capability;
  readonly fallback?: Fallback;
  /** The profile fragment under test (`id` and `name` are added). */
  readonly profile: Omit<AgentProfileInput, "id" | "name">;
  /** What the user sends. */
  readonly message: string;
  /** The mock model's rules for this row; earlier rules win. */
  readonly rules: (c: ArchitectureCase) => RuleInput[];
  readonly check: (run: ScenarioRun) => Promise<void> | void;
}

/** The content of a tool result that is not an error; fails showing the content otherwise. */
function succeeded(result: ToolResult | undefined): string {
  expect(result, "the tool was not called").toBeDefined();
  expect(result?.isError ? `error: ${result.content}` : "ok").toBe("ok");
  return result?.content ?? "";
}

/** The capabilities the server declares for the run's architecture. */
async function capabilitiesOf(run: ScenarioRun): Promise<Record<string, unknown>> {
  const response = await fetch(`${run.server.url}/agent-architectures`);
  const { architectures } = (await response.json()) as {
    architectures: { id: string; capabilities: Record<string, unknown> }[];
  };
  return architectures.find((a) => a.id === run.c.architecture)?.capabilities ?? {};
}

/** The Gemini API `functionResponse` parts of `tool` in `requests`, as JSON. */
function functionResponses(requests: TestServer["mock"]["requests"], tool: string): string {
  const parts = requests.flatMap((request) =>
    (request.messages as { parts?: { functionResponse?: { name?: string } }[] }[]).flatMap(
      (message) => message.parts ?? [],
    ),
  );
  return JSON.stringify(parts.filter((part) => part.functionResponse?.name === tool));
}

/** Every text the model was sent for a rule (system prompt, messages, offered tools). */
function sentTo(run: ScenarioRun, rule: string): string {
  return JSON.stringify(run.requests(rule).map((r) => [r.system, r.messages, r.tools]));
}

const SKILL_TEXT = "SKILL-SUPPORTING-TEXT: the scenario skill's reference table";
const SUBAGENT_PROMPT = "You are the scenario helper. SUBAGENT-SYSTEM-MARKER";
const SUBAGENT_ANSWER = "SUBAGENT-ANSWER: forty-two";
const ENV_VALUE = "env value from the profile";
const DEFAULT_TEXT = "DEFAULT-FILE-TEXT: seeded by the profile";

const scenarios: Scenario[] = [
  {
    name: "skill",
    needs: "skills",
    // Not given skills: the profile still runs (its listed tools without the skill tool), and the
    // skill is neither written into the workspace nor shown to the model.
    fallback: {
      rules: () => [{ name: "skill", match: { prompt: "SCENARIO-SKILL" }, reply: "No skills here." }],
      async check(run) {
        expect((await capabilitiesOf(run)).skills).toBe(false);
        expect(run.requests("skill").length).toBeGreaterThan(0);
        expect(sentTo(run, "skill")).not.toContain("Looks things up in the scenario reference table");
        const index = (await (await fetch(`${run.server.url}/sessions/${run.sessionId}/files`)).json()) as {
          files: { path: string }[];
        };
        expect(index.files.filter((f) => f.path.includes("scenario-skill"))).toEqual([]);
      },
    },
    profile: {
      // Listing tools keeps the skill tool, which the profile's skills need.
      tools: ["Read"],
      skills: [
        {
          name: "scenario-skill",
          description: "Looks things up in the scenario reference table",
          content: "Read reference.md in this skill's folder.",
          files: [{ path: "reference.md", content: `${SKILL_TEXT}\n` }],
        },
      ],
    },
    message: "SCENARIO-SKILL: use the scenario skill",
    rules: (c) => [
      {
        name: "skill",
        match: { prompt: "SCENARIO-SKILL" },
        replies: [
          { tool: c.skill, input: { [c.skillName]: "scenario-skill" } },
          c.readFile.step(`{{cwd}}/${c.skillsDir}/scenario-skill/reference.md`),
          "Skill used.",
        ],
      },
    ],
    check({ c, requests, resultOf }) {
      expect(succeeded(resultOf(c.skillBlock))).toContain("scenario-skill");
      const read = succeeded(resultOf(c.readFile.block));
      if (c.fileToolOutputInBlocks) expect(read).toContain(SKILL_TEXT);
      else expect(functionResponses(requests("skill"), c.readFile.step("").tool)).toContain(SKILL_TEXT);
    },
  },
  {
    name: "command",
    needs: "commands",
    // Not given commands: the message reaches the agent as written, unexpanded.
    fallback: {
      rules: () => [{ name: "command", match: { prompt: "/explain x" }, reply: "Taken as written." }],
      check(run) {
        expect(run.requests("command").length).toBeGreaterThan(0);
        expect(sentTo(run, "command")).not.toContain("COMMAND-EXPANDED");
        const texts = run.blocks.flatMap((b) => (b.type === "assistant_text" ? [b.content] : []));
        expect(texts.join("")).toContain("Taken as written.");
        return capabilitiesOf(run).then((capabilities) => expect(capabilities.commands).toBe(false));
      },
    },
    profile: { commands: [{ name: "explain", prompt: "COMMAND-EXPANDED: explain $ARGUMENTS in detail" }] },
    message: "/explain x",
    rules: () => [
      { name: "command", match: { prompt: "COMMAND-EXPANDED: explain x in detail" }, reply: "Explained." },
    ],
    check({ requests, blocks }) {
      expect(requests("command").length).toBeGreaterThan(0);
      const texts = blocks.flatMap((b) => (b.type === "assistant_text" ? [b.content] : []));
      expect(texts).toContain("Explained.");
    },
  },
  {
    name: "subagent",
    needs: "subagents",
    // No subagents: the profile still runs (the subagent tool is left out with them), and the
    // subagent is neither offered nor started.
    fallback: {
      rules: () => [{ name: "subagent-parent", match: { prompt: "SCENARIO-SUBAGENT" }, reply: "No helper." }],
      async check(run) {
        expect((await capabilitiesOf(run)).subagents).toBe(false);
        expect(run.requests("subagent-parent").length).toBeGreaterThan(0);
        expect(sentTo(run, "subagent-parent")).not.toContain("scenario-helper");
        expect(run.events.filter((e) => e.type === "session:subagent:discovered")).toEqual([]);
      },
    },
    profile: {
      // Listing tools keeps the subagent tool, which the profile's subagents need.
      tools: ["Read"],
      subagents: [
        { name: "scenario-helper", description: "Answers scenario questions", prompt: SUBAGENT_PROMPT },
      ],
    },
    message: "SCENARIO-SUBAGENT: ask the helper",
    rules: (c) => [
      {
        name: "subagent-inner",
        match: { prompt: "SUBAGENT-TASK", system: "SUBAGENT-SYSTEM-MARKER" },
        reply: SUBAGENT_ANSWER,
      },
      {
        name: "subagent-parent",
        match: { prompt: "SCENARIO-SUBAGENT" },
        replies: [
          {
            tool: c.task,
            input: {
              description: "Ask the helper",
              prompt: "SUBAGENT-TASK: what is six times seven?",
              subagent_type: "scenario-helper",
            },
          },
          "The helper answered.",
        ],
      },
    ],
    check({ c, requests, resultOf }) {
      const inner = requests("subagent-inner");
      expect(inner.length).toBeGreaterThan(0);
      for (const request of inner) expect(request.system).toContain(SUBAGENT_PROMPT);
      expect(succeeded(resultOf(c.task))).toContain(SUBAGENT_ANSWER);
    },
  },
  {
    name: "env",
    profile: { env: { SCENARIO_ENV: ENV_VALUE } },
    message: "SCENARIO-ENV: write the variable",
    rules: (c) => [
      {
        name: "env",
        match: { prompt: "SCENARIO-ENV" },
        replies: [c.shellStep('echo "$SCENARIO_ENV" > env.txt', "Write the variable"), "Written."],
      },
    ],
    async check({ c, resultOf, file }) {
      succeeded(resultOf(c.bash));
      expect(await file("env.txt")).toEqual({ status: 200, text: `${ENV_VALUE}\n` });
    },
  },
  {
    name: "default-files",
    profile: { defaultFiles: [{ path: "notes/default.txt", content: `${DEFAULT_TEXT}\n` }] },
    message: "SCENARIO-DEFAULT-FILES: read the seeded file",
    rules: (c) => [
      {
        name: "default-files",
        match: { prompt: "SCENARIO-DEFAULT-FILES" },
        replies: [c.readStep("{{cwd}}/notes/default.txt"), "Read."],
      },
    ],
    async check({ c, resultOf, file }) {
      expect(succeeded(resultOf(c.read))).toContain(DEFAULT_TEXT);
      expect(await file("notes/default.txt")).toEqual({ status: 200, text: `${DEFAULT_TEXT}\n` });
    },
  },
  {
    name: "tool-restriction",
    needs: "toolRestriction",
    // Not narrowed: the listed tools have a counterpart (Codex's shell reads and searches), and the
    // agent offers its own set besides, as its capabilities declare.
    fallback: {
      rules: () => [{ name: "tool-restriction", match: { prompt: "SCENARIO-FORBIDDEN" }, reply: "Offered." }],
      async check(run) {
        expect((await capabilitiesOf(run)).toolRestriction).toBe(false);
        const offered = run.requests("tool-restriction");
        expect(offered.length).toBeGreaterThan(0);
        for (const request of offered) {
          expect(request.tools).toContain(run.c.model.grep);
          expect(request.tools).toContain("apply_patch");
        }
      },
    },
    profile: {
      tools: ["Read", "Glob", "Grep"],
      defaultFiles: [{ path: "haystack.txt", content: "RESTRICTED-NEEDLE\n" }],
    },
    message: "SCENARIO-FORBIDDEN: search, then touch a marker",
    rules: (c) => [
      {
        name: "tool-restriction",
        match: { prompt: "SCENARIO-FORBIDDEN" },
        replies: [
          { tool: c.model.grep, input: { pattern: "RESTRICTED-NEEDLE" } },
          {
            tool: c.model.bash,
            input: { command: "touch forbidden.marker", description: "Create a marker" },
          },
          "Finished.",
        ],
      },
    ],
    async check({ c, requests, resultOf, file }) {
      const offered = requests("tool-restriction");
      expect(offered.length).toBeGreaterThan(0);
      for (const request of offered) expect(request.tools).not.toContain(c.model.bash);
      // A listed tool works; the unlisted one is refused.
      const found = succeeded(resultOf(c.grep));
      if (c.fileToolOutputInBlocks) expect(found).toContain("haystack.txt");
      else expect(functionResponses(offered, c.model.grep)).toContain("RESTRICTED-NEEDLE");
      if (c.fileToolOutputInBlocks) expect(resultOf(c.bash)?.isError).toBe(true);
      else expect(functionResponses(offered, c.model.bash)).toMatch(/not found/i);
      expect((await file("forbidden.marker")).status).toBe(404);
    },
  },
];

/** The row as `c` runs it: the fallback where `c` lacks what the row needs. */
function rowOn(c: ArchitectureCase, scenario: Scenario): Scenario {
  if (!scenario.needs || !c.lacks.includes(scenario.needs)) return scenario;
  const { fallback } = scenario;
  if (!fallback) throw new Error(`row ${scenario.name} has no fallback for ${c.architecture}`);
  return { ...scenario, rules: fallback.rules, check: fallback.check };
}

describe.each(cases)("$architecture: a running agent uses its profile", (c) => {
  const rows = scenarios.map((s) => rowOn(c, s));
  let server: TestServer;
  const recorders: SocketRecorder[] = [];

  beforeAll(async () => {
    server = await startTestServer({
      script: { rules: rows.flatMap((s) => s.rules(c)) },
      agents: scenarios.map((s) => ({ id: s.name, name: s.name, ...s.profile })),
    });
  });
  afterAll(async () => {
    for (const recorder of recorders) recorder.close();
    await server?.dispose();
  });

  const slots = new Slots(c.parallel);

  /** Creates a session of the row's profile, sends its message and waits for the turn's end. */
  async function run(scenario: Scenario): Promise<ScenarioRun> {
    await slots.acquire();
    try {
      return await runTurn(scenario);
    } finally {
      slots.release();
    }
  }

  async function runTurn(scenario: Scenario): Promise<ScenarioRun> {
    const rest = restClient(server.url);
    const sessionId = await rest.createSession({
      agentProfileRef: scenario.name,
      architecture: c.architecture,
    });
    const recorder = new SocketRecorder(server.url);
    recorders.push(recorder);
    await recorder.join(sessionId, 0);
    expect((await rest.send(sessionId, scenario.message)).status).toBe(202);
    await recorder.waitForTurns(1);
    const events = recorder.events;
    const blocks = events.flatMap((e) => (e.type === "session:block:complete" ? [e.block] : []));
    expect(blocks.filter((b) => b.type === "error")).toEqual([]);
    return {
      c,
      server,
      sessionId,
      events,
      blocks,
      requests: (rule) => server.mock.requests.filter((r) => r.matched === rule),
      resultOf(toolName) {
        const use = blocks.find(
          (b) => b.type === "tool_use" && b.toolName === toolName && b.subagentId === undefined,
        );
        return blocks.find(
          (b): b is ToolResult =>
            b.type === "tool_result" && use?.type === "tool_use" && b.toolUseId === use.toolUseId,
        );
      },
      async file(path) {
        const response = await fetch(`${server.url}/sessions/${sessionId}/files/${path}`);
        return { status: response.status, text: await response.text() };
      },
    };
  }

  it.concurrent.each(rows)("$name", async (scenario) => {
    await scenario.check(await run(scenario));
  });
});

/** A counting semaphore: at most `size` holders at a time, the waiting served in order. */
class Slots {
  private free: number;
  private readonly waiting: Array<() => void> = [];

  constructor(size: number) {
    this.free = size;
  }

  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}
