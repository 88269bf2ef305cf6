import { randomUUID } from "node:crypto";
import type {
  Block,
  BlockPage,
  ErrorCode,
  MessageAttachment,
  RecordedAttachment,
  RunnerOutput,
  RuntimeState,
  SessionData,
  SessionEvent,
  SessionEventInput,
  SessionOptions,
  SessionOptionsPatch,
  SessionRecord,
  SessionSummary,
  TurnStopReason,
} from "@agent-runtime/protocol";
import { DEFAULT_BLOCK_PAGE_SIZE } from "@agent-runtime/protocol";
import type { Logger } from "pino";
import { RuntimeError } from "../errors.js";
import type { StoredFileInfo } from "../persistence/persistence-adapter.js";
import { assertModelRunnable, untrackedPaths } from "./agent-launch.js";
import { AgentProcess } from "./agent-process.js";
import { type BlockPageQuery, newestBlocks, pageOfBlocks } from "./block-page.js";
import { EventLog, type SessionEventListener } from "./event-log.js";
import { type PreparedMessage, prepareMessage } from "./message-attachments.js";
import { type PermissionAnswer, PermissionBroker } from "./permission-broker.js";
import type { AgentSessionDeps } from "./session-deps.js";
import { addBlock, applyAgentEvent, reportError, SessionState, setRuntime } from "./session-state.js";
import { SessionSync } from "./session-sync.js";
import { SessionWorkspace } from "./session-workspace.js";
import { TurnQueue } from "./turn-queue.js";
import type { WorkspaceFileReader } from "./workspace-file-reader.js";

/** How a client catches up from a cursor: the missed events, or a snapshot when they are gone. */
export type SessionResume =
  | { readonly kind: "events"; readonly events: SessionEvent[] }
  | { readonly kind: "snapshot"; readonly snapshot: SessionData };

/**
 * One agent conversation. Creating it creates no sandbox; the first message
 * does (lazily), later messages reuse the sandbox and the live agent process.
 * Messages sent while a turn runs wait in order (`TurnQueue`). Everything the
 * session does is an event on its `EventLog`; `sync()` writes what changed
 * since the last sync to persistence (`SessionSync`).
 *
 * Commands (`sendMessage`, `interrupt`, `hibernate`, `close`) may be called
 * at any time; they never throw for runtime failures of the agent or the
 * sandbox (those become `error` events and blocks), only for invalid use.
 */
export class AgentSession {
  readonly id: string;
  /** The tenant that owns the session; `undefined`: none (see `SessionRecord.tenantId`). */
  readonly tenantId: string | undefined;
  readonly log: EventLog;
  private readonly state: SessionState;
  private readonly turns: TurnQueue;
  private readonly agent: AgentProcess;
  private readonly permissions: PermissionBroker;
  private readonly syncer: SessionSync;
  private readonly workspace: SessionWorkspace;
  private readonly logger: Logger;
  private closed = false;

  constructor(
    private readonly deps: AgentSessionDeps,
    record: SessionRecord,
    restored?: { blocks: Block[]; files: StoredFileInfo[] },
  ) {
    this.id = record.sessionId;
    this.tenantId = record.tenantId;
    this.logger = deps.logger.child({ sessionId: record.sessionId });
    const { lastSeq } = record;
    this.log = new EventLog({ sessionId: this.id, lastSeq, windowSize: deps.eventWindowSize });
    this.state = new SessionState(record, restored);
    const emit = (event: SessionEventInput) => this.log.emit(event);
    this.permissions = new PermissionBroker({
      timeoutMs: deps.permissionTimeoutMs,
      send: (command) => this.agent.send(command),
      emit,
      changed: () => {
        this.state.recordDirty = true;
      },
    });
    this.syncer = new SessionSync({
      ...deps,
      state: this.state,
      logger: this.logger,
      currentSandbox: () => this.agent.sandbox,
      lastSeq: () => this.log.lastSeq,
      pendingPermissions: () => this.permissions.pending(),
      emit,
    });
    this.agent = new AgentProcess(
      {
        ...deps,
        sessionId: this.id,
        logger: this.logger,
        sync: this.syncer,
        state: this.state,
        busy: () => this.turns.current !== undefined,
      },
      {
        output: (output) => this.onAgentOutput(output),
        agentEvents: (events) => {
          this.state.touch();
          this.state.transcriptDirty = true;
          for (const event of events) this.emitAll(applyAgentEvent(this.state, event));
          this.turns.agentReported(events);
        },
        status: (patch) => this.setRuntime(patch),
        workspaceKept: (entries) => this.workspace.kept(entries),
        exited: ({ status, violation, lifetimeEnded }) => {
          if (lifetimeEnded) {
            this.reportError(
              "SANDBOX_FAILED",
              "The sandbox reached the end of its maximum lifetime while the agent was working, and its provider stopped it " +
                "(on Modal: --modal-timeout). The next message starts a new sandbox with the workspace saved before then.",
            );
          }
          this.turns.agentExited({ ...status, violation, ...(lifetimeEnded ? { explained: true } : {}) });
        },
        limit: (limit) => {
          if (!this.closed) this.turns.limitHit(limit, "process");
        },
        modelStalled: ({ method, path, phase, idleMs }) => {
          if (this.closed) return;
          const what = phase === "headers" ? "did not start answering" : "stopped sending its answer";
          this.turns.modelStalled(
            `The model ${what} (${method} ${path}): nothing arrived for ${idleMs / 1000} s, so the turn was stopped`,
          );
        },
        violation: (message) => this.reportError("RUNNER_PROTOCOL", message),
        lifetimeHandedOver: (sandboxId) => {
          this.logger.info({ sandboxId }, "sandbox handed over before the end of its lifetime");
          this.emitAll(
            addBlock(this.state, {
              type: "system",
              subtype: "sandbox_lifetime",
              id: `system-${randomUUID()}`,
              timestamp: new Date().toISOString(),
              content:
                "The sandbox neared the end of its maximum lifetime, so it was stopped between turns with the workspace saved. " +
                "The next message starts a new sandbox with the workspace restored, and the agent resumes its conversation.",
              metadata: { sandboxId },
            }),
          );
        },
      },
    );
    this.turns = new TurnQueue(
      this.agent,
      {
        started: (turn) => this.onTurnStarted(turn.turnId, turn.content, turn.prepared?.attachments ?? []),
        ended: (turn, stopReason) => this.onTurnEnded(turn.turnId, stopReason),
        idle: () => {
          if (!this.closed) this.agent.armIdleTimer();
        },
        failed: (code, message, options) => this.reportError(code, message, options?.withBlock),
      },
      deps,
    );
    this.workspace = new SessionWorkspace({
      ...deps,
      state: this.state,
      untracked: untrackedPaths(deps.profile, deps.architecture),
      sandbox: () => this.agent.sandbox,
      emit,
    });
    this.permissions.expireStored(record.pendingPermissions ?? []);
    if (record.pendingPermissions?.length) this.state.patchRecord({ pendingPermissions: [] });
    deps.probes?.sessionOpened({
      sessionId: this.id,
      architecture: deps.architecture.id,
      tenantId: this.tenantId,
    });
    if (record.openTurnId) {
      // The server died during a turn: close it, and rebuild the index from the workspace the sandbox kept.
      this.turns.abandoned(record.openTurnId);
      void this.agent.recover();
    }
  }

  get isBusy(): boolean {
    return this.state.runtime.busy;
  }

  /** Bytes of the workspace files stored for this session (what tenants' `storedBytes` quotas count). */
  get storedBytes(): number {
    let total = 0;
    for (const file of this.state.storedFiles.values()) total += file.size;
    return total;
  }

  subscribe(listener: SessionEventListener): () => void {
    return this.log.subscribe(listener);
  }

  /**
   * What a client that has seen the events up to `afterSeq` needs to catch
   * up: the events after it, or a snapshot of the session when they are no
   * longer held (with its newest `DEFAULT_BLOCK_PAGE_SIZE` blocks; older ones
   * are paged over REST). Every transport resumes through this; `limit`
   * pages the events (see `EventLog.eventsAfter`).
   */
  resume(afterSeq: number, limit?: number): SessionResume {
    const events = this.log.eventsAfter(afterSeq, limit);
    return events === null
      ? { kind: "snapshot", snapshot: this.snapshot({ blocksLimit: DEFAULT_BLOCK_PAGE_SIZE }) }
      : { kind: "events", events };
  }

  summary(): SessionSummary {
    return { ...this.state.record, lastSeq: this.log.lastSeq, runtime: { ...this.state.runtime } };
  }

  /**
   * What the session holds now. `blocksLimit` bounds the main conversation to
   * its newest blocks (`hasOlderBlocks` says whether some were left out);
   * without it every block is included.
   */
  snapshot(options: { blocksLimit?: number } = {}): SessionData {
    const all = this.state.mainBlocks();
    const { blocks, hasOlderBlocks } =
      options.blocksLimit === undefined
        ? { blocks: all, hasOlderBlocks: false }
        : newestBlocks(all, options.blocksLimit);
    return {
      ...this.summary(),
      blocks,
      ...(hasOlderBlocks ? { hasOlderBlocks } : {}),
      files: this.state.sortedFiles(),
      subagents: [...this.state.subagents.values()],
      pendingPermissions: this.permissions.pending(),
    };
  }

  /** A page of the main conversation (see `pageOfBlocks`, which says what it throws). */
  blockPage(query: BlockPageQuery): BlockPage {
    return { sessionId: this.id, lastSeq: this.log.lastSeq, ...pageOfBlocks(this.state.mainBlocks(), query) };
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
  sendMessage(content: string, prepared?: PreparedMessage): { turnId: string; queued: boolean } {
    if (this.closed) throw new RuntimeError("SHUTTING_DOWN", "The session is closing");
    this.agent.clearIdleTimer();
    const acceptedAt = Date.now();
    const sent = this.turns.push(content, prepared, (turnId, queued) =>
      this.deps.probes?.messageAccepted({ sessionId: this.id, turnId, queued, at: acceptedAt }),
    );
    if (sent.queued) this.setRuntime({ queuedMessages: this.turns.queued() });
    return sent;
  }

  /**
   * Queues a user message with attachments (see `prepareMessage`): they are
   * checked and placed in the workspace first, then the message is queued as
   * `sendMessage` does. Throws what `prepareMessage` and `sendMessage` throw.
   */
  async send(message: {
    content: string;
    attachments?: readonly MessageAttachment[] | undefined;
  }): Promise<{ turnId: string; queued: boolean }> {
    if (!message.attachments?.length) return this.sendMessage(message.content);
    if (this.closed) throw new RuntimeError("SHUTTING_DOWN", "The session is closing");
    const prepared = await prepareMessage(message.content, message.attachments, {
      write: (path, content) => this.workspace.write(path, content),
      read: (path, maxBytes) => this.readFileUpTo(path, maxBytes),
    });
    return this.sendMessage(message.content, prepared);
  }

  /** A workspace file's bytes, refused (`FILE_TOO_LARGE`) without reading it when it has more than `maxBytes`. */
  private async readFileUpTo(path: string, maxBytes: number): Promise<Uint8Array> {
    const reader = await this.openFile(path);
    if (reader.size > maxBytes) {
      await reader.close();
      throw new RuntimeError("FILE_TOO_LARGE", `${path} has ${reader.size} bytes; at most ${maxBytes}`);
    }
    const chunks: Buffer[] = [];
    for await (const chunk of reader.read()) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  /**
   * Stops the running turn: asks the agent, then kills its process when it has
   * not stopped within the grace period. A `turn:completed` with reason
   * `interrupted` follows. Returns false when no turn runs.
   */
  interrupt(): boolean {
    return this.turns.interrupt();
  }

  /**
   * Answers an open permission request. `always` with `allow` also allows
   * later calls of the same tool in this session without asking. Throws
   * `PERMISSION_REQUEST_NOT_FOUND` for unknown, answered or expired requests.
   */
  answerPermission(
    requestId: string,
    answer: PermissionAnswer,
  ): { requestId: string; decision: "allow" | "deny" } {
    return this.permissions.answer(requestId, answer);
  }

  /** Reads a workspace file: from the live sandbox, else from persistence. */
  readFile(path: string): Promise<Uint8Array> {
    return this.workspace.read(path);
  }

  /**
   * Opens a workspace file for streaming (from the live sandbox, else from
   * persistence): its size first, then its bytes or a range of them, without
   * holding the file in memory. Throws `INVALID_PATH`, `FILE_NOT_FOUND`.
   */
  openFile(path: string): Promise<WorkspaceFileReader> {
    return this.workspace.open(path);
  }

  /** Writes a workspace file (into the live sandbox, else into persistence). Throws `INVALID_PATH`. */
  writeFile(path: string, content: string | Uint8Array): Promise<void> {
    return this.workspace.write(path, content);
  }

  /**
   * Writes a workspace file from a byte stream that the caller bounds
   * (streamed into the live sandbox where its provider can, else collected).
   * Throws `INVALID_PATH`; rethrows the stream's error, leaving the earlier
   * file as it was.
   */
  writeFileFrom(path: string, source: AsyncIterable<Uint8Array>): Promise<void> {
    return this.workspace.writeFrom(path, source);
  }

  /** Deletes a workspace file (sandbox or persistence). Throws `INVALID_PATH`, `FILE_NOT_FOUND`. */
  deleteFile(path: string): Promise<void> {
    return this.workspace.delete(path);
  }

  /** Flushes what changed since the last sync to persistence (see `SessionSync`). Rejects with `PERSISTENCE_FAILED`. */
  sync(): Promise<void> {
    return this.syncer.sync();
  }

  /**
   * Syncs, stops the agent and terminates the sandbox; the next message brings
   * it back with the workspace and transcript restored. No-op while a turn runs.
   */
  hibernate(): Promise<void> {
    return this.agent.hibernate();
  }

  /**
   * Ends the session in this process: interrupts a running turn, syncs, and
   * terminates the sandbox. The session stays in persistence.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.syncer.stop();
    this.permissions.cancelAll();
    this.turns.close();
    await this.sync().catch(() => undefined);
    await this.agent.close();
    await this.sync().catch(() => undefined);
    this.deps.probes?.sessionClosed(this.id);
  }

  /**
   * Changes the session's options (`null` removes one: the profile's then
   * applies), stores them and tells clients (`session:options:update`); the
   * agent runs with them from the next turn (restarted in the same sandbox,
   * resuming its transcript). Throws `UNSUPPORTED` for an ask policy its
   * architecture cannot ask with.
   */
  updateOptions(patch: SessionOptionsPatch): SessionOptions {
    const next: Record<string, unknown> = { ...this.state.record.sessionOptions };
    for (const [field, value] of Object.entries(patch)) {
      if (value === undefined) continue;
      if (value === null) delete next[field];
      else next[field] = value;
    }
    if (patch.model === null && this.deps.profile.model) next.model = this.deps.profile.model;
    const options = next as SessionOptions;
    assertModelRunnable(this.deps.architecture, options.model, this.deps.modelProviders);
    const policy = options.permissions ?? this.deps.profile.permissions;
    if (policy?.mode === "ask" && !this.deps.architecture.capabilities.permissions) {
      throw new RuntimeError(
        "UNSUPPORTED",
        `Architecture "${this.deps.architecture.id}" cannot ask for tool permissions; use permissions mode "bypass"`,
      );
    }
    this.state.patchRecord({ sessionOptions: options });
    this.log.emit({ type: "session:options:update", sessionOptions: options });
    this.agent.optionsUpdated();
    void this.sync().catch(() => undefined);
    return options;
  }

  /**
   * Unloads the session from this process: `close()`, then clients are told
   * it is no longer loaded (`isLoaded: false`, sandbox `terminated`). The
   * next message loads it again, with its workspace and transcript restored.
   */
  async unload(): Promise<void> {
    await this.close();
    this.setRuntime({
      isLoaded: false,
      sandboxStatus: "terminated",
      busy: false,
      currentTurnId: undefined,
      queuedMessages: [],
      sandboxId: undefined,
      agentPid: undefined,
    });
    // The record's last seq includes that event, so the session loaded next continues after it.
    await this.sync().catch(() => undefined);
  }

  /** Kills the agent and terminates the sandbox at once, without syncing (shutdown past its grace). Idempotent. */
  async kill(): Promise<void> {
    this.closed = true;
    this.syncer.stop();
    await this.agent.kill();
    this.deps.probes?.sessionClosed(this.id);
  }

  private onTurnStarted(turnId: string, content: string, attachments: readonly RecordedAttachment[]): void {
    this.setRuntime({ busy: true, currentTurnId: turnId, queuedMessages: this.turns.queued() });
    this.log.emit({ type: "session:turn:started", turnId, content });
    const timestamp = new Date().toISOString();
    this.emitAll(
      addBlock(this.state, {
        type: "user_message",
        id: `user-${turnId}`,
        timestamp,
        content,
        ...(attachments.length > 0 ? { attachments: [...attachments] } : {}),
      }),
    );
    this.state.patchRecord({
      openTurnId: turnId,
      ...(this.state.record.title ? {} : { title: content.slice(0, 80) }),
    });
    void this.sync().catch(() => undefined); // A crash from here on is noticed on the next load.
  }

  private onTurnEnded(turnId: string, stopReason: TurnStopReason): void {
    this.permissions.cancelAll();
    this.state.patchRecord({ openTurnId: undefined });
    for (const event of this.agent.turnEnded()) this.emitAll(applyAgentEvent(this.state, event));
    this.log.emit({ type: "session:turn:completed", turnId, stopReason });
    this.setRuntime({ busy: false, currentTurnId: undefined });
    void this.sync().catch(() => undefined);
  }

  private onAgentOutput(output: Exclude<RunnerOutput, { type: "agent" | "log" | "ready" }>): void {
    this.state.touch();
    switch (output.type) {
      case "turn_end":
        this.turns.turnEnded(output);
        return;
      case "file":
        this.workspace.reported(output);
        return;
      case "permission_request":
        this.permissions.request(output);
        return;
      case "fatal":
        this.turns.agentFailed(output.message);
        return;
    }
  }

  private reportError(code: ErrorCode, message: string, withBlock = true): void {
    this.logger.warn({ code, message }, "session error");
    this.emitAll(reportError(this.state, code, message, { withBlock }));
  }

  private setRuntime(patch: Partial<RuntimeState>): void {
    this.log.emit(setRuntime(this.state, patch));
  }

  private emitAll(events: readonly SessionEventInput[]): void {
    for (const event of events) this.log.emit(event);
  }
}
