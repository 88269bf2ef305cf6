import {
  type AgentProfile,
  type Architecture,
  agentToolOf,
  builtInToolNames,
  mcpToolRef,
  OPENCODE_EDIT_TOOLS,
  toolCovers,
  toolNameOn,
  toolVocabularyOn,
} from "@agent-runtime/protocol";
import { RuntimeError } from "../errors.js";

/**
 * A profile's `tools` (and each subagent's) against the tool table
 * (`AGENT_TOOLS`): when a profile is loaded, every name must be a tool of
 * some agent, in either spelling, or an MCP name of one of the profile's
 * servers, and a subagent's tools must be among the profile's; when a
 * session is created, every name must be a tool of its agent.
 */

const MCP_NAMES = "mcp__<server> or mcp__<server>__<tool> of a server in mcpServers";

/**
 * The tools a profile's own parts need, added to a listed `tools`: `Skill`
 * to use its skills, `Agent` to run its subagents.
 */
function impliedTools(profile: AgentProfile): string[] {
  return [
    ...(profile.skills.length > 0 ? ["Skill"] : []),
    ...(profile.subagents.length > 0 ? ["Agent"] : []),
  ];
}

/**
 * Throws `VALIDATION_FAILED` naming `source`, the field and the tool when a
 * name of `tools` or of a subagent's `tools` is not a tool of any agent
 * nor an MCP name of a server in `mcpServers`, or when a subagent lists a
 * tool the profile does not offer.
 */
export function assertProfileTools(profile: AgentProfile, source: string): void {
  const known = (name: string, field: string) => {
    const mcp = mcpToolRef(name);
    if (mcp) {
      if (!(mcp.server in profile.mcpServers)) {
        const servers = Object.keys(profile.mcpServers);
        invalid(
          source,
          `${field}: "${name}" names no server of mcpServers (${servers.length > 0 ? servers.join(", ") : "none"})`,
        );
      }
    } else if (!agentToolOf(name)) {
      invalid(
        source,
        `${field}: unknown tool "${name}"; Claude Code's tools: ${builtInToolNames("claude-agent-sdk").join(", ")}; ` +
          `OpenCode's: ${builtInToolNames("opencode").join(", ")}; MCP tools: ${MCP_NAMES}`,
      );
    }
  };
  for (const name of profile.tools ?? []) known(name, "tools");
  const offered = profile.tools ? [...profile.tools, ...impliedTools(profile)] : undefined;
  for (const [index, agent] of profile.subagents.entries()) {
    for (const name of agent.tools ?? []) {
      const field = `subagents.${index}.tools`;
      known(name, field);
      if (offered && !offered.some((listed) => toolCovers(listed, name))) {
        invalid(source, `${field}: "${name}" is not among the profile's tools`);
      }
    }
  }
}

/**
 * The profile's tools as `architecture` names them, with the tools its own
 * parts need (see `impliedTools`); undefined when the profile does not list
 * its tools, and on a generic ACP agent (`acp`), whose tools are its own:
 * the runtime knows none of them, checks none and narrows none. Throws
 * `VALIDATION_FAILED` naming `source`, the tool and the tools
 * `architecture` has when it lacks one, and on OpenCode when only some of
 * its file-changing tools are listed (it cannot offer one without the
 * others).
 */
export function profileToolsOn(
  profile: AgentProfile,
  architecture: Architecture,
  source: string,
): string[] | undefined {
  if (architecture === "acp") return undefined;
  return (
    profile.tools && toolsOn([...profile.tools, ...impliedTools(profile)], architecture, source, "tools")
  );
}

/** A subagent's tools as `architecture` names them (see `profileToolsOn`); undefined when it inherits them. */
export function subagentToolsOn(
  profile: AgentProfile,
  index: number,
  architecture: Architecture,
  source: string,
): string[] | undefined {
  const tools = profile.subagents[index]?.tools;
  if (architecture === "acp") return undefined;
  return tools && toolsOn(tools, architecture, source, `subagents.${index}.tools`);
}

/** Throws `VALIDATION_FAILED` (see `profileToolsOn`) unless every tool of the profile and its subagents runs on `architecture`. */
export function assertProfileToolsOn(
  profile: AgentProfile,
  architecture: Architecture,
  source: string,
): void {
  profileToolsOn(profile, architecture, source);
  for (const index of profile.subagents.keys()) subagentToolsOn(profile, index, architecture, source);
}

/**
 * `names` as `architecture` calls them, each once. A tool whose counterpart
 * is `null` (it serves a profile part the agent is not given) is left out;
 * one without a counterpart is refused, naming the agent's tools. A generic
 * ACP agent's tools are its own (see `profileToolsOn`).
 */
function toolsOn(
  names: readonly string[],
  architecture: Architecture,
  source: string,
  field: string,
): string[] {
  const tools = names.flatMap((name) => {
    const native = toolNameOn(architecture, name);
    if (native === undefined) {
      invalid(
        source,
        `${field}: "${name}" has no counterpart on ${architecture}, which could not offer it; its tools: ` +
          `${toolVocabularyOn(architecture).join(", ")}, and MCP tools as ${MCP_NAMES}`,
      );
    }
    return native === null ? [] : [native];
  });
  if (architecture === "opencode") {
    const editing = tools.filter((tool) => OPENCODE_EDIT_TOOLS.includes(tool));
    if (editing.length > 0 && !(editing.includes("write") && editing.includes("edit"))) {
      invalid(
        source,
        `${field}: opencode offers its file-changing tools (${OPENCODE_EDIT_TOOLS.join(", ")}) together; ` +
          `list both Write and Edit, or none of them`,
      );
    }
  }
  return [...new Set(tools)];
}

function invalid(source: string, message: string): never {
  throw new RuntimeError("VALIDATION_FAILED", `${source}: ${message}`);
}
