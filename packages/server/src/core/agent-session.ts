import { createHash, randomUUID } from "node:crypto";
import type {
  AgentProfile,
  Block,
  PermissionPolicy,
  PermissionRequest,
  PermissionResolution,
  RunnerOutput,
  RuntimeState,
  SandboxStatus,
  SessionData,
  SessionEvent,
  SessionEventInput,
  SessionRecord,
  SessionSummary,
  TurnStopReason,
} from "@agent-runtime/protocol";
import type { Logger } from "pino";
import type {
  AgentArchitecture,
  AgentEvent,
  AgentOutputParser,
  ModelEndpoint,
} from "../agents/agent-architecture.js";
import { errorMessage, RuntimeError } from "../errors.js";
import type { PersistenceAdapter } from "../persistence/persistence-adapter.js";
import type { ExitStatus, Sandbox, SandboxFile, SandboxProvider } from "../sandboxes/sandbox-provider.js";
import { EventLog, type SessionEventListener } from "./event-log.js";
import { sandboxEgressFor } from "./model-egress.js";
import { RunnerConnection } from "./runner-connection.js";
import type { RunnerLimits } from "./runner-limits.js";
import { SessionState } from "./session-state.js";
import { addUsage } from "./usage.js";
import { resolveWorkspacePath } from "./workspace-path.js";

export interface AgentSessionDeps {
  readonly persistence: PersistenceAdapter;
  readonly sandboxProvider: SandboxProvider;
  readonly architecture: AgentArchitecture;
  readonly profile: AgentProfile;
  readonly endpoint: ModelEndpoint;
  readonly logger: Logger;
  /** Tear the sandbox down after this long without activity (0 disables). */
  readonly idleTimeoutMs: number;
  /** How long an interrupted turn may take to stop before its runner is killed. */
  readonly interruptGraceMs: number;
  /** Files larger than this are indexed but their content is not persisted. */
  readonly maxPersistedFileBytes: number;
  /** How long a permission request waits for an answer before it is denied. */
  readonly permissionTimeoutMs: number;
  /** Limit the sandbox's egress (when its provider can) and keep the model key out of it. */
  readonly restrictEgress: boolean;
  /** First delay before a failed sync is retried; it doubles on each further failure. */
  readonly syncRetryMinMs: number;
  /** Upper bound of the retry delay. */
  readonly syncRetryMaxMs: number;
  /** Recent events kept for resume (see `EventLog`). */
  readonly eventWindowSize: number;
  /** Bounds on what a sandbox's runner may send; past them it is stopped (`RUNNER_PROTOCOL`). */
  readonly runnerLimits: RunnerLimits;
}

/** The permission policy of a session: its own option, else its profile's, else bypass. */
export function effectivePermissions(
  profile: AgentProfile,
  options: SessionRecord["sessionOptions"],
): PermissionPolicy {
  return options.permissions ?? profile.permissions ?? { mode: "bypass" };
}

interface OpenPermission {
  readonly request: PermissionRequest;
  readonly timer: NodeJS.Timeout;
}

interface Turn {
  readonly turnId: string;
  readonly content: string;
  interruptRequested?: boolean;
  /** The message went to the runner. */
  sent?: boolean;
}

/** How a client catches up from a cursor: the missed events, or a snapshot when they are gone. */
export type SessionResume =
  | { readonly kind: "events"; readonly events: SessionEvent[] }
  | { readonly kind: "snapshot"; readonly snapshot: SessionData };

/** Sandbox name of a session: deterministic so another process can find it. */
export function sandboxNameFor(sessionId: string): string {
  return `session-${sessionId}`;
}

/**
 * One agent conversation. Creating it creates no sandbox; the first message
 * does (lazily), later messages reuse the sandbox and the live agent process.
 * Messages sent while a turn runs wait in order. Everything the session does
 * is an event on its `EventLog`; `sync()` writes what changed since the last
 * sync to persistence.
 *
 * Commands (`sendMessage`, `interrupt`, `hibernate`, `close`) may be called
 * at any time; they never throw for runtime failures of the agent or the
 * sandbox (those become `error` events and blocks), only for invalid use.
 */
export class AgentSession {
  readonly id: string;
  readonly log: EventLog;
  private record: SessionRecord;
  private runtime: RuntimeState;
  private readonly state = new SessionState();
  private readonly queue: Turn[] = [];
  private current: Turn | undefined;
  private sandbox: Sandbox | undefined;
  private runner: RunnerConnection | undefined;
  private parser: AgentOutputParser | undefined;
  /** Resource limits already reported in the current turn (one error per limit and turn). */
  private readonly reportedLimits = new Set<"memory" | "pids">();
  /** Ids of the blocks the current parser reported. */
  private readonly runnerBlockIds = new Set<string>();
  private starting: Promise<void> | undefined;
  private recordDirty = false;
  /** What this process last stored of the transcript (unknown after a failed write). */
  private storedTranscript: { length: number; digest: string } | undefined;
  private transcriptDirty = false;
  private syncChain: Promise<void> = Promise.resolve();
  private idleTimer: NodeJS.Timeout | undefined;
  private interruptTimer: NodeJS.Timeout | undefined;
  private syncRetryTimer: NodeJS.Timeout | undefined;
  /** Consecutive failed syncs; sets the retry delay. */
  private syncFailures = 0;
  private closed = false;
  private persistenceFailing = false;
  private readonly logger: Logger;
  private readonly permissions = new Map<string, OpenPermission>();
  /** Tools a person allowed "always" in this session. */
  private readonly alwaysAllowed = new Set<string>();

  constructor(
    private readonly deps: AgentSessionDeps,
    record: SessionRecord,
    restored?: { blocks: Block[]; files: Array<{ path: string; size: number; modifiedAt: string }> },
  ) {
    this.id = record.sessionId;
    this.record = record;
    this.logger = deps.logger.child({ sessionId: record.sessionId });
    this.log = new EventLog({
      sessionId: record.sessionId,
      lastSeq: record.lastSeq,
      windowSize: deps.eventWindowSize,
    });
    this.state.restoreBlocks(restored?.blocks ?? []);
    for (const file of restored?.files ?? []) this.state.files.set(file.path, file);
    this.runtime = {
      isLoaded: true,
      sandboxStatus:
        restored && (record.nativeSessionId || restored.files.length > 0) ? "terminated" : "pending",
      busy: false,
      queuedMessages: [],
      lastActivityAt: record.updatedAt,
    };
    // Requests open when the session was last saved have no agent waiting any more.
    for (const request of record.pendingPermissions ?? []) {
      this.emit({
        type: "session:permission:resolved",
        requestId: request.requestId,
        decision: "deny",
        reason: "expired",
      });
    }
    if (record.pendingPermissions?.length) {
      this.record = { ...this.record, pendingPermissions: [] };
      this.recordDirty = true;
    }
  }

  get architectureId(): string {
    return this.deps.architecture.id;
  }

  get isBusy(): boolean {
    return this.runtime.busy;
  }

  get sandboxId(): string | undefined {
    return this.sandbox?.id;
  }

  subscribe(listener: SessionEventListener): () => void {
    return this.log.subscribe(listener);
  }

  /** Events after `afterSeq`, or `null` when they are no longer held (send `snapshot()` instead). */
  eventsAfter(afterSeq: number): SessionEvent[] | null {
    return this.log.eventsAfter(afterSeq);
  }

  /**
   * What a client that has seen the events up to `afterSeq` needs to catch
   * up: the events after it, or the whole session when they are no longer
   * held. Every transport resumes through this.
   */
  resume(afterSeq: number): SessionResume {
    const events = this.log.eventsAfter(afterSeq);
    return events === null ? { kind: "snapshot", snapshot: this.snapshot() } : { kind: "events", events };
  }

  summary(): SessionSummary {
    return { ...this.record, lastSeq: this.log.lastSeq, runtime: { ...this.runtime } };
  }

  snapshot(): SessionData {
    return {
      ...this.summary(),
      blocks: this.state.mainBlocks(),
      files: [...this.state.files.values()].sort((a, b) => a.path.localeCompare(b.path)),
      subagents: [...this.state.subagents.values()],
      pendingPermissions: [...this.permissions.values()].map((open) => open.request),
    };
  }

  subagentBlocks(subagentId: string): Block[] {
    if (!this.state.subagents.has(subagentId)) {
      throw new RuntimeError("SUBAGENT_NOT_FOUND", `Subagent ${subagentId} not found in session ${this.id}`);
    }
    return this.state.subagentBlocks(subagentId);
  }

  /**
   * Queues a user message. Starts a turn at once when none runs; otherwise the
   * message waits and `queued` is true. Throws `SHUTTING_DOWN` after `close()`.
   */
  sendMessage(content: string): { turnId: string; queued: boolean } {
    if (this.closed) throw new RuntimeError("SHUTTING_DOWN", "The session is closing");
    const turn: Turn = { turnId: randomUUID(), content };
    const queued = this.runtime.busy || this.queue.length > 0;
    this.queue.push(turn);
    this.clearIdleTimer();
    if (this.runtime.busy) this.setRuntime({ queuedMessages: this.queuedMessages() });
    else void this.runNextTurn();
    return { turnId: turn.turnId, queued };
  }

  /**
   * Stops the running turn: asks the agent, then kills its process when it has
   * not stopped within the grace period. A `turn:completed` with reason
   * `interrupted` follows. Returns false when no turn runs.
   */
  interrupt(): boolean {
    const turn = this.current;
    if (!turn) return false;
    turn.interruptRequested = true;
    if (this.runner?.send({ type: "interrupt" })) {
      clearTimeout(this.interruptTimer);
      this.interruptTimer = setTimeout(() => {
        if (this.current === turn) {
          this.logger.warn("agent did not stop after interrupt; killing its process");
          this.runner?.kill();
        }
      }, this.deps.interruptGraceMs);
    }
    return true;
  }

  private async runNextTurn(): Promise<void> {
    const turn = this.queue.shift();
    if (!turn) return;
    this.current = turn;
    this.setRuntime({ busy: true, currentTurnId: turn.turnId, queuedMessages: this.queuedMessages() });
    this.reportedLimits.clear();
    this.emit({ type: "session:turn:started", turnId: turn.turnId, content: turn.content });
    const userBlock: Block = {
      type: "user_message",
      id: `user-${turn.turnId}`,
      timestamp: new Date().toISOString(),
      content: turn.content,
    };
    this.startBlock(userBlock);
    this.completeBlock(userBlock);
    if (!this.record.title) {
      this.record = { ...this.record, title: turn.content.slice(0, 80) };
      this.recordDirty = true;
    }
    try {
      await this.ensureAgent();
    } catch (error) {
      this.reportError(RuntimeError.is(error) ? error.code : "SANDBOX_FAILED", errorMessage(error));
      this.finishTurn(turn, "error");
      return;
    }
    if (turn.sent) return;
    if (turn.interruptRequested) {
      this.finishTurn(turn, "interrupted");
      return;
    }
    if (!this.runner || !this.sendTurn(this.runner, turn)) {
      this.reportError("AGENT_FAILED", "The agent process is not running");
      this.finishTurn(turn, "error");
    }
  }

  private sendTurn(runner: RunnerConnection, turn: Turn): boolean {
    turn.sent = runner.send({ type: "message", turnId: turn.turnId, content: turn.content });
    return turn.sent;
  }

  private finishTurn(turn: Turn, stopReason: TurnStopReason): void {
    if (this.current !== turn) return;
    clearTimeout(this.interruptTimer);
    this.cancelPermissions();
    for (const event of this.parser?.flush() ?? []) this.applyAgentEvent(event);
    this.current = undefined;
    this.emit({ type: "session:turn:completed", turnId: turn.turnId, stopReason });
    this.setRuntime({ busy: false, currentTurnId: undefined });
    void this.sync().catch(() => undefined);
    if (this.queue.length > 0) void this.runNextTurn();
    else this.armIdleTimer();
  }

  /** Creates the sandbox and starts the agent unless they already run. */
  private ensureAgent(): Promise<void> {
    if (this.runner && !this.runner.exited) return Promise.resolve();
    this.starting ??= this.startAgent().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private async startAgent(): Promise<void> {
    const { architecture, sandboxProvider, profile, persistence } = this.deps;
    this.setRuntime({ sandboxStatus: "creating", error: undefined });
    // A running sync may still be saving what the previous sandbox left; restore from its result.
    await this.syncChain;
    try {
      // With a provider that can limit egress, the sandbox reaches only the model (whose key its
      // proxy injects) and the profile's external MCP servers; the agent holds a placeholder key.
      const egress =
        this.deps.restrictEgress && sandboxProvider.capabilities.networkPolicy
          ? sandboxEgressFor(this.deps.endpoint, architecture, profile)
          : undefined;
      let sandbox = this.sandbox;
      if (!sandbox) {
        const created = await sandboxProvider.create({
          name: sandboxNameFor(this.id),
          ...(egress ? { network: egress.network } : {}),
        });
        // Any process of the sandbox, a tool of the agent as much as the agent, may hit a limit.
        created.onLimit?.((limit) => this.onSandboxLimit(created, limit));
        sandbox = created;
      }
      this.sandbox = sandbox;
      const dirs = { workspaceDir: sandbox.workspaceDir, homeDir: sandbox.homeDir };
      const files: SandboxFile[] = architecture.materialize({
        profile,
        sessionOptions: this.record.sessionOptions,
        ...dirs,
      });
      for (const file of await persistence.listWorkspaceFiles(this.id)) {
        files.push({ path: resolveWorkspacePath(sandbox.workspaceDir, file.path), content: file.content });
      }
      let resumeSessionId: string | undefined;
      if (this.record.nativeSessionId) {
        const transcript = await persistence.loadTranscript(this.id);
        if (transcript !== null) {
          resumeSessionId = this.record.nativeSessionId;
          files.push({
            path: architecture.transcriptPath({ ...dirs, nativeSessionId: resumeSessionId }),
            content: transcript,
          });
        }
      }
      await sandbox.writeFiles(files);
      const runnerInput = {
        profile,
        sessionOptions: this.record.sessionOptions,
        ...dirs,
        endpoint: egress?.agentEndpoint ?? this.deps.endpoint,
        permissions: effectivePermissions(profile, this.record.sessionOptions),
        ...(resumeSessionId ? { resumeSessionId } : {}),
      };
      const runner = new RunnerConnection(
        sandbox,
        {
          onOutput: (output) => this.onRunnerOutput(runner, output),
          onInvalidLine: (line) =>
            this.logger.warn({ line: line.slice(0, 200) }, "invalid runner output line"),
          onDropped: (dropped) => this.logger.warn(dropped, "runner lines dropped"),
          onViolation: (message) => {
            if (runner === this.runner) this.reportError("RUNNER_PROTOCOL", message);
          },
          onStderr: (text) => this.logger.debug({ stderr: text.slice(0, 2000) }, "runner stderr"),
          onExit: (status) => this.onRunnerExit(runner, status),
        },
        this.deps.runnerLimits,
      );
      this.parser = architecture.createParser();
      this.runnerBlockIds.clear();
      this.runner = runner;
      // The turn that needed the agent is sent as soon as the runner runs, so the agent's start-up and
      // its first message overlap (the runner queues it until the agent takes input).
      const turn = this.current;
      await runner.start(architecture.runnerConfig(runnerInput), architecture.runnerEnv(runnerInput), {
        onSpawned: () => {
          if (turn && this.current === turn && !turn.interruptRequested) this.sendTurn(runner, turn);
        },
      });
      this.setRuntime({ sandboxStatus: "running", sandboxId: sandbox.id, agentPid: runner.pid });
      this.logger.info({ sandboxId: sandbox.id, agentPid: runner.pid }, "agent started");
    } catch (error) {
      this.runner = undefined;
      const failed = this.sandbox;
      this.sandbox = undefined;
      await failed?.terminate().catch(() => undefined);
      this.setRuntime({
        sandboxStatus: "error",
        sandboxId: undefined,
        agentPid: undefined,
        error: { code: RuntimeError.is(error) ? error.code : "SANDBOX_FAILED", message: errorMessage(error) },
      });
      throw error;
    }
  }

  private onRunnerOutput(runner: RunnerConnection, output: RunnerOutput): void {
    if (runner !== this.runner) return;
    this.touch();
    switch (output.type) {
      case "agent":
        this.transcriptDirty = true;
        for (const event of this.parser?.parse(output.message) ?? []) this.applyAgentEvent(event);
        return;
      case "turn_end":
        if (this.current?.turnId === output.turnId) {
          if (output.error) this.reportError("AGENT_FAILED", output.error);
          this.finishTurn(
            this.current,
            this.current.interruptRequested && output.stopReason !== "error"
              ? "interrupted"
              : output.stopReason,
          );
        }
        return;
      case "file":
        if (this.isWorkspacePath(output.path)) this.applyFileEvent(output);
        return;
      case "permission_request":
        this.openPermission(output);
        return;
      case "log":
        this.logger[output.level]({ source: "runner" }, output.message);
        return;
      case "fatal":
        this.reportError("AGENT_FAILED", output.message);
        return;
      case "ready":
        return;
    }
  }

  private onRunnerExit(runner: RunnerConnection, status: ExitStatus): void {
    if (runner !== this.runner) return;
    this.runner = undefined;
    const sandbox = this.sandbox;
    this.sandbox = undefined;
    // The dead sandbox still holds the transcript and changed files of the last
    // turn: save them, then terminate it. Queued before anything else (a next
    // turn's start waits for the sync queue), so the next sandbox restores them.
    void this.enqueueSync(async () => {
      try {
        await this.syncOnce(sandbox);
      } finally {
        await sandbox?.terminate().catch(() => undefined);
      }
    }).catch(() => undefined);
    // Before the turn ends: ending it may start the next queued turn, whose status must win.
    if (!this.closed) {
      this.setRuntime({ sandboxStatus: "terminated", agentPid: undefined, sandboxId: undefined });
    }
    const turn = this.current;
    if (status.limit && !this.reportedLimits.has(status.limit)) {
      this.reportedLimits.add(status.limit);
      this.reportError(
        "RESOURCE_LIMIT",
        `The sandbox hit its ${status.limit} limit and the agent was stopped`,
      );
    }
    if (turn) {
      // A protocol violation was reported when the runner was stopped for it.
      if (!turn.interruptRequested && !status.limit && runner.violation === undefined) {
        this.reportError(
          "AGENT_FAILED",
          `The agent process exited (code ${status.code}, signal ${status.signal})`,
        );
      }
      this.finishTurn(turn, turn.interruptRequested ? "interrupted" : "error");
    }
  }

  /** A process of the running sandbox hit a limit: the session says so once per limit and turn. */
  private onSandboxLimit(sandbox: Sandbox, limit: "memory" | "pids"): void {
    if (sandbox !== this.sandbox || this.closed || this.reportedLimits.has(limit)) return;
    this.reportedLimits.add(limit);
    this.reportError(
      "RESOURCE_LIMIT",
      limit === "memory"
        ? "A process in the sandbox was killed at the sandbox's memory limit"
        : "The sandbox refused to start more processes: it is at its process limit",
    );
  }

  private applyAgentEvent(event: AgentEvent): void {
    // Block ids are stable, so a resumed agent that reports a block again
    // (e.g. its init message) must not replace what the session already holds.
    if (event.kind === "block_start" || event.kind === "block_complete") {
      if (this.isSettled(event.block.id)) return;
      this.runnerBlockIds.add(event.block.id);
    }
    switch (event.kind) {
      case "block_start":
        this.startBlock(event.block);
        return;
      case "block_delta":
        if (this.state.appendDelta(event.blockId, event.delta)) {
          this.emit({ type: "session:block:delta", blockId: event.blockId, delta: event.delta });
        }
        return;
      case "block_update":
        if (this.state.update(event.blockId, event.updates)) {
          this.emit({ type: "session:block:update", blockId: event.blockId, updates: event.updates });
        }
        return;
      case "block_complete":
        if (!this.state.has(event.block.id)) this.startBlock(event.block);
        this.completeBlock(event.block);
        if (event.block.type === "subagent") this.trackSubagent(event.block);
        return;
      case "subagent_discovered":
        this.state.subagents.set(event.subagent.id, event.subagent);
        this.emit({ type: "session:subagent:discovered", subagent: event.subagent });
        return;
      case "subagent_completed": {
        const subagent = this.state.subagents.get(event.subagentId);
        if (subagent) {
          this.state.subagents.set(event.subagentId, {
            ...subagent,
            status: event.status,
            completedAt: new Date().toISOString(),
          });
        }
        this.emit({ type: "session:subagent:completed", subagentId: event.subagentId, status: event.status });
        return;
      }
      case "usage":
        this.record = { ...this.record, usage: addUsage(this.record.usage, event.usage) };
        this.recordDirty = true;
        this.emit({
          type: "session:metadata:update",
          usage: this.record.usage,
          turnUsage: event.usage,
          estimated: event.estimated,
        });
        return;
      case "native_session":
        if (this.record.nativeSessionId !== event.nativeSessionId) {
          this.record = { ...this.record, nativeSessionId: event.nativeSessionId };
          this.recordDirty = true;
        }
        return;
      case "turn_result":
        if (event.stopReason === "error" && event.error) this.reportError("AGENT_FAILED", event.error);
        return;
    }
  }

  /** True for a block completed before the current runner started (its ids are in `runnerBlockIds`). */
  private isSettled(blockId: string): boolean {
    return this.state.has(blockId) && !this.state.isInflight(blockId) && !this.runnerBlockIds.has(blockId);
  }

  private trackSubagent(block: Extract<Block, { type: "subagent" }>): void {
    const known = this.state.subagents.get(block.subagentId);
    if (known && known.status !== block.status) {
      this.state.subagents.set(block.subagentId, { ...known, status: block.status });
    }
  }

  private startBlock(block: Block): void {
    this.state.start(block);
    this.emit({ type: "session:block:start", block });
  }

  private completeBlock(block: Block): void {
    this.state.complete(block);
    this.emit({ type: "session:block:complete", blockId: block.id, block });
  }

  /**
   * True when a path from the sandbox names a file inside the workspace. The
   * runner protocol admits only such paths; this is the second line of defence.
   */
  private isWorkspacePath(path: string): boolean {
    try {
      resolveWorkspacePath(this.sandbox?.workspaceDir ?? "/workspace", path);
      return true;
    } catch {
      this.logger.debug({ path: path.slice(0, 200) }, "ignored a file event outside the workspace");
      return false;
    }
  }

  private applyFileEvent(output: Extract<RunnerOutput, { type: "file" }>): void {
    const { path } = output;
    if (output.event === "deleted") {
      if (!this.state.files.delete(path)) return;
      this.state.changedFiles.delete(path);
      this.state.deletedFiles.add(path);
      this.emit({ type: "session:file:deleted", path });
      return;
    }
    const file = {
      path,
      size: output.size ?? 0,
      modifiedAt: output.modifiedAt ?? new Date().toISOString(),
    };
    const known = this.state.files.has(path);
    this.state.files.set(path, file);
    this.state.deletedFiles.delete(path);
    this.state.changedFiles.add(path);
    this.emit({ type: known ? "session:file:modified" : "session:file:created", file });
  }

  /** Reads a workspace file: from the live sandbox, else from persistence. */
  async readFile(path: string): Promise<Uint8Array> {
    if (this.sandbox) {
      return this.sandbox.readFile(resolveWorkspacePath(this.sandbox.workspaceDir, path));
    }
    resolveWorkspacePath("/workspace", path);
    const stored = (await this.deps.persistence.listWorkspaceFiles(this.id)).find((f) => f.path === path);
    if (!stored) throw new RuntimeError("FILE_NOT_FOUND", `File ${path} not found`);
    return Buffer.from(stored.content, "utf8");
  }

  /**
   * Writes a workspace file: into the live sandbox (its watcher reports the
   * change), or into persistence while no sandbox runs (restored on the next
   * start). Throws `INVALID_PATH`.
   */
  async writeFile(path: string, content: string): Promise<void> {
    const absolute = resolveWorkspacePath(this.sandbox?.workspaceDir ?? "/workspace", path);
    if (this.sandbox) {
      await this.sandbox.writeFiles([{ path: absolute, content }]);
      return;
    }
    await this.deps.persistence.saveWorkspaceFile(this.id, { path, content });
    this.applyFileEvent({
      type: "file",
      event: this.state.files.has(path) ? "modified" : "created",
      path,
      size: Buffer.byteLength(content),
    });
    this.state.changedFiles.delete(path);
  }

  /** Deletes a workspace file (sandbox or persistence). Throws `INVALID_PATH`, `FILE_NOT_FOUND`. */
  async deleteFile(path: string): Promise<void> {
    const absolute = resolveWorkspacePath(this.sandbox?.workspaceDir ?? "/workspace", path);
    if (!this.state.files.has(path)) throw new RuntimeError("FILE_NOT_FOUND", `File ${path} not found`);
    if (this.sandbox) {
      await this.sandbox.deleteFile(absolute);
      return;
    }
    await this.deps.persistence.deleteWorkspaceFile(this.id, path);
    this.applyFileEvent({ type: "file", event: "deleted", path });
    this.state.deletedFiles.delete(path);
  }

  /**
   * Answers an open permission request. `always` with `allow` also allows
   * later calls of the same tool in this session without asking. Throws
   * `PERMISSION_REQUEST_NOT_FOUND` for unknown, answered or expired requests.
   */
  answerPermission(
    requestId: string,
    answer: { decision: "allow" | "deny"; always?: boolean; message?: string },
  ): { requestId: string; decision: "allow" | "deny" } {
    const open = this.permissions.get(requestId);
    if (!open) {
      throw new RuntimeError("PERMISSION_REQUEST_NOT_FOUND", `Permission request ${requestId} is not open`);
    }
    if (answer.decision === "allow" && answer.always) this.alwaysAllowed.add(open.request.toolName);
    this.resolvePermission(requestId, answer.decision, "answered", answer.message);
    return { requestId, decision: answer.decision };
  }

  private openPermission(line: Extract<RunnerOutput, { type: "permission_request" }>): void {
    if (this.alwaysAllowed.has(line.toolName)) {
      this.runner?.send({ type: "permission_response", requestId: line.requestId, decision: "allow" });
      return;
    }
    const requestedAt = new Date();
    const request: PermissionRequest = {
      requestId: line.requestId,
      toolName: line.toolName,
      input: line.input,
      ...(line.toolUseId ? { toolUseId: line.toolUseId } : {}),
      ...(line.title ? { title: line.title } : {}),
      requestedAt: requestedAt.toISOString(),
      expiresAt: new Date(requestedAt.getTime() + this.deps.permissionTimeoutMs).toISOString(),
    };
    const timer = setTimeout(
      () =>
        this.resolvePermission(
          request.requestId,
          "deny",
          "expired",
          "Nobody answered the permission request in time",
        ),
      this.deps.permissionTimeoutMs,
    );
    timer.unref();
    this.permissions.set(request.requestId, { request, timer });
    this.recordDirty = true;
    this.emit({ type: "session:permission:requested", request });
  }

  private resolvePermission(
    requestId: string,
    decision: "allow" | "deny",
    reason: PermissionResolution,
    message?: string,
  ): void {
    const open = this.permissions.get(requestId);
    if (!open) return;
    clearTimeout(open.timer);
    this.permissions.delete(requestId);
    this.recordDirty = true;
    this.runner?.send({
      type: "permission_response",
      requestId,
      decision,
      ...(message === undefined ? {} : { message }),
    });
    this.emit({ type: "session:permission:resolved", requestId, decision, reason });
  }

  /** Denies every open request (the turn or the agent is gone). */
  private cancelPermissions(): void {
    for (const requestId of [...this.permissions.keys()]) {
      this.resolvePermission(
        requestId,
        "deny",
        "cancelled",
        "The turn ended before the request was answered",
      );
    }
  }

  private queuedMessages(): Array<{ turnId: string; content: string }> {
    return this.queue.map(({ turnId, content }) => ({ turnId, content }));
  }

  /**
   * Flushes what changed since the last sync to persistence. Syncs never
   * overlap (each waits for the previous one). Rejects with
   * `PERSISTENCE_FAILED` when storage fails; the session then reports one
   * `error` event for the outage and retries by itself with exponential
   * backoff (`syncRetryMinMs` doubling up to `syncRetryMaxMs`) until a sync
   * succeeds or the session is closed. What failed to save stays pending.
   */
  sync(): Promise<void> {
    return this.enqueueSync(() => this.syncOnce(this.sandbox));
  }

  private enqueueSync(run: () => Promise<void>): Promise<void> {
    const result = this.syncChain.then(run);
    this.syncChain = result.then(
      () => {
        this.syncFailures = 0;
        clearTimeout(this.syncRetryTimer);
        this.syncRetryTimer = undefined;
      },
      () => this.scheduleSyncRetry(),
    );
    return result;
  }

  private scheduleSyncRetry(): void {
    this.syncFailures += 1;
    if (this.closed || this.syncRetryTimer) return;
    const { syncRetryMinMs, syncRetryMaxMs } = this.deps;
    const delay = Math.min(syncRetryMaxMs, syncRetryMinMs * 2 ** Math.min(this.syncFailures - 1, 30));
    this.syncRetryTimer = setTimeout(() => {
      this.syncRetryTimer = undefined;
      void this.sync().catch(() => undefined);
    }, delay);
    this.syncRetryTimer.unref();
  }

  /**
   * Stores the transcript: nothing when it is unchanged, only what is new
   * when the adapter can append and the transcript grew from what this
   * process stored last (an append-only JSONL, like Claude Code's), else the
   * whole text.
   */
  private async saveTranscript(transcript: string): Promise<void> {
    const { persistence } = this.deps;
    const stored = this.storedTranscript;
    const digest = (text: string) => createHash("sha256").update(text).digest("base64");
    if (stored?.length === transcript.length && stored.digest === digest(transcript)) return;
    this.storedTranscript = undefined;
    const grew =
      stored !== undefined &&
      transcript.length > stored.length &&
      digest(transcript.slice(0, stored.length)) === stored.digest;
    if (grew && persistence.appendTranscript) {
      await persistence.appendTranscript(this.id, transcript.slice(stored.length));
    } else {
      await persistence.saveTranscript(this.id, transcript);
    }
    this.storedTranscript = { length: transcript.length, digest: digest(transcript) };
  }

  /** One sync pass; `sandbox` is where the transcript and changed files are read from (absent: skipped). */
  private async syncOnce(sandbox: Sandbox | undefined): Promise<void> {
    const { persistence } = this.deps;
    try {
      if (sandbox && this.transcriptDirty && this.record.nativeSessionId) {
        this.transcriptDirty = false;
        const path = this.deps.architecture.transcriptPath({
          workspaceDir: sandbox.workspaceDir,
          homeDir: sandbox.homeDir,
          nativeSessionId: this.record.nativeSessionId,
        });
        try {
          const transcript = Buffer.from(await sandbox.readFile(path)).toString("utf8");
          await this.saveTranscript(transcript);
        } catch (error) {
          if (!(RuntimeError.is(error) && error.code === "FILE_NOT_FOUND")) {
            this.transcriptDirty = true;
            throw error;
          }
        }
      }
      await this.syncFiles(sandbox);
      const blocks = this.state.pendingBlocks();
      if (blocks.length > 0) {
        await persistence.saveBlocks(this.id, blocks);
        this.state.markBlocksSynced(blocks);
      }
      const lastSeq = this.log.lastSeq;
      if (this.recordDirty || lastSeq !== this.record.lastSeq) {
        this.recordDirty = false;
        this.record = {
          ...this.record,
          lastSeq,
          updatedAt: new Date().toISOString(),
          pendingPermissions: [...this.permissions.values()].map((open) => open.request),
        };
        await persistence.updateSession(this.record).catch((error: unknown) => {
          this.recordDirty = true;
          throw error;
        });
      }
      if (this.persistenceFailing) {
        this.persistenceFailing = false;
        this.logger.info("persistence recovered");
      }
    } catch (error) {
      if (!this.persistenceFailing) {
        this.persistenceFailing = true;
        this.logger.error({ err: errorMessage(error) }, "sync to persistence failed");
        this.emit({
          type: "error",
          code: "PERSISTENCE_FAILED",
          message: "Saving the session failed; retrying",
        });
      }
      throw new RuntimeError("PERSISTENCE_FAILED", "Saving the session failed", { cause: error });
    }
  }

  private async syncFiles(sandbox: Sandbox | undefined): Promise<void> {
    const { persistence } = this.deps;
    for (const path of [...this.state.deletedFiles]) {
      await persistence.deleteWorkspaceFile(this.id, path);
      this.state.deletedFiles.delete(path);
    }
    if (!sandbox) return;
    for (const path of [...this.state.changedFiles]) {
      const file = this.state.files.get(path);
      this.state.changedFiles.delete(path);
      if (!file || file.size > this.deps.maxPersistedFileBytes) continue;
      let content: Uint8Array;
      try {
        content = await sandbox.readFile(resolveWorkspacePath(sandbox.workspaceDir, path));
      } catch {
        continue;
      }
      try {
        await persistence.saveWorkspaceFile(this.id, {
          path,
          content: Buffer.from(content).toString("utf8"),
        });
      } catch (error) {
        this.state.changedFiles.add(path);
        throw error;
      }
    }
  }

  /**
   * Syncs, stops the agent and terminates the sandbox; the next message brings
   * it back with the workspace and transcript restored. No-op while a turn runs.
   */
  async hibernate(): Promise<void> {
    if (this.runtime.busy || !this.sandbox) return;
    this.clearIdleTimer();
    await this.sync().catch(() => undefined);
    await this.stopAgent();
    if (!this.closed)
      this.setRuntime({ sandboxStatus: "terminated", sandboxId: undefined, agentPid: undefined });
  }

  private async stopAgent(): Promise<void> {
    const runner = this.runner;
    const sandbox = this.sandbox;
    this.runner = undefined;
    this.sandbox = undefined;
    await runner?.stop().catch(() => undefined);
    await sandbox?.terminate().catch(() => undefined);
  }

  /**
   * Ends the session in this process: interrupts a running turn, syncs, and
   * terminates the sandbox. The session stays in persistence.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clearIdleTimer();
    clearTimeout(this.syncRetryTimer);
    this.queue.length = 0;
    this.cancelPermissions();
    if (this.current) {
      const turn = this.current;
      turn.interruptRequested = true;
      this.runner?.send({ type: "interrupt" });
      this.finishTurn(turn, "interrupted");
    }
    await this.sync().catch(() => undefined);
    await this.stopAgent();
    this.setRuntime({ sandboxStatus: "terminated", sandboxId: undefined, agentPid: undefined });
    await this.sync().catch(() => undefined);
    clearTimeout(this.syncRetryTimer);
  }

  /**
   * Kills the agent and terminates the sandbox at once, without syncing: for
   * a shutdown whose grace period is over. Idempotent.
   */
  async kill(): Promise<void> {
    this.closed = true;
    clearTimeout(this.syncRetryTimer);
    this.runner?.kill();
    await this.stopAgent();
  }

  private armIdleTimer(): void {
    this.clearIdleTimer();
    if (this.deps.idleTimeoutMs <= 0 || !this.sandbox || this.closed) return;
    this.idleTimer = setTimeout(() => {
      this.logger.info("idle timeout: tearing down the sandbox");
      void this.hibernate();
    }, this.deps.idleTimeoutMs);
    this.idleTimer.unref();
  }

  private clearIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private reportError(code: string, message: string): void {
    this.logger.warn({ code, message }, "session error");
    this.emit({ type: "error", code, message });
    const block: Block = {
      type: "error",
      id: `error-${randomUUID()}`,
      timestamp: new Date().toISOString(),
      message,
      code,
    };
    this.startBlock(block);
    this.completeBlock(block);
  }

  private touch(): void {
    this.runtime = { ...this.runtime, lastActivityAt: new Date().toISOString() };
  }

  private setRuntime(patch: Partial<RuntimeState> & { sandboxStatus?: SandboxStatus }): void {
    const next: RuntimeState = { ...this.runtime, ...patch, lastActivityAt: new Date().toISOString() };
    for (const key of Object.keys(next) as Array<keyof RuntimeState>) {
      if (next[key] === undefined) delete next[key];
    }
    this.runtime = next;
    this.emit({ type: "session:status", runtime: { ...next } });
  }

  private emit(event: SessionEventInput): void {
    this.log.emit(event);
  }
}
