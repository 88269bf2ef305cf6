import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { Readable, Writable } from "node:stream";
import type { AcpRelayedMessage, RunnerConfig } from "@agent-runtime/protocol";
import {
  type ClientConnection,
  type ContentBlock,
  client,
  type InitializeResponse,
  type NewSessionResponse,
  ndJsonStream,
  PROTOCOL_VERSION,
  RequestError,
  type SessionConfigOption,
  type StopReason,
} from "@agentclientprotocol/sdk";
import type { AgentHost, AgentHostEvents, MessageImage, TurnEnd } from "../agent-host.js";
import { PermissionGate } from "../permission-gate.js";
import { acpMcpServers } from "./mcp-servers.js";
import { answerAcpPermission } from "./permissions.js";

/** How long `close` waits for the agent to exit after SIGTERM before killing it. */
const CLOSE_GRACE_MS = 5_000;
/** Largest ACP message read from the agent. */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** ACP's error code for "authentication required". */
const AUTH_REQUIRED = -32000;

/** The ACP agent process to start. */
export interface AcpAgentLaunch {
  readonly command: string;
  readonly args: readonly string[];
  /** Added to the runner's environment. */
  readonly env?: Readonly<Record<string, string>>;
}

export interface AcpHostOptions {
  /** Prepares and names the agent process; called once, by `start`. */
  launch(): Promise<AcpAgentLaunch>;
  /** Runs after every turn with the ACP session id (a transcript export, say); a failure is only diagnostics. */
  afterTurn?(sessionId: string): Promise<void>;
  /**
   * The turn's usage, in ACP's prompt usage shape, when the agent's answer
   * to `session/prompt` carries none; asked once per answered prompt. A
   * failure is only diagnostics.
   */
  turnUsage?(sessionId: string): Promise<unknown>;
}

type Turn = { turnId: string; interrupted: boolean };

/**
 * Hosts an agent that speaks the Agent Client Protocol on its stdio, with
 * the official SDK (`@agentclientprotocol/sdk`): one agent process and one
 * ACP session for the life of the runner. `start` initializes, then resumes
 * the session of `resumeSessionId` (`session/resume` when the agent offers
 * it, else `session/load`, whose history replay is not relayed) or opens a
 * new one with the profile's MCP servers, and selects `config.model`
 * through the session's `model` config option when the agent has one.
 *
 * Each message is one `session/prompt`; every `session/update` of the
 * session is relayed as an `acp_update`, the prompt's answer as
 * `acp_prompt_end` (see `AcpRelayedMessage`), then the turn ends with the
 * matching stop reason (`cancelled` is `interrupted`). `interrupt` sends
 * `session/cancel`. The agent's permission requests go through the
 * permission gate (see `answerAcpPermission`); it fails closed: requests
 * open when the turn ends or is interrupted are denied. The runner offers
 * no file system or terminal methods: the agent uses its own, inside the
 * sandbox.
 */
export function createAcpHost(
  config: RunnerConfig,
  events: AgentHostEvents,
  options: AcpHostOptions,
): AgentHost {
  const gate = new PermissionGate(config.permissions, events);
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let connection: ClientConnection | undefined;
  let sessionId: string | undefined;
  let promptImages = false;
  /** While a `session/load` replays history: its updates are not relayed (the blocks exist already). */
  let replaying = false;
  let current: Turn | undefined;
  let closing = false;
  let failed = false;

  const relay = (message: AcpRelayedMessage) => events.message(message);

  const fail = (error: Error): void => {
    if (closing || failed) return;
    failed = true;
    gate.denyAll("The agent stopped");
    if (current) {
      const turnId = current.turnId;
      current = undefined;
      events.turnEnd({ type: "turn_end", turnId, stopReason: "error", error: error.message });
    }
    events.failed(error);
  };

  const endTurn = async (turn: Turn, stop: Omit<TurnEnd, "type" | "turnId">): Promise<void> => {
    if (current !== turn) return;
    gate.denyAll("The turn ended");
    if (options.afterTurn && sessionId) {
      await options
        .afterTurn(sessionId)
        .catch((error: unknown) => events.diagnostics(`after-turn step failed: ${String(error)}\n`));
    }
    if (current !== turn) return;
    current = undefined;
    events.turnEnd({ type: "turn_end", turnId: turn.turnId, ...stop });
  };

  const connect = (process: ChildProcess): ClientConnection => {
    const app = client({ name: "agent-runtime" })
      .onNotification("session/update", ({ params }) => {
        if (params.sessionId !== sessionId || replaying) return;
        relay({ type: "acp_update", update: params.update });
      })
      .onRequest("session/request_permission", ({ params, signal }) =>
        answerAcpPermission(gate, params, {
          inTurn: current !== undefined && !current.interrupted && params.sessionId === sessionId,
          signal,
        }),
      );
    const stream = ndJsonStream(
      Writable.toWeb(process.stdin as Writable) as WritableStream<Uint8Array>,
      Readable.toWeb(process.stdout as Readable) as ReadableStream<Uint8Array>,
      { maxMessageBytes: MAX_MESSAGE_BYTES },
    );
    return app.connect(stream);
  };

  /** Opens the session: the resumed one when the agent can, else a new one. */
  const openSession = async (
    agent: ClientConnection["agent"],
    init: InitializeResponse,
  ): Promise<{ id: string; resumed: boolean; configOptions?: SessionConfigOption[] | null }> => {
    const capabilities = init.agentCapabilities;
    const mcp = acpMcpServers(config.mcpServers, capabilities?.mcpCapabilities);
    if (mcp.skipped.length > 0) {
      events.diagnostics(
        `the agent cannot reach these MCP servers over their transport: ${mcp.skipped.join(", ")}\n`,
      );
    }
    const base = { cwd: config.workspaceDir, mcpServers: mcp.servers };
    const resumeId = config.resumeSessionId;
    if (resumeId) {
      try {
        if (capabilities?.sessionCapabilities?.resume) {
          const resumed = await agent.request("session/resume", { ...base, sessionId: resumeId });
          return { id: resumeId, resumed: true, configOptions: resumed.configOptions };
        }
        if (capabilities?.loadSession) {
          replaying = true;
          sessionId = resumeId;
          const loaded = await agent.request("session/load", { ...base, sessionId: resumeId });
          return { id: resumeId, resumed: true, configOptions: loaded.configOptions };
        }
        events.diagnostics("the agent cannot load sessions; starting a new session\n");
      } catch (error) {
        events.diagnostics(
          `resuming session ${resumeId} failed (${errorText(error)}); starting a new session\n`,
        );
      } finally {
        replaying = false;
      }
    }
    const created = await withAuthentication(
      agent,
      init,
      (): Promise<NewSessionResponse> => agent.request("session/new", base),
      events,
    );
    return { id: created.sessionId, resumed: false, configOptions: created.configOptions };
  };

  /** Selects `config.model` through the session's model option, when the agent has one and lists the model. */
  const selectModel = async (
    agent: ClientConnection["agent"],
    id: string,
    configOptions: SessionConfigOption[] | null | undefined,
  ): Promise<void> => {
    const model = config.model;
    if (!model) return;
    const option = configOptions?.find((candidate) => candidate.category === "model");
    if (option?.type !== "select") return;
    if (option.currentValue === model) return;
    try {
      await agent.request("session/set_config_option", { sessionId: id, configId: option.id, value: model });
    } catch (error) {
      events.diagnostics(`selecting model ${model} failed: ${String(error)}\n`);
    }
  };

  const usageOfTurn = async (id: string): Promise<unknown> => {
    if (!options.turnUsage) return undefined;
    try {
      return await options.turnUsage(id);
    } catch (error) {
      events.diagnostics(`reading the turn's usage failed: ${String(error)}\n`);
      return undefined;
    }
  };

  return {
    async start() {
      const launch = await options.launch();
      const process = spawn(launch.command, [...launch.args], {
        cwd: config.workspaceDir,
        env: { ...globalThis.process.env, ...launch.env },
        stdio: ["pipe", "pipe", "pipe"],
      });
      child = process;
      exited = new Promise((resolve) => process.once("exit", () => resolve()));
      process.stderr?.on("data", (chunk: Buffer) => events.diagnostics(chunk.toString("utf8")));
      const spawned = new Promise<void>((resolve, reject) => {
        process.once("spawn", resolve);
        process.once("error", reject);
      });
      await spawned;
      process.once("exit", (code, signal) =>
        fail(new Error(`the ACP agent exited unexpectedly (${signal ?? `code ${code}`})`)),
      );
      const conn = connect(process);
      connection = conn;
      void conn.closed.then(() => fail(new Error("the ACP connection closed")));
      const init = await conn.agent.request("initialize", {
        protocolVersion: PROTOCOL_VERSION,
        clientCapabilities: { fs: { readTextFile: false, writeTextFile: false }, terminal: false },
        clientInfo: { name: "agent-runtime", version: "1" },
      });
      promptImages = init.agentCapabilities?.promptCapabilities?.image === true;
      const session = await openSession(conn.agent, init);
      sessionId = session.id;
      relay({
        type: "acp_session",
        sessionId: session.id,
        resumed: session.resumed,
        run: randomUUID(),
        ...(init.agentInfo?.name ? { agentName: init.agentInfo.name } : {}),
        ...(init.agentInfo?.version ? { agentVersion: init.agentInfo.version } : {}),
      });
      await selectModel(conn.agent, session.id, session.configOptions);
      return init.agentInfo?.version ? { agentVersion: init.agentInfo.version.slice(0, 200) } : {};
    },

    send(turnId, content, images = []) {
      const conn = connection;
      const id = sessionId;
      if (!conn || !id) throw new Error("the ACP agent has not started");
      const turn: Turn = { turnId, interrupted: false };
      current = turn;
      conn.agent
        .request("session/prompt", { sessionId: id, prompt: promptOf(content, images, promptImages) })
        .then(
          async (response) => {
            // Usage is not in ACP's stable schema yet; agents that report it put it here.
            const usage = (response as { usage?: unknown }).usage ?? (await usageOfTurn(id));
            relay({
              type: "acp_prompt_end",
              stopReason: response.stopReason,
              ...(usage ? { usage } : {}),
              ...(response._meta ? { meta: response._meta } : {}),
            });
            void endTurn(turn, stopOf(response.stopReason, turn));
          },
          (error: unknown) => {
            if (turn.interrupted) void endTurn(turn, { stopReason: "interrupted" });
            else void endTurn(turn, { stopReason: "error", error: errorText(error) });
          },
        );
    },

    respondPermission(requestId, decision, message) {
      gate.respond(requestId, decision, message);
    },

    async interrupt() {
      const turn = current;
      if (!turn || !connection || !sessionId) return;
      turn.interrupted = true;
      gate.denyAll("The turn was interrupted");
      await connection.agent.notify("session/cancel", { sessionId });
    },

    async close() {
      if (closing) return exited;
      closing = true;
      gate.denyAll("The agent is closing");
      connection?.close();
      const process = child;
      if (!process || process.exitCode !== null || process.signalCode !== null) return;
      process.kill("SIGTERM");
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          process.kill("SIGKILL");
          resolve();
        }, CLOSE_GRACE_MS);
      });
      await Promise.race([exited, grace]);
      clearTimeout(timer);
    },
  };
}

/**
 * Runs `request`; when the agent answers that it needs authentication,
 * authenticates with the first of its environment-variable methods whose
 * variables are all set, then runs `request` again.
 */
async function withAuthentication<T>(
  agent: ClientConnection["agent"],
  init: InitializeResponse,
  request: () => Promise<T>,
  events: AgentHostEvents,
): Promise<T> {
  try {
    return await request();
  } catch (error) {
    if (!(error instanceof RequestError) || error.code !== AUTH_REQUIRED) throw error;
    const method = (init.authMethods ?? []).find((candidate) => {
      const vars = (candidate as { vars?: { name?: unknown }[] }).vars;
      return (
        Array.isArray(vars) &&
        vars.length > 0 &&
        vars.every((variable) => typeof variable.name === "string" && process.env[variable.name])
      );
    });
    if (!method) throw error;
    events.diagnostics(`authenticating with ${method.id}\n`);
    await agent.request("authenticate", { methodId: method.id });
    return request();
  }
}

/** The user's message as ACP content: its text, then its images when the agent takes images. */
function promptOf(content: string, images: readonly MessageImage[], takesImages: boolean): ContentBlock[] {
  const blocks: ContentBlock[] = [{ type: "text", text: content }];
  if (takesImages) {
    for (const image of images) blocks.push({ type: "image", mimeType: image.mediaType, data: image.data });
  } else if (images.length > 0) {
    blocks.push({ type: "text", text: `(${images.length} image(s) left out: this agent takes no images)` });
  }
  return blocks;
}

function stopOf(reason: StopReason, turn: Turn): Omit<TurnEnd, "type" | "turnId"> {
  if (reason === "cancelled" || turn.interrupted) return { stopReason: "interrupted" };
  if (reason === "max_turn_requests") return { stopReason: "max_turns" };
  if (reason === "refusal") return { stopReason: "error", error: "The agent refused the request" };
  return { stopReason: "end_turn" };
}

function errorText(error: unknown): string {
  if (error instanceof RequestError) {
    const data = error.data === undefined ? "" : `: ${JSON.stringify(error.data).slice(0, 2000)}`;
    return `${error.message} (ACP error ${error.code})${data}`;
  }
  return error instanceof Error ? error.message : String(error);
}
