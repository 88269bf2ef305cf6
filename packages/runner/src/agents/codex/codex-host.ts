import { mkdir } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import {
  CODEX_API_KEY_ENV,
  CODEX_BASE_URL_ENV,
  CODEX_TRANSCRIPT_DIR_ENV,
  DEFAULT_CODEX_MODEL,
  type RunnerConfig,
} from "@agent-runtime/protocol";
import { createAcpHost } from "../acp/acp-host.js";
import type { AgentHost, AgentHostEvents } from "../agent-host.js";
import { resolveCodexAcpBinary } from "./binary.js";
import { createRolloutUsage } from "./rollout-usage.js";
import { exportRollout, findRollout, importRollout } from "./transcript.js";

/** The model provider the runtime declares for Codex: the endpoint the server gives, over the Responses API. */
const PROVIDER_ID = "agent_runtime";

/** A TOML value for a `-c key=value` override (a JSON string is a valid TOML basic string). */
function toml(value: string | boolean): string {
  return typeof value === "boolean" ? String(value) : JSON.stringify(value);
}

/**
 * Codex's configuration as `-c` overrides (they win over any
 * `config.toml`, the workspace's included):
 * - the model provider `agent_runtime`: the server's base URL, the
 *   Responses API, its key read from `CODEX_API_KEY_ENV`;
 * - the model (the session's, else `DEFAULT_CODEX_MODEL`);
 * - no sandbox of Codex's own (`danger-full-access`): the runtime's sandbox
 *   is the boundary, and Codex's bubblewrap cannot nest inside it;
 * - approvals: `never` under the `bypass` policy; under `ask`,
 *   `untrusted`, so Codex asks (ACP `session/request_permission`) before
 *   every command that is not a known read-only one;
 * - the profile's system prompt as `developer_instructions`;
 * - no update check.
 */
export function codexArgs(config: RunnerConfig, baseUrl: string | undefined): string[] {
  const overrides: [string, string][] = [
    ["model_provider", toml(PROVIDER_ID)],
    [`model_providers.${PROVIDER_ID}.name`, toml("Agent Runtime")],
    [`model_providers.${PROVIDER_ID}.wire_api`, toml("responses")],
    [`model_providers.${PROVIDER_ID}.env_key`, toml(CODEX_API_KEY_ENV)],
    ["model", toml(config.model ?? DEFAULT_CODEX_MODEL)],
    ["sandbox_mode", toml("danger-full-access")],
    ["approval_policy", toml(config.permissions.mode === "ask" ? "untrusted" : "never")],
    ["check_for_update_on_startup", toml(false)],
  ];
  if (baseUrl) overrides.push([`model_providers.${PROVIDER_ID}.base_url`, toml(baseUrl)]);
  if (config.systemPrompt) overrides.push(["developer_instructions", toml(config.systemPrompt)]);
  return overrides.flatMap(([key, value]) => ["-c", `${key}=${value}`]);
}

/**
 * Hosts Codex through its ACP adapter (`codex-acp`, see `createAcpHost`),
 * configured by `codexArgs`. Codex's home is `$CODEX_HOME`, else
 * `$HOME/.codex`. After every turn the session's rollout is copied to the
 * transcript folder (`CODEX_TRANSCRIPT_DIR_ENV`, when the server gives
 * one), and put back before a resumed session starts in a new sandbox.
 * Each turn's usage is read from the rollout (see `createRolloutUsage`).
 */
export function createCodexHost(config: RunnerConfig, events: AgentHostEvents): AgentHost {
  const codexHome = process.env.CODEX_HOME ?? join(process.env.HOME ?? homedir(), ".codex");
  const sessionsDir = join(codexHome, "sessions");
  const transcriptDir = process.env[CODEX_TRANSCRIPT_DIR_ENV];
  const usage = createRolloutUsage();
  return createAcpHost(config, events, {
    async launch() {
      // Codex refuses a CODEX_HOME that does not exist.
      await mkdir(codexHome, { recursive: true });
      if (config.resumeSessionId && transcriptDir) {
        await importRollout(sessionsDir, transcriptDir, config.resumeSessionId).catch((error: unknown) =>
          events.diagnostics(`codex transcript import failed: ${String(error)}\n`),
        );
      }
      if (config.resumeSessionId) {
        const rollout = await findRollout(sessionsDir, config.resumeSessionId);
        if (rollout) await usage.startFrom(rollout);
      }
      return {
        command: resolveCodexAcpBinary(),
        args: codexArgs(config, process.env[CODEX_BASE_URL_ENV]),
        env: { CODEX_HOME: codexHome },
      };
    },
    async turnUsage(sessionId: string) {
      const rollout = await findRollout(sessionsDir, sessionId);
      return rollout ? usage.turnUsage(rollout) : undefined;
    },
    ...(transcriptDir
      ? {
          async afterTurn(sessionId: string) {
            await exportRollout(sessionsDir, transcriptDir, sessionId);
          },
        }
      : {}),
  });
}
