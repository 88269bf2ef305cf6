import { z } from "zod";
import { permissionPolicySchema } from "./session.js";

/** A file with a path relative to its owner (workspace, skill folder, …) and UTF-8 content. */
export const fileEntrySchema = z.object({
  path: z.string().min(1),
  content: z.string(),
});

export const skillSchema = z.object({
  /** Folder name of the skill: `.claude/skills/<name>/`. */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "letters, digits, '.', '_' and '-' only"),
  description: z.string(),
  /** Body of SKILL.md (without front matter; the runtime writes it). */
  content: z.string(),
  /** Supporting files, paths relative to the skill folder. */
  files: z.array(fileEntrySchema).default([]),
});

export const subagentDefinitionSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "letters, digits, '.', '_' and '-' only"),
  description: z.string(),
  prompt: z.string(),
  tools: z.array(z.string()).optional(),
  model: z.string().optional(),
});

export const commandSchema = z.object({
  /** Invoked as `/<name> args`. */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "letters, digits, '.', '_' and '-' only"),
  description: z.string().optional(),
  /** Prompt template; `$ARGUMENTS` is replaced by what follows the command. */
  prompt: z.string(),
});

export const mcpServerSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("stdio"),
    command: z.string(),
    args: z.array(z.string()).default([]),
    env: z.record(z.string(), z.string()).default({}),
  }),
  z.object({
    type: z.enum(["http", "sse"]),
    url: z.string().url(),
    headers: z.record(z.string(), z.string()).default({}),
  }),
]);

export const agentProfileSchema = z.object({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "letters, digits, '.', '_' and '-' only"),
  name: z.string(),
  description: z.string().optional(),
  /** Appended to the agent's own system prompt. */
  systemPrompt: z.string().optional(),
  /** Memory file written as CLAUDE.md (Claude) or AGENTS.md (OpenCode) at the workspace root. */
  agentMDFile: z.string().optional(),
  /** Allowed tools; omitted means the agent's defaults. */
  tools: z.array(z.string()).optional(),
  skills: z.array(skillSchema).default([]),
  subagents: z.array(subagentDefinitionSchema).default([]),
  commands: z.array(commandSchema).default([]),
  /** MCP servers by name: `stdio` ones are bundled (run inside the sandbox), `http`/`sse` are external. */
  mcpServers: z.record(z.string(), mcpServerSchema).default({}),
  dependencies: z
    .object({
      npm: z.array(z.string()).default([]),
      pip: z.array(z.string()).default([]),
    })
    .default({ npm: [], pip: [] }),
  /** Environment variables for the agent process. */
  env: z.record(z.string(), z.string()).default({}),
  /** Files written into the workspace when the sandbox is first created. */
  defaultFiles: z.array(fileEntrySchema).default([]),
  /** Default model for sessions of this profile. */
  model: z.string().optional(),
  /**
   * Extra endpoints (`host:port`) the agent may reach from a sandbox whose
   * egress is restricted (the model endpoint and external MCP servers are
   * always allowed), e.g. a package registry for its dependencies.
   */
  network: z.object({ allow: z.array(z.string().min(3)).default([]) }).default({ allow: [] }),
  /** Default permission policy of its sessions. @default {mode: "bypass"} */
  permissions: permissionPolicySchema.optional(),
});

export type FileEntry = z.infer<typeof fileEntrySchema>;
export type Skill = z.infer<typeof skillSchema>;
export type SubagentDefinition = z.infer<typeof subagentDefinitionSchema>;
export type Command = z.infer<typeof commandSchema>;
export type McpServer = z.infer<typeof mcpServerSchema>;
export type AgentProfile = z.infer<typeof agentProfileSchema>;
/** What callers may pass: defaults not yet applied. */
export type AgentProfileInput = z.input<typeof agentProfileSchema>;

/** The short form used in listings. */
export const agentProfileSummarySchema = agentProfileSchema.pick({ id: true, name: true, description: true });
export type AgentProfileSummary = z.infer<typeof agentProfileSummarySchema>;
