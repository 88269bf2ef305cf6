import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  OPENCODE_TRANSCRIPT_DIR_ENV,
  openCodeModelRef,
  openCodePermissionConfig,
  type RunnerConfig,
} from "@agent-runtime/protocol";
import { createOpencodeClient, type Event, type OpencodeClient } from "@opencode-ai/sdk/v2/client";
import type { AgentHost, AgentHostEvents, MessageImage, TurnEnd } from "../agent-host.js";
import { resolveOpencodeBinary } from "./binary.js";
import { type OpenCodePermissionAsked, permissionRequestOf } from "./permissions.js";
import { exportTranscript, importTranscript } from "./transcript.js";

/** How long `start` waits for `opencode serve` to listen. */
const START_TIMEOUT_MS = 60_000;
/** How long `close` waits for the server to exit after SIGTERM before killing it. */
const CLOSE_GRACE_MS = 5_000;
/** What the agent is told when a request is denied without a message of its own. */
const DENIED_MESSAGE = "The user denied this tool call";

/**
 * Keeps OpenCode offline-friendly and self-contained inside a sandbox: no
 * models.dev catalogue fetch, no updater, no LSP downloads, no sharing, no
 * default npm plugins, and no Claude Code files (`CLAUDE.md`, `~/.claude`):
 * the profile is materialised as AGENTS.md and `.opencode/`. The
 * environment may override each of these.
 */
const QUIET_ENV: Readonly<Record<string, string>> = {
  OPENCODE_DISABLE_MODELS_FETCH: "1",
  OPENCODE_DISABLE_AUTOUPDATE: "1",
  OPENCODE_DISABLE_LSP_DOWNLOAD: "1",
  OPENCODE_DISABLE_SHARE: "1",
  OPENCODE_DISABLE_DEFAULT_PLUGINS: "1",
  OPENCODE_DISABLE_CLAUDE_CODE: "1",
};

/**
 * Runtime-owned settings, passed as `OPENCODE_CONFIG_CONTENT` (OpenCode's
 * highest-precedence config source), so a workspace `opencode.json` written
 * by the agent cannot change them: the permissions of the policy and the
 * profile's tools (see `openCodePermissionConfig`), the system prompt as an
 * instruction file (`instructions`: part of the system prompt of every turn,
 * command turns included), no sharing, no updates.
 */
function runtimeConfig(config: RunnerConfig, systemPromptFile: string | undefined): Record<string, unknown> {
  return {
    permission: openCodePermissionConfig(config.permissions, config.allowedTools),
    ...(systemPromptFile ? { instructions: [systemPromptFile] } : {}),
    share: "disabled",
    autoupdate: false,
  };
}

/** Writes the system prompt into a new folder outside the workspace (it is no workspace file); returns its path. */
async function writeSystemPrompt(systemPrompt: string): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), "agent-runtime-opencode-")), "system-prompt.md");
  await writeFile(path, systemPrompt);
  return path;
}

type Turn = { turnId: string; interrupted: boolean; busy: boolean; error?: string };

/**
 * Hosts OpenCode: one `opencode serve` on a loopback port for the life of
 * the runner, driven through `@opencode-ai/sdk`. Each message becomes an
 * asynchronous prompt on one OpenCode session (created at start, or the
 * resumed one, imported from its transcript export first); every event of
 * that session and of its child sessions (subagents) is relayed unchanged.
 * A turn ends when the session goes idle after being busy; then the
 * transcript is exported (when the server gave a transcript directory) and
 * `turnEnd` is reported. `interrupt` aborts through OpenCode's abort API.
 *
 * Before the first turn's prompt, the session's info is relayed as a
 * `session.updated` event, so consumers learn the native session id even
 * for a resumed session (OpenCode only announces sessions it creates).
 *
 * Tools and permissions use OpenCode's own: the profile's tools and the
 * policy become its `permission` config (see `runtimeConfig`), each
 * `permission.asked` of a tracked session becomes a
 * `permissionRequest` under OpenCode's request id, and `respondPermission`
 * replies `once` or `reject` (with a message, so the agent is told and goes
 * on). It fails closed: requests still open when the turn ends or is
 * interrupted are rejected without a message, which stops OpenCode's loop.
 */
export function createOpenCodeHost(config: RunnerConfig, events: AgentHostEvents): AgentHost {
  const transcriptDir = process.env[OPENCODE_TRANSCRIPT_DIR_ENV];
  const binary = resolveOpencodeBinary();
  /** The main session and its descendants: the sessions whose events are relayed. */
  const tracked = new Set<string>();
  /** Relayed permission requests not answered yet, by OpenCode's request id. */
  const openPermissions = new Set<string>();
  /** Inputs of the running tool calls of tracked sessions, by call id: what a permission request is about. */
  const runningCalls = new Map<string, unknown>();
  const stream = new AbortController();
  let server: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let client: OpencodeClient | undefined;
  let sessionId: string | undefined;
  let commands = new Set<string>();
  let announced = false;
  let current: Turn | undefined;
  let closing = false;
  let failed = false;

  /** Replies to an open request once; a request OpenCode no longer knows is only reported in diagnostics. */
  const replyPermission = (requestId: string, reply: "once" | "reject", message?: string): void => {
    if (!openPermissions.delete(requestId) || !client) return;
    const report = (error: unknown) =>
      events.diagnostics(`opencode permission reply ${requestId} failed: ${errorText(error)}\n`);
    client.permission
      .reply({ requestID: requestId, reply, ...(message === undefined ? {} : { message }) })
      .then((result) => result.error && report(result.error), report);
  };

  const rejectOpenPermissions = (): void => {
    for (const requestId of [...openPermissions]) replyPermission(requestId, "reject");
  };

  const fail = (error: Error): void => {
    if (closing || failed) return;
    failed = true;
    openPermissions.clear();
    if (current) {
      const turnId = current.turnId;
      current = undefined;
      events.turnEnd({ type: "turn_end", turnId, stopReason: "error", error: error.message });
    }
    events.failed(error);
  };

  const endTurn = async (turn: Turn): Promise<void> => {
    if (current !== turn) return;
    rejectOpenPermissions();
    runningCalls.clear();
    if (transcriptDir && client && sessionId) {
      await exportTranscript(client, transcriptDir, sessionId).catch((error: unknown) =>
        events.diagnostics(`opencode transcript export failed: ${String(error)}\n`),
      );
    }
    if (current !== turn) return;
    current = undefined;
    events.turnEnd({ type: "turn_end", turnId: turn.turnId, ...stopOf(turn) });
  };

  /** Sends one user message; resolves with an error message when OpenCode refuses it. */
  const prompt = async (
    api: OpencodeClient,
    id: string,
    content: string,
    images: readonly MessageImage[],
  ): Promise<string | undefined> => {
    if (!announced) {
      announced = true;
      const info = await api.session.get({ sessionID: id });
      if (info.data)
        events.message({ type: "session.updated", properties: { sessionID: id, info: info.data } });
    }
    const command = /^\/(\S+)\s*([\s\S]*)$/.exec(content);
    if (command && commands.has(command[1] as string) && images.length === 0) {
      // A command request returns once the command's turn is over; the turn still ends on idle.
      const result = await api.session.command({
        sessionID: id,
        command: command[1] as string,
        arguments: command[2] ?? "",
        ...(config.model ? { model: config.model } : {}),
      });
      return result.error ? errorText(result.error) : undefined;
    }
    const model = config.model ? openCodeModelRef(config.model) : undefined;
    const result = await api.session.promptAsync({
      sessionID: id,
      parts: [
        { type: "text", text: content },
        // Images as file parts (data URLs), which OpenCode gives the model as images.
        ...images.map((image, index) => ({
          type: "file" as const,
          mime: image.mediaType,
          filename: `image-${index + 1}.${image.mediaType.slice("image/".length)}`,
          url: `data:${image.mediaType};base64,${image.data}`,
        })),
      ],
      ...(model ? { model } : {}),
    });
    return result.error ? errorText(result.error) : undefined;
  };

  const onEvent = (event: Event): void => {
    const properties = (event as { properties?: Record<string, unknown> }).properties ?? {};
    const info = properties.info as { id?: string; parentID?: string } | undefined;
    if (event.type === "session.created" && info?.id && info.parentID && tracked.has(info.parentID)) {
      tracked.add(info.id);
    }
    const eventSession = typeof properties.sessionID === "string" ? properties.sessionID : undefined;
    if (!eventSession || !tracked.has(eventSession)) return;
    events.message(event);
    onPermissionEvent(event.type, properties);
    const turn = current;
    if (eventSession !== sessionId || !turn) return;
    if (event.type === "session.error") {
      const error = properties.error as { name?: string } | undefined;
      if (error?.name === "MessageAbortedError") turn.interrupted = true;
      else turn.error = errorText(error);
    } else if (event.type === "session.status") {
      const status = (properties.status as { type?: string } | undefined)?.type;
      if (status === "busy" || status === "retry") turn.busy = true;
      else if (status === "idle" && turn.busy) void endTurn(turn);
    }
  };

  /** Tracks running tool calls and relays OpenCode's permission requests. */
  const onPermissionEvent = (type: string, properties: Record<string, unknown>): void => {
    if (type === "message.part.updated") {
      const part = properties.part as {
        type?: string;
        callID?: string;
        state?: { status?: string; input?: unknown };
      };
      if (part.type !== "tool" || !part.callID) return;
      if (part.state?.status === "running") runningCalls.set(part.callID, part.state.input);
      else if (part.state?.status === "completed" || part.state?.status === "error")
        runningCalls.delete(part.callID);
    } else if (type === "permission.asked") {
      const asked = properties as unknown as OpenCodePermissionAsked;
      if (openPermissions.has(asked.id)) return;
      openPermissions.add(asked.id);
      // Fail closed: outside a turn nobody is there to answer.
      if (current)
        events.permissionRequest(permissionRequestOf(asked, runningCalls.get(asked.tool?.callID ?? "")));
      else replyPermission(asked.id, "reject");
    } else if (type === "permission.replied") {
      openPermissions.delete(properties.requestID as string);
    }
  };

  const consume = async (api: OpencodeClient, connected: () => void): Promise<void> => {
    const subscription = await api.event.subscribe(undefined, {
      signal: stream.signal,
      sseMaxRetryAttempts: 3,
    });
    for await (const event of subscription.stream) {
      if ((event as { type?: string }).type === "server.connected") connected();
      else onEvent(event as Event);
    }
    if (!closing) throw new Error("OpenCode event stream ended");
  };

  return {
    async start() {
      const systemPromptFile = config.systemPrompt ? await writeSystemPrompt(config.systemPrompt) : undefined;
      const env: NodeJS.ProcessEnv = {
        ...QUIET_ENV,
        ...process.env,
        OPENCODE_CONFIG_CONTENT: JSON.stringify(runtimeConfig(config, systemPromptFile)),
      };
      if (config.resumeSessionId && transcriptDir) {
        await importTranscript({
          binary,
          dir: transcriptDir,
          sessionId: config.resumeSessionId,
          cwd: config.workspaceDir,
          env,
          diagnostics: events.diagnostics,
        });
      }
      const child = spawn(binary, ["serve", "--hostname=127.0.0.1", "--port=0", "--pure"], {
        cwd: config.workspaceDir,
        env,
        stdio: ["ignore", "pipe", "pipe"],
      });
      server = child;
      exited = new Promise((resolve) => child.once("exit", () => resolve()));
      child.stderr.on("data", (chunk: Buffer) => events.diagnostics(chunk.toString("utf8")));
      const url = await listeningUrl(child);
      child.once("exit", (code, signal) =>
        fail(new Error(`opencode serve exited unexpectedly (${signal ?? `code ${code}`})`)),
      );
      const api = createOpencodeClient({ baseUrl: url, directory: config.workspaceDir });
      client = api;
      await new Promise<void>((resolve, reject) => {
        consume(api, resolve).catch((error: unknown) => {
          const failure = error instanceof Error ? error : new Error(String(error));
          reject(failure);
          if (!closing) fail(failure);
        });
      });
      sessionId = await openSession(api, config.resumeSessionId, events);
      tracked.add(sessionId);
      const listed = await api.command.list();
      commands = new Set((listed.data ?? []).map((c) => c.name));
      const health = await api.global.health();
      return health.data?.version ? { agentVersion: health.data.version } : {};
    },

    send(turnId, content, images = []) {
      if (!client || !sessionId) throw new Error("OpenCode has not started");
      const turn: Turn = { turnId, interrupted: false, busy: false };
      current = turn;
      void prompt(client, sessionId, content, images).then(
        (error) => {
          if (error && current === turn) {
            turn.error = error;
            void endTurn(turn);
          }
        },
        (error: unknown) => {
          if (current !== turn) return;
          turn.error = String(error);
          void endTurn(turn);
        },
      );
    },

    respondPermission(requestId, decision, message) {
      if (decision === "allow") replyPermission(requestId, "once");
      else replyPermission(requestId, "reject", message ?? DENIED_MESSAGE);
    },

    async interrupt() {
      if (!current || !client || !sessionId) return;
      current.interrupted = true;
      rejectOpenPermissions();
      const result = await client.session.abort({ sessionID: sessionId });
      if (result.error) throw new Error(`abort failed: ${errorText(result.error)}`);
    },

    async close() {
      if (closing) return exited;
      closing = true;
      stream.abort();
      const child = server;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          child.kill("SIGKILL");
          resolve();
        }, CLOSE_GRACE_MS);
      });
      await Promise.race([exited, grace]);
      clearTimeout(timer);
    },
  };
}

/** Resolves with the URL `opencode serve` prints once it listens; rejects if it exits or times out first. */
function listeningUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`opencode serve did not listen within ${START_TIMEOUT_MS} ms`));
    }, START_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      const match = /listening on (https?:\/\/\S+)/.exec(output);
      if (!match) return;
      clearTimeout(timer);
      child.stdout?.off("data", onData);
      child.stdout?.resume();
      resolve(match[1] as string);
    };
    child.stdout?.on("data", onData);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`opencode serve exited before listening (${signal ?? `code ${code}`}): ${output}`));
    });
  });
}

/** The session to resume when OpenCode knows it, else a new one (reported in diagnostics). */
async function openSession(
  api: OpencodeClient,
  resumeSessionId: string | undefined,
  events: AgentHostEvents,
): Promise<string> {
  if (resumeSessionId) {
    const existing = await api.session.get({ sessionID: resumeSessionId });
    if (existing.data) return existing.data.id;
    events.diagnostics(`opencode session ${resumeSessionId} not found; starting a new session\n`);
  }
  const created = await api.session.create({}, { throwOnError: true });
  return created.data.id;
}

function stopOf(turn: Turn): Omit<TurnEnd, "type" | "turnId"> {
  if (turn.interrupted) return { stopReason: "interrupted" };
  if (turn.error !== undefined) return { stopReason: "error", error: turn.error };
  return { stopReason: "end_turn" };
}

function errorText(error: unknown): string {
  if (typeof error !== "object" || error === null) return String(error);
  const record = error as { name?: unknown; message?: unknown; data?: { message?: unknown } };
  const message = record.data?.message ?? record.message;
  const name = typeof record.name === "string" ? record.name : "Error";
  return typeof message === "string" ? `${name}: ${message}` : JSON.stringify(error);
}
