import { readdirSync, readFileSync } from "node:fs";
import { join, posix } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type AgentProfile,
  type AgentProfileInput,
  agentProfileSchema,
  blockSchema,
  runnerConfigSchema,
} from "@agent-runtime/protocol";
import { describe, expect, it } from "vitest";
import type {
  AgentArchitecture,
  AgentEvent,
  MaterializeInput,
  RunnerInput,
} from "../agents/agent-architecture.js";
import { RuntimeError } from "../errors.js";
import type { SandboxFile } from "../sandboxes/sandbox-provider.js";

/** Recorded native output of one agent run: the messages in the order the runner relayed them. */
export interface ArchitectureFixture {
  readonly name: string;
  readonly messages: readonly unknown[];
}

export interface AgentArchitectureContractOptions {
  /** Names the `describe` block. @default the architecture's id */
  name?: string;
  /** Called for every test; the architecture must be a plain object (no I/O). */
  createArchitecture: () => AgentArchitecture;
  /** Recorded real output of the agent (see `readJsonlFixtures`); at least one. */
  fixtures: readonly ArchitectureFixture[];
}

/**
 * Every `*.jsonl` file of `dir` as a fixture named after the file, one JSON
 * message per non-empty line. Throws when a line is not JSON.
 */
export function readJsonlFixtures(dir: string | URL): ArchitectureFixture[] {
  const path = typeof dir === "string" ? dir : fileURLToPath(dir);
  return readdirSync(path)
    .filter((file) => file.endsWith(".jsonl"))
    .sort()
    .map((file) => ({
      name: file.slice(0, -".jsonl".length),
      messages: readFileSync(join(path, file), "utf8")
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => JSON.parse(line) as unknown),
    }));
}

const WORKSPACE = "/workspace";
const HOME = "/home/agent";
const API_KEY = "sk-contract-key-7f3a9c";
const NOW = () => new Date("2026-01-01T00:00:00.000Z");
/** The longest file or folder name common file systems accept, in bytes. */
const NAME_MAX = 255;

/** Inputs that are not agent messages at all: each must yield an error block. */
const NOT_MESSAGES: readonly unknown[] = [
  null,
  undefined,
  42,
  "text",
  true,
  [],
  {},
  { type: 42 },
  { type: null },
];

/** Values a hostile sandbox may put where a parser expects something else. */
const CONFUSED_VALUES: readonly unknown[] = [null, 7, "x", [], {}, { type: "x" }];

/** Names and relative paths that must never become files outside workspace and home. */
const HOSTILE_NAMES: readonly string[] = [
  "..",
  ".",
  "../x",
  "../../../../etc/passwd",
  "a/../../x",
  "/etc/passwd",
  "/workspace/../etc/x",
  "a\0b",
  "a\\..\\..\\x",
  "a/b",
  "",
  "x".repeat(NAME_MAX + 1),
  `${"d/".repeat(100)}${"y".repeat(NAME_MAX + 1)}`,
];

const MINIMAL_PROFILE: AgentProfileInput = { id: "minimal", name: "Minimal" };

const FULL_PROFILE: AgentProfileInput = {
  id: "full",
  name: "Full",
  description: "Every field set",
  systemPrompt: "Be brief.",
  agentMDFile: "# Memory\n",
  tools: ["Read", "Write", "Edit", "Bash"],
  skills: [
    {
      name: "review",
      description: "Reviews code",
      content: "Review carefully.",
      files: [{ path: "templates/checklist.md", content: "- tests\n" }],
    },
  ],
  subagents: [
    { name: "helper", description: "Helps", prompt: "Help.", tools: ["Read"], model: "small-model" },
    { name: "planner", description: "Plans", prompt: "Plan." },
  ],
  commands: [
    { name: "ship", description: "Ships it", prompt: "Ship $ARGUMENTS" },
    { name: "plain", prompt: "Plain." },
  ],
  mcpServers: {
    local: { type: "stdio", command: "node", args: ["server.js"], env: { MODE: "test" } },
    remote: { type: "http", url: "https://mcp.example.com/mcp", headers: { "x-team": "a" } },
  },
  env: { FOO: "bar" },
  defaultFiles: [
    { path: "README.md", content: "# Project\n" },
    { path: "src/index.ts", content: "export {};\n" },
  ],
  model: "profile-model",
  permissions: { mode: "ask", tools: ["Bash"] },
};

function runnerInput(profile: AgentProfileInput, overrides: Partial<RunnerInput> = {}): RunnerInput {
  return {
    profile: agentProfileSchema.parse(profile),
    sessionOptions: {},
    workspaceDir: WORKSPACE,
    homeDir: HOME,
    endpoint: { baseUrl: "http://127.0.0.1:4100", apiKey: API_KEY },
    permissions: { mode: "bypass" },
    ...overrides,
  };
}

/** True when `path` is an absolute, normalised path strictly below workspace or home. */
function confined(path: string): boolean {
  return (
    !path.includes("\0") &&
    posix.isAbsolute(path) &&
    posix.normalize(path) === path &&
    [WORKSPACE, HOME].some((root) => path.startsWith(`${root}/`)) &&
    path.split("/").every((segment) => Buffer.byteLength(segment) <= NAME_MAX)
  );
}

function contentText(file: SandboxFile): string {
  return typeof file.content === "string" ? file.content : Buffer.from(file.content).toString("utf8");
}

/**
 * What a parser emitted is one well-formed block stream: every block starts
 * once and completes once, after its start; deltas and updates target open
 * blocks only; every block is schema-valid; nothing is left open.
 */
function expectWellFormed(events: readonly AgentEvent[], label: string): void {
  const open = new Set<string>();
  const done = new Set<string>();
  for (const [index, event] of events.entries()) {
    const at = `${label}, event ${index} (${event.kind})`;
    if (event.kind === "block_start" || event.kind === "block_complete") {
      const parsed = blockSchema.safeParse(event.block);
      expect(parsed.success, `${at}: invalid block ${JSON.stringify(event.block).slice(0, 300)}`).toBe(true);
    }
    if (event.kind === "block_start") {
      expect(
        open.has(event.block.id) || done.has(event.block.id),
        `${at}: ${event.block.id} started twice`,
      ).toBe(false);
      open.add(event.block.id);
    } else if (event.kind === "block_delta" || event.kind === "block_update") {
      expect(open.has(event.blockId), `${at}: ${event.blockId} is not open`).toBe(true);
    } else if (event.kind === "block_complete") {
      expect(open.has(event.block.id), `${at}: ${event.block.id} is not open`).toBe(true);
      open.delete(event.block.id);
      done.add(event.block.id);
    }
  }
  expect([...open], `${label}: blocks left open after flush`).toEqual([]);
}

/** Copies of `message` with one value, at most `depth` levels down, replaced by a confused one. */
function* confusedVariants(message: unknown, depth = 3): Generator<unknown> {
  if (depth === 0 || typeof message !== "object" || message === null) return;
  const entries = Array.isArray(message) ? [...message.entries()] : Object.entries(message);
  for (const [key, value] of entries) {
    const replace = (replacement: unknown) =>
      Array.isArray(message)
        ? message.map((item, index) => (index === key ? replacement : item))
        : { ...message, [key]: replacement };
    for (const confused of CONFUSED_VALUES) yield replace(confused);
    for (const nested of confusedVariants(value, depth - 1)) yield replace(nested);
  }
}

/** The outcome of materialising: the files, or the error it threw. */
function materializeOutcome(
  architecture: AgentArchitecture,
  profile: AgentProfile,
): { files: SandboxFile[] } | { error: unknown } {
  const input: MaterializeInput = { profile, sessionOptions: {}, workspaceDir: WORKSPACE, homeDir: HOME };
  try {
    return { files: architecture.materialize(input) };
  } catch (error) {
    return { error };
  }
}

/**
 * The behaviour every `AgentArchitecture` must have, as a vitest suite. Call
 * it at the top level of a test file with the agent's recorded output:
 *
 * ```ts
 * runAgentArchitectureContract({
 *   createArchitecture: () => createMyArchitecture(),
 *   fixtures: readJsonlFixtures(new URL("./__fixtures__/", import.meta.url)),
 * });
 * ```
 *
 * It checks that parsing recorded output, and hostile variants of it, never
 * throws and yields one well-formed block stream with stable ids; that
 * materialising a profile with hostile names is refused with a RuntimeError
 * or stays inside workspace and home; that runner configs validate against
 * the runner protocol; that the model key reaches the runner only through
 * its environment; and that transcripts live inside workspace or home.
 */
export function runAgentArchitectureContract(options: AgentArchitectureContractOptions): void {
  const architecture = options.createArchitecture;
  describe(`AgentArchitecture contract: ${options.name ?? architecture().id}`, () => {
    describe("parser", () => {
      it("has recorded fixtures to replay", () => {
        expect(options.fixtures.length).toBeGreaterThan(0);
        for (const fixture of options.fixtures)
          expect(fixture.messages.length, fixture.name).toBeGreaterThan(0);
      });

      for (const fixture of options.fixtures) {
        it(`replays ${fixture.name}: a well-formed block stream, the same again with a fresh parser`, () => {
          const replay = () => {
            const parser = architecture().createParser({ now: NOW });
            return [...fixture.messages.flatMap((message) => parser.parse(message)), ...parser.flush()];
          };
          const events = replay();
          expectWellFormed(events, fixture.name);
          expect(events.some((event) => event.kind === "block_start")).toBe(true);
          expect(replay()).toEqual(events);
        });

        it(`survives ${fixture.name} with values of the wrong type anywhere`, () => {
          const parser = architecture().createParser({ now: NOW });
          const events: AgentEvent[] = [];
          for (const message of fixture.messages) {
            for (const variant of confusedVariants(message)) {
              expect(() => events.push(...parser.parse(variant))).not.toThrow();
            }
            events.push(...parser.parse(message));
          }
          events.push(...parser.flush());
          expectWellFormed(events, `${fixture.name} (confused)`);
        });
      }

      it("answers input that is not an agent message with an error block, never a throw", () => {
        for (const message of NOT_MESSAGES) {
          const parser = architecture().createParser({ now: NOW });
          let events: AgentEvent[] = [];
          expect(() => {
            events = [...parser.parse(message), ...parser.flush()];
          }, JSON.stringify(message)).not.toThrow();
          expectWellFormed(events, JSON.stringify(message) ?? "undefined");
          const blocks = events.flatMap((event) => (event.kind === "block_complete" ? [event.block] : []));
          expect(
            blocks.map((block) => block.type),
            JSON.stringify(message),
          ).toContain("error");
        }
      });

      it("flush completes what is open and is idempotent", () => {
        const fixture = options.fixtures[0]!;
        const parser = architecture().createParser({ now: NOW });
        const events = fixture.messages
          .slice(0, Math.ceil(fixture.messages.length / 2))
          .flatMap((message) => parser.parse(message));
        events.push(...parser.flush());
        expectWellFormed(events, `${fixture.name} (cut in half)`);
        expect(parser.flush().filter((event) => event.kind.startsWith("block_"))).toEqual([]);
      });
    });

    describe("materialize", () => {
      it("writes a full profile's files inside workspace and home only", () => {
        const files = architecture().materialize(runnerInput(FULL_PROFILE));
        expect(files.length).toBeGreaterThan(0);
        for (const file of files) expect(confined(file.path), file.path).toBe(true);
      });

      const places: readonly [string, (name: string) => Partial<AgentProfile>][] = [
        ["a skill name", (name) => ({ skills: [{ name, description: "d", content: "c", files: [] }] })],
        [
          "a skill file path",
          (path) => ({
            skills: [{ name: "s", description: "d", content: "c", files: [{ path, content: "x" }] }],
          }),
        ],
        ["a subagent name", (name) => ({ subagents: [{ name, description: "d", prompt: "p" }] })],
        ["a command name", (name) => ({ commands: [{ name, prompt: "p" }] })],
        ["a default file path", (path) => ({ defaultFiles: [{ path, content: "x" }] })],
      ];
      for (const [place, profileWith] of places) {
        it(`refuses a hostile ${place} with a RuntimeError, or keeps its files inside`, () => {
          for (const hostile of HOSTILE_NAMES) {
            // Built without the schema, as a third-party profile source might hand it over.
            const profile = {
              ...agentProfileSchema.parse(MINIMAL_PROFILE),
              ...profileWith(hostile),
            } as AgentProfile;
            const outcome = materializeOutcome(architecture(), profile);
            const label = `${place} ${JSON.stringify(hostile.length > 40 ? `${hostile.slice(0, 40)}…` : hostile)}`;
            if ("error" in outcome) {
              expect(RuntimeError.is(outcome.error), `${label}: ${String(outcome.error)}`).toBe(true);
            } else {
              for (const file of outcome.files)
                expect(confined(file.path), `${label}: ${file.path}`).toBe(true);
            }
          }
        });
      }
    });

    describe("runner configuration", () => {
      const inputs: readonly [string, RunnerInput][] = [
        ["a minimal profile", runnerInput(MINIMAL_PROFILE, { endpoint: {} })],
        [
          "a full profile, resuming",
          runnerInput(FULL_PROFILE, {
            sessionOptions: { model: "session-model" },
            permissions: { mode: "ask", tools: ["Bash"] },
            resumeSessionId: "native-1",
          }),
        ],
      ];
      for (const [label, input] of inputs) {
        it(`validates against the runner protocol for ${label}`, () => {
          const config = runnerConfigSchema.parse(architecture().runnerConfig(input));
          expect(config.architecture).toBe(architecture().id);
          expect(config.workspaceDir).toBe(input.workspaceDir);
          expect(config.permissions).toEqual(input.permissions);
          if (input.resumeSessionId) expect(config.resumeSessionId).toBe(input.resumeSessionId);
          for (const [name, value] of Object.entries(architecture().runnerEnv(input))) {
            expect(typeof value, name).toBe("string");
          }
        });
      }

      it("passes the model key in the runner's environment only, never in files or the config", () => {
        for (const profile of [MINIMAL_PROFILE, FULL_PROFILE]) {
          const input = runnerInput(profile);
          expect(Object.values(architecture().runnerEnv(input))).toEqual(
            expect.arrayContaining([expect.stringContaining(API_KEY)]),
          );
          for (const file of architecture().materialize(input)) {
            expect(contentText(file), file.path).not.toContain(API_KEY);
            expect(file.path).not.toContain(API_KEY);
          }
          expect(JSON.stringify(architecture().runnerConfig(input))).not.toContain(API_KEY);
        }
        const credential = architecture().credentialHeader(API_KEY);
        expect(credential.header).toMatch(/^[a-z0-9-]+$/);
        expect(credential.value).toContain(API_KEY);
      });

      it("keeps the endpoint and key when the profile's environment names the same variables", () => {
        const input = runnerInput(MINIMAL_PROFILE);
        const env = architecture().runnerEnv(input);
        const hijacked = architecture().runnerEnv({
          ...input,
          profile: {
            ...input.profile,
            env: Object.fromEntries(Object.keys(env).map((name) => [name, "from-profile"])),
          },
        });
        for (const [name, value] of Object.entries(env)) {
          if (value.includes(API_KEY) || value === HOME || value.startsWith("http://127.0.0.1:4100")) {
            expect(hijacked[name], name).toBe(value);
          }
        }
      });
    });

    describe("transcript", () => {
      it("lies inside home or workspace, also for a hostile native session id", () => {
        const at = (nativeSessionId: string) =>
          architecture().transcriptPath({ homeDir: HOME, workspaceDir: WORKSPACE, nativeSessionId });
        for (const nativeSessionId of ["native-1", "ses_01HZXabc", "8f7ea1e5-db5a-4f61-8555-2609d0189cc1"]) {
          expect(confined(at(nativeSessionId)), at(nativeSessionId)).toBe(true);
        }
        // The id comes from the agent's own output, so from inside the sandbox.
        for (const nativeSessionId of HOSTILE_NAMES) {
          let path: string | undefined;
          try {
            path = at(nativeSessionId);
          } catch (error) {
            expect(RuntimeError.is(error), `${JSON.stringify(nativeSessionId)}: ${String(error)}`).toBe(true);
          }
          if (path !== undefined)
            expect(confined(path), `${JSON.stringify(nativeSessionId)} → ${path}`).toBe(true);
        }
      });
    });
  });
}
