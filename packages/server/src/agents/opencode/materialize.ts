import { posix } from "node:path";
import {
  type AgentProfile,
  OPENCODE_PROVIDER_ID,
  openCodeModelId,
  openCodeModelRef,
  openCodePermissionConfig,
  type RunnableMcpServer,
  type SessionOptions,
} from "@agent-runtime/protocol";
import { effectivePermissions } from "../../core/agent-launch.js";
import { subagentToolsOn } from "../../profiles/profile-tools.js";
import type { SandboxFile } from "../../sandboxes/sandbox-provider.js";
import type { MaterializeInput } from "../agent-architecture.js";
import { commandFiles, defaultFiles, safeName, skillFiles, withFrontMatter } from "../profile-files.js";
import { runnableMcpServers } from "../runnable-mcp-servers.js";
import { OPENCODE_HOSTED_PROVIDER } from "./hosted-provider.js";

/** Environment variables the provider's base URL and key are read from (`{env:…}`); the key never enters files. */
export const OPENCODE_BASE_URL_ENV = "AGENT_RUNTIME_OPENAI_BASE_URL";
export const OPENCODE_API_KEY_ENV = "AGENT_RUNTIME_OPENAI_API_KEY";

/** The environment variables holding a further model provider's base URL and key (see `MaterializeInput.modelProviders`). */
export function providerEnv(name: string): { baseUrl: string; apiKey: string } {
  const stem = `AGENT_RUNTIME_PROVIDER_${name.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
  return { baseUrl: `${stem}_BASE_URL`, apiKey: `${stem}_API_KEY` };
}
/** The model used when neither the session nor the profile names one (the mock model's demo name). */
export const DEFAULT_OPENCODE_MODEL = "mock-model";

/**
 * The files that make a profile visible to OpenCode:
 * - `AGENTS.md` (the profile's agentMDFile) at the workspace root;
 * - `opencode.json`, runtime-owned and read-only: the `agent-runtime` provider
 *   (`@ai-sdk/openai-compatible`, base URL and key from the environment) with
 *   every model the profile names, `model`/`small_model`, MCP servers
 *   (stdio → `local`, http/sse → `remote`);
 * - `.opencode/skills/<name>/SKILL.md` with `name`/`description` front matter, plus the skill's files;
 * - `.opencode/agents/<name>.md` subagents (`mode: subagent`; a subagent that lists its tools gets
 *   the `permission` rules that offer it only those, see `openCodePermissionConfig`),
 *   `.opencode/commands/<name>.md` commands;
 * - the profile's default files, relative to the workspace.
 * The system prompt and the profile's tools are not files: the runner gives them to OpenCode.
 *
 * Throws `INVALID_PATH` when a relative path would leave its folder (`..`,
 * absolute paths, NUL): nothing is written outside the workspace.
 */
export function materializeOpenCodeProfile(input: MaterializeInput): SandboxFile[] {
  const { profile, workspaceDir } = input;
  const at = (...relative: string[]) => posix.join(workspaceDir, ...relative);
  const files: SandboxFile[] = [];

  files.push(...defaultFiles(workspaceDir, profile.defaultFiles));
  if (profile.agentMDFile !== undefined) files.push({ path: at("AGENTS.md"), content: profile.agentMDFile });
  files.push(...skillFiles(at(".opencode", "skills"), profile.skills));

  const policy = effectivePermissions(profile, input.sessionOptions);
  for (const [index, agent] of profile.subagents.entries()) {
    const tools = subagentToolsOn(profile, index, "opencode", `agent profile "${profile.id}"`);
    files.push({
      path: at(".opencode", "agents", `${safeName(agent.name)}.md`),
      content: withFrontMatter(
        {
          description: agent.description,
          mode: "subagent",
          ...(agent.model ? { model: openCodeModelId(agent.model) } : {}),
          ...(tools ? { permission: openCodePermissionConfig(policy, tools) } : {}),
        },
        agent.prompt,
      ),
    });
  }

  files.push(...commandFiles(at(".opencode", "commands"), profile.commands));

  files.push({
    path: at("opencode.json"),
    content: `${JSON.stringify(opencodeConfig(profile, input.sessionOptions, input.modelProviders ?? []), null, 2)}\n`,
    readOnly: true,
  });
  return files;
}

function opencodeConfig(
  profile: AgentProfile,
  sessionOptions: SessionOptions,
  providers: readonly string[],
): Record<string, unknown> {
  const model = sessionOptions.model ?? profile.model ?? DEFAULT_OPENCODE_MODEL;
  const refs = [model, ...profile.subagents.map((a) => a.model)]
    .filter((m): m is string => m !== undefined)
    .map(openCodeModelRef);
  const modelsOf = (provider: string) =>
    new Set(refs.filter((ref) => ref.providerID === provider).map((ref) => ref.modelID));
  // Every model the runtime's provider serves: those without a provider of their own.
  const ownModels = modelsOf(OPENCODE_PROVIDER_ID);
  const modelEntries = (ids: Set<string>) =>
    Object.fromEntries(
      [...ids].map((m) => [m, { name: m, modalities: { input: ["text", "image"], output: ["text"] } }]),
    );
  // The further providers the session's models name, each an OpenAI-compatible endpoint with its own key.
  const further = Object.fromEntries(
    providers
      .filter((name) => modelsOf(name).size > 0)
      .map((name) => {
        const env = providerEnv(name);
        const options = { baseURL: `{env:${env.baseUrl}}`, apiKey: `{env:${env.apiKey}}` };
        if (name === OPENCODE_HOSTED_PROVIDER) {
          // OpenCode knows its hosted models: each keeps the API (package) and capabilities OpenCode has for it;
          // only where they are served and the key change.
          const models = Object.fromEntries([...modelsOf(name)].map((m) => [m, {}]));
          return [name, { options, models }];
        }
        return [
          name,
          { npm: "@ai-sdk/openai-compatible", name, options, models: modelEntries(modelsOf(name)) },
        ];
      }),
  );
  return {
    $schema: "https://opencode.ai/config.json",
    provider: {
      [OPENCODE_PROVIDER_ID]: {
        npm: "@ai-sdk/openai-compatible",
        name: "Agent Runtime",
        options: { baseURL: `{env:${OPENCODE_BASE_URL_ENV}}`, apiKey: `{env:${OPENCODE_API_KEY_ENV}}` },
        // The models take images (OpenCode strips them from custom models that do not say so).
        models: modelEntries(ownModels),
      },
      ...further,
    },
    model: openCodeModelId(model),
    small_model: openCodeModelId(model),
    ...(Object.keys(profile.mcpServers).length > 0
      ? {
          mcp: Object.fromEntries(
            Object.entries(runnableMcpServers(profile)).map(([name, s]) => [name, mcpEntry(s)]),
          ),
        }
      : {}),
  };
}

function mcpEntry(server: RunnableMcpServer): Record<string, unknown> {
  if (server.type === "stdio") {
    return {
      type: "local",
      command: [server.command, ...server.args],
      environment: server.env,
      enabled: true,
    };
  }
  return { type: "remote", url: server.url, headers: server.headers, enabled: true };
}
