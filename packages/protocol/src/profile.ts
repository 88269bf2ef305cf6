import { z } from "zod";
import { acpAgentCommandSchema } from "./agents/acp.js";
import { permissionPolicySchema } from "./session.js";

/**
 * A profile object is strict: an unknown field (a typo, another system's
 * name) fails validation, and its message names the field and the known ones.
 */
function strictObject<Shape extends z.ZodRawShape>(shape: Shape) {
  const known = Object.keys(shape).join(", ");
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === "unrecognized_keys"
        ? `unknown field ${issue.keys.map((key) => JSON.stringify(key)).join(", ")}; known fields: ${known}`
        : undefined,
  });
}

/**
 * A package as an installer takes it on its command line: no whitespace, and
 * never starting with `-` (which the installer would read as an option).
 */
const packageSpec = z
  .string()
  .min(1)
  .max(500)
  .regex(/^[^\s-][^\s]*$/, "a package spec: no whitespace, not starting with '-'");

/** A file with a path relative to its owner (workspace, skill folder, …) and UTF-8 content. */
export const fileEntrySchema = strictObject({
  path: z.string().min(1),
  content: z.string(),
});

export const skillSchema = strictObject({
  /** Folder name of the skill: `.claude/skills/<name>/`. */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "letters, digits, '.', '_' and '-' only"),
  description: z.string(),
  /** Body of SKILL.md (without front matter; the runtime writes it). */
  content: z.string(),
  /** Supporting files, paths relative to the skill folder. */
  files: z.array(fileEntrySchema).default([]),
});

export const subagentDefinitionSchema = strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "letters, digits, '.', '_' and '-' only"),
  description: z.string(),
  prompt: z.string(),
  tools: z.array(z.string()).optional(),
  model: z.string().optional(),
});

export const commandSchema = strictObject({
  /** Invoked as `/<name> args`. */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "letters, digits, '.', '_' and '-' only"),
  description: z.string().optional(),
  /** Prompt template; `$ARGUMENTS` is replaced by what follows the command. */
  prompt: z.string(),
});

/** An MCP server the agent starts inside the sandbox: `command args`. */
const stdioMcpServerSchema = strictObject({
  type: z.literal("stdio"),
  command: z.string(),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
});

/** An MCP server outside the sandbox, reached at `url` (its host is allowed through restricted egress). */
const remoteMcpServerSchema = strictObject({
  type: z.enum(["http", "sse"]),
  url: z.string().url(),
  headers: z.record(z.string(), z.string()).default({}),
});

/**
 * An MCP server's own project (a folder profile's `mcp/<name>/`), copied
 * into the profile's dependency layer, installed there once with
 * `install`, and started inside the sandbox as `command args` in its
 * folder, like a `stdio` server.
 */
const bundledMcpServerSchema = strictObject({
  type: z.literal("bundled"),
  /** The project's files, paths relative to its folder (a folder profile reads them from `mcp/<name>/`). */
  files: z.array(fileEntrySchema).max(2000).default([]),
  /**
   * Installs the project's dependencies, run in its folder when the layer
   * is built. Default by its files: `package.json` → `npm install
   * --omit=dev`; `requirements.txt` → pip into `.python/` from it;
   * `pyproject.toml` → pip installs the project into `.python/`; else none.
   * `[]`: none.
   */
  install: z.array(z.string()).optional(),
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
});

export const mcpServerSchema = z.discriminatedUnion("type", [
  stdioMcpServerSchema,
  remoteMcpServerSchema,
  bundledMcpServerSchema,
]);

/** What an agent is given: a `bundled` server becomes the `stdio` command that starts it in its layer folder. */
export const runnableMcpServerSchema = z.discriminatedUnion("type", [
  stdioMcpServerSchema,
  remoteMcpServerSchema,
]);

export const agentProfileSchema = strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "letters, digits, '.', '_' and '-' only"),
  name: z.string(),
  description: z.string().optional(),
  /** Appended to the agent's own system prompt. */
  systemPrompt: z.string().optional(),
  /** Memory file written as CLAUDE.md (Claude) or AGENTS.md (OpenCode) at the workspace root. */
  agentMDFile: z.string().optional(),
  /**
   * The only tools the agent is offered and may call (plus `Skill` when the
   * profile has skills, `Agent` when it has subagents), in either agent's
   * spelling (see `AGENT_TOOLS`); omitted means the agent's defaults.
   */
  tools: z.array(z.string()).optional(),
  skills: z.array(skillSchema).default([]),
  subagents: z.array(subagentDefinitionSchema).default([]),
  commands: z.array(commandSchema).default([]),
  /**
   * MCP servers by name: `stdio` ones run a command inside the sandbox,
   * `bundled` ones a project of the profile's installed with its
   * dependencies, `http`/`sse` ones are external.
   */
  mcpServers: z.record(z.string(), mcpServerSchema).default({}),
  /**
   * Packages installed once per distinct list into a read-only layer every
   * sandbox of the profile mounts (see docs/profiles/dependencies.md): npm
   * specs (`name`, `name@range`), importable by the agent's scripts from
   * anywhere; pip requirement specs, importable by `python3`.
   */
  dependencies: strictObject({
    npm: z.array(packageSpec).max(200).default([]),
    pip: z.array(packageSpec).max(200).default([]),
  }).default({ npm: [], pip: [] }),
  /** Environment variables for the agent process. */
  env: z.record(z.string(), z.string()).default({}),
  /**
   * Workspace paths not tracked: not indexed, stored or restored, and not
   * written or deleted through the files API; each covers itself and
   * everything below it (e.g. `dist`, `target`). Giving the list replaces the
   * default. @default [".git", "node_modules"]
   */
  untrackedPaths: z.array(z.string().min(1).max(4096)).max(100).optional(),
  /** Files written into the workspace when the sandbox is first created. */
  defaultFiles: z.array(fileEntrySchema).default([]),
  /** Default model for sessions of this profile. */
  model: z.string().optional(),
  /**
   * Extra endpoints (`host:port`) the agent may reach from a sandbox whose
   * egress is restricted (the model endpoint and external MCP servers are
   * always allowed), e.g. a package registry for its dependencies.
   */
  network: strictObject({ allow: z.array(z.string().min(3)).default([]) }).default({ allow: [] }),
  /** Default permission policy of its sessions. @default {mode: "bypass"} */
  permissions: strictObject(permissionPolicySchema.shape).optional(),
  /** The ACP agent command its sessions of the `acp` architecture run (a session may name its own). */
  acp: acpAgentCommandSchema.optional(),
});

export type FileEntry = z.infer<typeof fileEntrySchema>;
export type Skill = z.infer<typeof skillSchema>;
export type SubagentDefinition = z.infer<typeof subagentDefinitionSchema>;
export type Command = z.infer<typeof commandSchema>;
export type McpServer = z.infer<typeof mcpServerSchema>;
export type BundledMcpServer = z.infer<typeof bundledMcpServerSchema>;
export type RunnableMcpServer = z.infer<typeof runnableMcpServerSchema>;
export type AgentProfile = z.infer<typeof agentProfileSchema>;
/** What callers may pass: defaults not yet applied. */
export type AgentProfileInput = z.input<typeof agentProfileSchema>;

/** The short form used in listings. */
export const agentProfileSummarySchema = agentProfileSchema.pick({ id: true, name: true, description: true });
export type AgentProfileSummary = z.infer<typeof agentProfileSummarySchema>;
