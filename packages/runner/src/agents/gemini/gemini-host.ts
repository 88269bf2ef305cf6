import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import {
  DEFAULT_GEMINI_MODEL,
  GEMINI_API_KEY_ENV,
  GEMINI_BASE_URL_ENV,
  GEMINI_TRANSCRIPT_DIR_ENV,
  type RunnerConfig,
} from "@agent-runtime/protocol";
import { createAcpHost } from "../acp/acp-host.js";
import type { AgentHost, AgentHostEvents } from "../agent-host.js";
import { exportChat, importChat } from "./chats.js";

/**
 * Runtime-owned settings, written over the same keys of Gemini CLI's user
 * settings (`~/.gemini/settings.json`; Gemini CLI 0.61 in ACP mode does not
 * apply `GEMINI_CLI_SYSTEM_SETTINGS_PATH`'s shell setting): no update checks,
 * no usage statistics or telemetry, no sandbox of its own (the runtime's
 * sandbox is the boundary), and no pseudo-terminal for its shell tool (a
 * sandbox has none to give: forkpty fails).
 */
const RUNTIME_SETTINGS = {
  general: { disableAutoUpdate: true, disableUpdateNag: true },
  privacy: { usageStatisticsEnabled: false },
  telemetry: { enabled: false },
  tools: { sandbox: false, shell: { enableInteractiveShell: false } },
};

/** Gemini CLI's entry script (`@google/gemini-cli/bundle/gemini.js`), run with this Node; `gemini` on the PATH without it. */
function geminiCommand(): { command: string; args: string[] } {
  try {
    const dir = dirname(createRequire(import.meta.url).resolve("@google/gemini-cli/package.json"));
    return { command: process.execPath, args: [join(dir, "bundle", "gemini.js")] };
  } catch {
    return { command: "gemini", args: [] };
  }
}

/**
 * Hosts Gemini CLI in ACP mode (`gemini --acp`, see `createAcpHost`): the
 * model (the session's, else `DEFAULT_GEMINI_MODEL`; naming one also turns
 * off Gemini CLI's model router and its extra model calls), approvals
 * `yolo` under the `bypass` policy and `default` (ask through ACP) under
 * `ask`, the Gemini API endpoint and key from `GEMINI_BASE_URL_ENV` /
 * `GEMINI_API_KEY_ENV`, and `geminiSettings`. The system prompt and memory
 * file are files the server writes (`GEMINI.md`). After every turn the
 * session's chat is copied to the transcript folder
 * (`GEMINI_TRANSCRIPT_DIR_ENV`, when the server gives one), and put back
 * before a resumed session is loaded (see `chats.ts`).
 */
export function createGeminiHost(config: RunnerConfig, events: AgentHostEvents): AgentHost {
  const geminiDir = join(process.env.HOME ?? homedir(), ".gemini");
  const transcriptDir = process.env[GEMINI_TRANSCRIPT_DIR_ENV];
  return createAcpHost(config, events, {
    async launch() {
      await writeUserSettings(join(geminiDir, "settings.json"), geminiSettings(config));
      if (config.resumeSessionId && transcriptDir) {
        await importChat(geminiDir, config.workspaceDir, transcriptDir, config.resumeSessionId).catch(
          (error: unknown) => events.diagnostics(`gemini chat import failed: ${String(error)}\n`),
        );
      }
      const { command, args } = geminiCommand();
      const baseUrl = process.env[GEMINI_BASE_URL_ENV];
      const key = process.env[GEMINI_API_KEY_ENV];
      return {
        command,
        args: [
          ...args,
          "--acp",
          "--model",
          config.model ?? DEFAULT_GEMINI_MODEL,
          "--approval-mode",
          config.permissions.mode === "ask" ? "default" : "yolo",
        ],
        env: {
          GEMINI_CLI_NO_RELAUNCH: "true",
          // The workspace is the session's own, inside the runtime's sandbox: trusted, so its GEMINI.md is read.
          GEMINI_CLI_TRUST_WORKSPACE: "true",
          ...(baseUrl ? { GOOGLE_GEMINI_BASE_URL: baseUrl } : {}),
          ...(key ? { GEMINI_API_KEY: key } : {}),
        },
      };
    },
    ...(transcriptDir
      ? {
          async afterTurn(sessionId: string) {
            await exportChat(geminiDir, config.workspaceDir, transcriptDir, sessionId);
          },
        }
      : {}),
  });
}

/**
 * The settings the runtime owns for `config`: `RUNTIME_SETTINGS`, and with
 * `allowedTools` the built-in tools Gemini CLI registers (`tools.core`: it
 * offers no other built-in tool, and answers a call of one as an unknown
 * tool). MCP tools are not built-in: a server's tools come with it.
 */
export function geminiSettings(config: RunnerConfig): Record<string, Record<string, unknown>> {
  if (!config.allowedTools) return RUNTIME_SETTINGS;
  const core = config.allowedTools.filter((tool) => !tool.startsWith("mcp__"));
  return { ...RUNTIME_SETTINGS, tools: { ...RUNTIME_SETTINGS.tools, core } };
}

/** Writes `settings` over the user settings file at `path` (keeping its other keys). */
async function writeUserSettings(
  path: string,
  settings: Record<string, Record<string, unknown>>,
): Promise<void> {
  let current: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(await readFile(path, "utf8"));
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed))
      current = parsed as Record<string, unknown>;
  } catch {
    // missing or not JSON: replaced
  }
  const merged: Record<string, unknown> = { ...current };
  for (const [key, value] of Object.entries(settings)) {
    const existing = current[key];
    merged[key] =
      typeof existing === "object" && existing !== null && !Array.isArray(existing)
        ? { ...existing, ...value }
        : value;
  }
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(merged, null, 2)}\n`);
}
