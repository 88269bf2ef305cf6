import { randomUUID } from "node:crypto";
import {
  type ErrorCode,
  isMainBlock,
  type QueuedMessage,
  type RunnerOutput,
  type TurnStopReason,
} from "@agent-runtime/protocol";
import type { AgentEvent } from "../agents/agent-architecture.js";
import { errorMessage, RuntimeError } from "../errors.js";
import type { ExitStatus } from "../sandboxes/sandbox-provider.js";
import type { AgentProcess } from "./agent-process.js";
import type { PreparedMessage } from "./message-attachments.js";

/** One user message and what happened in its turn so far. */
export interface Turn {
  readonly turnId: string;
  /** The message as its sender wrote it. */
  readonly content: string;
  /** What the agent gets, when it differs from `content` (a message with attachments). */
  readonly prepared?: PreparedMessage;
  /** Someone asked to stop it (it ends `interrupted` unless it failed). */
  interruptRequested: boolean;
  /** The agent's parser showed an error in the main conversation in this turn. */
  errorShown: boolean;
  /** The runner said its agent failed (`fatal`) during this turn. */
  agentFailed: boolean;
  /** The model stalled during this turn (it ends `error`, said as `MODEL_STALLED`). */
  modelStalled?: boolean;
}

/** How many messages may wait behind the running turn, in number and in UTF-8 bytes. */
export interface TurnQueueBounds {
  readonly maxQueuedMessages: number;
  readonly maxQueuedBytes: number;
}

export interface TurnHooks {
  /** A turn starts (before its message goes to the agent). */
  started(turn: Turn): void;
  /** A turn ended; called exactly once per started turn. */
  ended(turn: Turn, stopReason: TurnStopReason): void;
  /** No turn runs or waits any more. */
  idle(): void;
  /** A failure of the turn, for the session's user (`withBlock: false`: the agent already showed it). */
  failed(code: ErrorCode, message: string, options?: { withBlock: boolean }): void;
}

/**
 * The messages of one session, one turn at a time, in order, and the one
 * authority on when a turn ends: the runner's `turn_end` for it, else the
 * agent's exit, a failed start, or `close` (a stalled model ends it through
 * one of these, once the agent stops). A second end of the same turn is
 * ignored, so every started turn ends exactly once.
 */
export class TurnQueue {
  private readonly waiting: Turn[] = [];
  private running: Turn | undefined;
  /** Resource limits reported since the current turn started (one error per limit and turn). */
  private readonly reportedLimits = new Set<"memory" | "pids">();
  /** The last turn ended with the agent's failure, and no turn started since. */
  private lastTurnFailed = false;

  constructor(
    private readonly agent: AgentProcess,
    private readonly hooks: TurnHooks,
    private readonly bounds: TurnQueueBounds,
  ) {}

  /** The running turn, if any. */
  get current(): Turn | undefined {
    return this.running;
  }

  /**
   * Adds a message; it starts at once when no turn runs, else it waits
   * (`queued`). Throws `QUEUE_FULL` when it would have to wait and the
   * waiting messages are at `maxQueuedMessages` or would pass `maxQueuedBytes`.
   * `accepted` is called once the message is taken, before its turn starts.
   */
  push(
    content: string,
    prepared?: PreparedMessage,
    accepted?: (turnId: string, queued: boolean) => void,
  ): { turnId: string; queued: boolean } {
    const queued = this.running !== undefined || this.waiting.length > 0;
    if (queued) this.assertRoomFor(content, prepared);
    const turn: Turn = {
      turnId: randomUUID(),
      content,
      ...(prepared ? { prepared } : {}),
      interruptRequested: false,
      errorShown: false,
      agentFailed: false,
    };
    this.waiting.push(turn);
    accepted?.(turn.turnId, queued);
    if (!queued) this.startNext();
    return { turnId: turn.turnId, queued };
  }

  private assertRoomFor(content: string, prepared: PreparedMessage | undefined): void {
    const { maxQueuedMessages, maxQueuedBytes } = this.bounds;
    if (this.waiting.length >= maxQueuedMessages) {
      throw new RuntimeError(
        "QUEUE_FULL",
        `${this.waiting.length} messages already wait for their turn (at most ${maxQueuedMessages})`,
      );
    }
    const held = (text: string, message: PreparedMessage | undefined) =>
      Buffer.byteLength(message?.content ?? text) +
      (message?.images ?? []).reduce((sum, image) => sum + image.data.length, 0);
    let bytes = held(content, prepared);
    for (const turn of this.waiting) bytes += held(turn.content, turn.prepared);
    if (bytes > maxQueuedBytes) {
      throw new RuntimeError(
        "QUEUE_FULL",
        `The waiting messages would hold ${bytes} bytes (at most ${maxQueuedBytes})`,
      );
    }
  }

  /** The messages waiting for their turn, as clients see them. */
  queued(): QueuedMessage[] {
    return this.waiting.map(({ turnId, content }) => ({ turnId, content }));
  }

  /**
   * Asks the agent to stop the running turn; it is killed when it has not
   * within its grace period. False when no turn runs.
   */
  interrupt(): boolean {
    const turn = this.running;
    if (!turn) return false;
    turn.interruptRequested = true;
    this.agent.interrupt(() => this.running === turn);
    return true;
  }

  /**
   * The model sent nothing for the stall timeout: said once per turn as
   * `MODEL_STALLED`, and the agent is interrupted (killed when it has not
   * stopped within its grace period). The turn then ends `error` when the
   * agent stops, keeping what it showed; the agent's own error about the
   * aborted request is not said again. Ignored when no turn runs.
   */
  modelStalled(message: string): void {
    const turn = this.running;
    if (!turn || turn.modelStalled) return;
    turn.modelStalled = true;
    this.hooks.failed("MODEL_STALLED", message);
    this.agent.interrupt(() => this.running === turn);
  }

  /** What the agent's parser reported: an error block in the main conversation shows the turn's failure. */
  agentReported(events: readonly AgentEvent[]): void {
    const turn = this.running;
    if (turn && events.some(isMainErrorBlock)) turn.errorShown = true;
  }

  /** The runner reports the end of a turn. */
  turnEnded(output: Extract<RunnerOutput, { type: "turn_end" }>): void {
    const turn = this.running;
    if (turn?.turnId !== output.turnId) return;
    // The agent's own error block, when its parser made one, already shows the failure.
    if (output.error && !turn.modelStalled) {
      this.hooks.failed("AGENT_FAILED", output.error, { withBlock: !turn.errorShown });
    }
    const interrupted = turn.interruptRequested && output.stopReason !== "error";
    this.lastTurnFailed = output.error !== undefined;
    this.end(turn, turn.modelStalled ? "error" : interrupted ? "interrupted" : output.stopReason);
  }

  /**
   * The runner says its agent failed (`fatal`; its exit follows). Said once:
   * not again when it explains the failed end of the turn just before, nor
   * as an exit once said.
   */
  agentFailed(message: string): void {
    const turn = this.running;
    if (turn) turn.agentFailed = true;
    else if (this.lastTurnFailed) return;
    this.hooks.failed("AGENT_FAILED", message);
  }

  /**
   * The sandbox hit a resource limit: `process` when some process of it was
   * stopped, `exit` when the agent itself was. Said once per limit and turn.
   */
  limitHit(limit: "memory" | "pids", by: "process" | "exit"): void {
    if (this.reportedLimits.has(limit)) return;
    this.reportedLimits.add(limit);
    const message =
      by === "exit"
        ? `The sandbox hit its ${limit} limit and the agent was stopped`
        : limit === "memory"
          ? "A process in the sandbox was killed at the sandbox's memory limit"
          : "The sandbox refused to start more processes: it is at its process limit";
    this.hooks.failed("RESOURCE_LIMIT", message);
  }

  /**
   * The agent's process exited: the running turn ends with `error` (said as
   * `AGENT_FAILED` unless a limit, a protocol violation or the caller, with
   * `explained`, explains it), or
   * `interrupted` when that was asked for.
   */
  agentExited(exit: ExitStatus & { violation?: string; explained?: boolean }): void {
    if (exit.limit) this.limitHit(exit.limit, "exit");
    const turn = this.running;
    if (!turn) return;
    // A limit, a protocol violation, a stalled model, the agent's failure or the caller (`explained`) reported it already.
    const explained =
      exit.explained === true ||
      exit.limit !== undefined ||
      exit.violation !== undefined ||
      turn.agentFailed ||
      turn.modelStalled;
    if (!turn.interruptRequested && !explained) {
      this.hooks.failed(
        "AGENT_FAILED",
        `The agent process exited (code ${exit.code}, signal ${exit.signal})`,
      );
    }
    this.end(turn, turn.interruptRequested && !turn.modelStalled ? "interrupted" : "error");
  }

  /**
   * The server stopped while turn `turnId` ran (found when the session was
   * loaded again): nothing will end it any more, so it ends with `error`,
   * said as `SERVER_RESTARTED`.
   */
  abandoned(turnId: string): void {
    this.hooks.failed("SERVER_RESTARTED", "The server stopped while this turn ran; it was not finished");
    const turn: Turn = {
      turnId,
      content: "",
      interruptRequested: false,
      errorShown: false,
      agentFailed: false,
    };
    this.hooks.ended(turn, "error");
  }

  /** Drops the waiting messages and ends the running turn as `interrupted` (the session is closing). */
  close(): void {
    this.waiting.length = 0;
    const turn = this.running;
    if (!turn) return;
    turn.interruptRequested = true;
    this.agent.send({ type: "interrupt" });
    this.end(turn, "interrupted");
  }

  private startNext(): void {
    if (this.running) return;
    const turn = this.waiting.shift();
    if (!turn) {
      this.hooks.idle();
      return;
    }
    this.running = turn;
    this.reportedLimits.clear();
    this.lastTurnFailed = false;
    this.hooks.started(turn);
    void this.deliver(turn);
  }

  private async deliver(turn: Turn): Promise<void> {
    const { turnId, prepared } = turn;
    const content = prepared?.content ?? turn.content;
    const images = prepared && prepared.images.length > 0 ? { images: [...prepared.images] } : {};
    let sent: boolean;
    try {
      sent = await this.agent.sendMessage(
        { turnId, content, ...images },
        () => this.running === turn && !turn.interruptRequested,
      );
    } catch (error) {
      if (this.running === turn) {
        this.hooks.failed(RuntimeError.is(error) ? error.code : "SANDBOX_FAILED", errorMessage(error));
      }
      this.end(turn, "error");
      return;
    }
    if (sent || this.running !== turn) return;
    if (!turn.interruptRequested) this.hooks.failed("AGENT_FAILED", "The agent process is not running");
    this.end(turn, turn.interruptRequested ? "interrupted" : "error");
  }

  private end(turn: Turn, stopReason: TurnStopReason): void {
    if (this.running !== turn) return;
    this.running = undefined;
    this.hooks.ended(turn, stopReason);
    this.startNext();
  }
}

/** An error block of the main conversation, as the agent's parser reports one. */
function isMainErrorBlock(event: AgentEvent): boolean {
  return event.kind === "block_complete" && event.block.type === "error" && isMainBlock(event.block);
}
