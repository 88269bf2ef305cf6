import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { CLAUDE_CODE_TURN_ENV, type RunnerConfig } from "@agent-runtime/protocol";
import {
  type CanUseTool,
  type McpServerConfig,
  type Options,
  type Query,
  query,
  type SDKResultMessage,
  type SDKUserMessage,
} from "@anthropic-ai/claude-agent-sdk";
import { AsyncQueue } from "../../async-queue.js";
import type { AgentHost, AgentHostEvents, TurnEnd } from "../agent-host.js";
import { PermissionGate } from "../permission-gate.js";
import { claudeToolRestriction } from "./tool-restriction.js";

/** How long `close` waits for Claude Code to exit on its own before killing it. */
const CLOSE_GRACE_MS = 5_000;

/**
 * Hosts Claude Code through the Agent SDK with streaming input: one
 * `query()` for the life of the runner, fed one user message per turn, so
 * the Claude Code process stays warm between turns.
 *
 * Claude Code refuses `bypassPermissions` as root: the runner must run as a
 * non-root uid (the sandbox's agent user). `allowedTools` restricts what it
 * offers and runs (see `claudeToolRestriction`); the permission policy then
 * decides about the calls of those tools.
 */
export function createClaudeHost(config: RunnerConfig, events: AgentHostEvents): AgentHost {
  const input = new AsyncQueue<SDKUserMessage>();
  let current: { turnId: string; interrupted: boolean } | undefined;
  let session: Query | undefined;
  let consuming: Promise<void> | undefined;
  let closing = false;
  const gate = new PermissionGate(config.permissions, events);

  const endTurn = (end: Omit<TurnEnd, "type" | "turnId">): void => {
    if (!current) return;
    gate.denyAll("The turn ended before the request was answered");
    const turnId = current.turnId;
    current = undefined;
    events.turnEnd({ type: "turn_end", turnId, ...end });
  };

  const consume = async (q: Query): Promise<void> => {
    try {
      for await (const message of q) {
        events.message(message);
        if (message.type === "result" && answersUser(message)) {
          endTurn(turnEndOf(message, current?.interrupted ?? false));
        }
      }
      if (!closing) throw new Error("Claude Code exited unexpectedly");
    } catch (error) {
      if (closing) return;
      const failure = error instanceof Error ? error : new Error(String(error));
      endTurn({ stopReason: "error", error: failure.message });
      events.failed(failure);
    }
  };

  return {
    async start() {
      const q = query({ prompt: input, options: claudeOptions(config, events, gate) });
      session = q;
      consuming = consume(q);
      await q.initializationResult();
      return { agentVersion: claudeCodeVersion() };
    },

    send(turnId, content, images = []) {
      current = { turnId, interrupted: false };
      // Images go as content blocks after the text, as the Messages API takes them.
      const message =
        images.length === 0
          ? content
          : [
              { type: "text" as const, text: content },
              ...images.map((image) => ({
                type: "image" as const,
                source: { type: "base64" as const, media_type: image.mediaType, data: image.data },
              })),
            ];
      input.push({ type: "user", message: { role: "user", content: message }, parent_tool_use_id: null });
    },

    respondPermission(requestId, decision, message) {
      gate.respond(requestId, decision, message);
    },

    async warmUp() {
      // The summary builds the system prompt, tools and memory files as the first turn would, without token counts.
      await session?.getContextUsage({ detail: "summary" });
    },

    async setModel(model) {
      await session?.setModel(model);
    },

    async interrupt() {
      if (!current || !session) return;
      current.interrupted = true;
      gate.denyAll("The turn was interrupted");
      await session.interrupt();
    },

    async close() {
      if (closing) return consuming;
      closing = true;
      input.end();
      if (!session || !consuming) return;
      if (current) session.close();
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          session?.close();
          resolve();
        }, CLOSE_GRACE_MS);
      });
      await Promise.race([consuming, grace]);
      clearTimeout(timer);
    },
  };
}

function claudeOptions(config: RunnerConfig, events: AgentHostEvents, gate: PermissionGate): Options {
  const permissions: Partial<Options> =
    config.permissions.mode === "ask"
      ? {
          permissionMode: "default",
          canUseTool: ((toolName, input, options) => gate.ask(toolName, input, options)) as CanUseTool,
        }
      : { permissionMode: "bypassPermissions", allowDangerouslySkipPermissions: true };
  const restriction = claudeToolRestriction(config.allowedTools, Object.keys(config.mcpServers));
  return {
    cwd: config.workspaceDir,
    includePartialMessages: true,
    forwardSubagentText: true,
    ...(config.model ? { model: config.model } : {}),
    systemPrompt: {
      type: "preset",
      preset: "claude_code",
      ...(config.systemPrompt ? { append: config.systemPrompt } : {}),
    },
    mcpServers: config.mcpServers as Record<string, McpServerConfig>,
    ...restriction.options,
    ...(config.resumeSessionId ? { resume: config.resumeSessionId } : {}),
    settingSources: ["project"],
    ...permissions,
    env: { ...CLAUDE_CODE_TURN_ENV, ...process.env, ...restriction.env },
    stderr: (text) => events.diagnostics(text),
  };
}

/**
 * Whether a result ends a turn the runner started. Claude Code runs turns of its own too (e.g. on a
 * background task's notification, `origin.kind: "task-notification"`); their results end nothing.
 */
function answersUser(result: SDKResultMessage): boolean {
  const origin = (result as { origin?: { kind?: unknown } }).origin;
  return origin === undefined || origin.kind === "human";
}

function turnEndOf(result: SDKResultMessage, interrupted: boolean): Omit<TurnEnd, "type" | "turnId"> {
  if (interrupted) return { stopReason: "interrupted" };
  if (result.subtype === "success") {
    return result.is_error ? { stopReason: "error", error: result.result } : { stopReason: "end_turn" };
  }
  if (result.subtype === "error_max_turns") return { stopReason: "max_turns" };
  return { stopReason: "error", error: result.errors.join("\n") || result.subtype };
}

/**
 * The SDK's `claudeCodeVersion`, set by a build that inlines the SDK (the
 * local runner, `scripts/bundle.mjs`); undeclared elsewhere.
 */
declare const __AGENT_RUNTIME_CLAUDE_CODE_VERSION__: string | undefined;

/** The Claude Code version bundled with the installed SDK, when its package.json says so. */
function claudeCodeVersion(): string | undefined {
  if (typeof __AGENT_RUNTIME_CLAUDE_CODE_VERSION__ === "string") return __AGENT_RUNTIME_CLAUDE_CODE_VERSION__;
  try {
    const sdkEntry = createRequire(import.meta.url).resolve("@anthropic-ai/claude-agent-sdk");
    const manifest = JSON.parse(readFileSync(join(dirname(sdkEntry), "package.json"), "utf8")) as {
      claudeCodeVersion?: unknown;
    };
    return typeof manifest.claudeCodeVersion === "string" ? manifest.claudeCodeVersion : undefined;
  } catch {
    return undefined;
  }
}
