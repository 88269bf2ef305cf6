import { createInterface } from "node:readline";
import { type RunnerConfig, runnerCommandSchema } from "@agent-runtime/protocol";
import type { AgentHostFactory, MessageImage } from "./agents/agent-host.js";
import { lazyHost } from "./agents/lazy-host.js";
import type { OutputWriter } from "./output.js";
import { type WorkspaceWatcher, watchWorkspace } from "./workspace-watcher.js";

/** The agent hosts built into the runner, by architecture; each loads its agent's SDK when it starts. */
const builtInHosts: Readonly<Record<RunnerConfig["architecture"], AgentHostFactory>> = {
  "claude-agent-sdk": lazyHost(
    async () => (await import("./agents/claude-agent-sdk/claude-host.js")).createClaudeHost,
  ),
  opencode: lazyHost(async () => (await import("./agents/opencode/opencode-host.js")).createOpenCodeHost),
  codex: lazyHost(async () => (await import("./agents/codex/codex-host.js")).createCodexHost),
  gemini: lazyHost(async () => (await import("./agents/gemini/gemini-host.js")).createGeminiHost),
  acp: lazyHost(async () => (await import("./agents/acp/generic-acp-host.js")).createGenericAcpHost),
};

export interface RunnerIo {
  readonly stdin: NodeJS.ReadableStream;
  readonly output: OutputWriter;
  readonly stderr: NodeJS.WritableStream;
}

/**
 * Runs the agent of `config` until `shutdown`, stdin EOF or a failure.
 * Writes `ready` once the agent accepts messages and the watcher runs; an
 * agent that has no message to answer by then is warmed up first (see
 * `AgentHost.warmUp`).
 * Holds one turn at a time as the runner protocol states: a `message` read
 * before the agent has started waits for it, and a `message` while a turn
 * is open is answered at once with an `error` `turn_end`, leaving the open
 * turn alone. Resolves with the process exit code: 0 after an orderly
 * shutdown, 1 after a failure (a `fatal` line has been written then).
 * Never rejects.
 *
 * @param hosts The host factory of each architecture. @default the built-in hosts
 */
export async function runRunner(
  config: RunnerConfig,
  io: RunnerIo,
  hosts: Readonly<Record<RunnerConfig["architecture"], AgentHostFactory>> = builtInHosts,
): Promise<number> {
  const factory = hosts[config.architecture];
  if (!factory) {
    io.output.write({
      type: "fatal",
      message: `architecture ${config.architecture} is not supported by this runner`,
    });
    return 1;
  }
  let settle: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => {
    settle = resolve;
  });
  let watcher: WorkspaceWatcher | undefined;
  let stopping = false;
  /**
   * The open turn: held (`sent` false) until the agent has started and no
   * model change is pending, then the host's until its `turnEnd`.
   */
  let turn: { turnId: string; content: string; images: readonly MessageImage[]; sent: boolean } | undefined;
  let agentStarted = false;
  let markStarted: () => void = () => {};
  const started = new Promise<void>((resolve) => {
    markStarted = resolve;
  });
  /** `set_model` commands not yet done: a turn read after one waits for it. */
  let modelChanges = 0;

  const host = factory(config, {
    message: (message) => io.output.write({ type: "agent", message }),
    // Every file the turn wrote is reported before its end, so the index is complete when the turn is.
    turnEnd: (end) => {
      const finish = () => {
        turn = undefined;
        io.output.write(end);
      };
      if (!watcher) return finish();
      void watcher.settle().then(finish, (error: unknown) => {
        io.output.write({ type: "log", level: "warn", message: `workspace scan failed: ${String(error)}` });
        finish();
      });
    },
    permissionRequest: (request) => io.output.write(request),
    diagnostics: (text) => io.stderr.write(text),
    failed: (error) => {
      if (stopping) return;
      stopping = true;
      io.output.write({ type: "fatal", message: `agent failed: ${error.message}` });
      void watcher?.close().finally(() => settle(1));
    },
  });

  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await host.close();
    await watcher?.close();
    settle(0);
  };

  // The watcher runs before any command is read, so no file the agent writes goes unreported.
  if (config.watchWorkspace) {
    try {
      watcher = await watchWorkspace({
        workspaceDir: config.workspaceDir,
        ignore: config.watchIgnore,
        onFile: (line) => {
          if (!stopping) io.output.write(line);
        },
        onError: (error) =>
          io.output.write({ type: "log", level: "warn", message: `workspace watcher: ${String(error)}` }),
      });
    } catch (error) {
      io.output.write({ type: "fatal", message: `workspace watcher failed to start: ${String(error)}` });
      return 1;
    }
  }

  /** Hands the held turn to the agent once it has started and no model change is pending. */
  const deliver = (): void => {
    if (!turn || turn.sent || !agentStarted || modelChanges > 0 || stopping) return;
    turn.sent = true;
    host.send(turn.turnId, turn.content, turn.images);
  };

  const setModel = (model: string): void => {
    modelChanges += 1;
    void started
      .then(async () => {
        if (!host.setModel) throw new Error("this agent cannot change its model while it runs");
        await host.setModel(model);
      })
      .catch((error: unknown) =>
        io.output.write({ type: "log", level: "warn", message: `model change failed: ${String(error)}` }),
      )
      .finally(() => {
        modelChanges -= 1;
        deliver();
      });
  };

  const accept = (turnId: string, content: string, images: readonly MessageImage[] = []): void => {
    if (turn) {
      io.output.write({
        type: "turn_end",
        turnId,
        stopReason: "error",
        error: `refused: turn ${turn.turnId} is still open and the runner holds one turn at a time`,
      });
      return;
    }
    turn = { turnId, content, images, sent: false };
    deliver();
  };

  const interrupt = (): void => {
    if (turn && !turn.sent) {
      io.output.write({ type: "turn_end", turnId: turn.turnId, stopReason: "interrupted" });
      turn = undefined;
      return;
    }
    host
      .interrupt()
      .catch((error: unknown) =>
        io.output.write({ type: "log", level: "warn", message: `interrupt failed: ${String(error)}` }),
      );
  };

  // Commands are read while the agent starts: a first message sent right after launch is held
  // and reaches the agent as soon as it can take it, overlapping its start-up.
  const lines = createInterface({ input: io.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  lines.on("line", (text) => {
    if (text.trim() === "" || stopping) return;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      io.output.write({ type: "log", level: "error", message: "ignored a command that is not JSON" });
      return;
    }
    const parsed = runnerCommandSchema.safeParse(json);
    if (!parsed.success) {
      io.output.write({
        type: "log",
        level: "error",
        message: `ignored an invalid command: ${parsed.error.message}`,
      });
      return;
    }
    const command = parsed.data;
    if (command.type === "message") accept(command.turnId, command.content, command.images);
    else if (command.type === "permission_response") {
      host.respondPermission(command.requestId, command.decision, command.message);
    } else if (command.type === "interrupt") interrupt();
    else if (command.type === "set_model") setModel(command.model);
    else void stop();
  });
  lines.on("close", () => void stop());

  try {
    const { agentVersion } = await host.start();
    // Nothing to answer yet (a pooled agent): the agent does ahead what a first message would make it
    // do, and is ready after that; a message read meanwhile waits for it.
    if (!turn && !stopping && host.warmUp) {
      await host
        .warmUp()
        .catch((error: unknown) =>
          io.output.write({ type: "log", level: "warn", message: `warm-up failed: ${String(error)}` }),
        );
    }
    if (!stopping) {
      agentStarted = true;
      markStarted();
      io.output.write({ type: "ready", pid: process.pid, ...(agentVersion ? { agentVersion } : {}) });
      deliver();
    }
  } catch (error) {
    if (!stopping) {
      stopping = true;
      io.output.write({ type: "fatal", message: `agent failed to start: ${String(error)}` });
      await host.close().catch(() => {});
      await watcher?.close();
      lines.close();
      return 1;
    }
  }

  const code = await finished;
  lines.close();
  return code;
}
