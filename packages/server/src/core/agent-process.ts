import {
  isIgnoredWorkspacePath,
  type RunnerCommand,
  type RunnerOutput,
  type RuntimeState,
} from "@agent-runtime/protocol";
import type { Logger } from "pino";
import type { AgentEvent, AgentOutputParser } from "../agents/agent-architecture.js";
import type { DependencyLayers } from "../dependencies/dependency-layers.js";
import { errorMessage, RuntimeError } from "../errors.js";
import type { RuntimeProbes } from "../observability/runtime-probes.js";
import type {
  EgressStall,
  ExitStatus,
  Sandbox,
  SandboxNetworkPolicy,
  WorkspaceEntry,
} from "../sandboxes/sandbox-provider.js";
import {
  egressFor,
  type LaunchOptions,
  namesTranscript,
  prepareLaunch,
  sandboxNameFor,
  untrackedPaths,
} from "./agent-launch.js";
import { IdleSuspension } from "./idle-suspension.js";
import type { MessageImage } from "./message-attachments.js";
import { RunnerConnection, type RunnerHandlers } from "./runner-connection.js";
import type { RunnerLimits } from "./runner-limits.js";
import type { SessionState } from "./session-state.js";
import type { SessionSync } from "./session-sync.js";
import type { StartAdmission, StartPriority } from "./start-admission.js";
import type { WarmPool } from "./warm-pool.js";

/** How long before a sandbox's `expiresAt`, at most, the session is handed over to a new sandbox. */
const LIFETIME_MARGIN_MS = 5 * 60 * 1000;
/** A timer's longest delay (Node fires longer ones at once). */
const MAX_TIMER_MS = 2_147_483_647;

/** How often, at most, a session reports the installer's progress while its profile's layer builds. */
const PROGRESS_INTERVAL_MS = 500;

export interface AgentProcessOptions extends LaunchOptions {
  readonly logger: Logger;
  /** Installs the profile's dependencies into the layer its sandboxes mount. */
  readonly dependencyLayers: DependencyLayers;
  /** Bounds how many agents start at once, runtime-wide. */
  readonly startAdmission: StartAdmission;
  readonly runnerLimits: RunnerLimits;
  /** Told how long the sandbox's creation, restore and agent start took (see `RuntimeProbes`). */
  readonly probes?: RuntimeProbes | undefined;
  /** How long an interrupted turn may take to stop before the agent is killed. */
  readonly interruptGraceMs: number;
  /** Egress proxies report a model response idle this long (`handlers.modelStalled`); 0 disables. */
  readonly modelStallTimeoutMs: number;
  /** Tear the sandbox down after this long without a turn (0 disables). */
  readonly idleTimeoutMs: number;
  /** Suspend the sandbox (see `IdleSuspension`) after this long without a turn (0 disables). */
  readonly suspendAfterMs: number;
  /** Saves the session; an exited agent's sandbox is saved before it is terminated, and restored from. */
  readonly sync: SessionSync;
  /** The session (its options and native session id are read as the agent starts). */
  readonly state: SessionState;
  /** True while a turn runs (the sandbox is not torn down then). */
  busy(): boolean;
  /** Started sandboxes a fresh session's first start takes instead of creating one (see `WarmPool`). */
  readonly warmPool?: WarmPool | undefined;
}

export interface AgentProcessHandlers {
  /** Output of the running agent; `agent` lines arrive parsed, through `agentEvents`; `log` lines are logged. */
  output(output: Exclude<RunnerOutput, { type: "agent" | "log" | "ready" }>): void;
  agentEvents(events: AgentEvent[]): void;
  status(patch: Partial<RuntimeState>): void;
  /** The new sandbox kept a workspace (listed here), which is the truth about its files. */
  workspaceKept(entries: readonly WorkspaceEntry[]): void;
  /**
   * The agent's process exited while it was expected to run (its sandbox is
   * being saved and terminated). `violation`: it was stopped for breaking
   * the runner protocol. `lifetimeEnded`: its sandbox had reached its
   * `expiresAt` (the provider stopped it).
   */
  exited(exit: { status: ExitStatus; violation?: string; lifetimeEnded?: true }): void;
  /** A process of the running sandbox hit a resource limit. */
  limit(limit: "memory" | "pids"): void;
  /** The running sandbox's egress proxy saw a model response stall (see `modelStallTimeoutMs`). */
  modelStalled(stall: EgressStall): void;
  /** The sandbox broke the runner protocol; the agent is being stopped (`exited` follows). */
  violation(message: string): void;
  /**
   * The sandbox `sandboxId` neared the end of its lifetime (`Sandbox.expiresAt`) and was
   * stopped between turns, the session saved; the next message starts a new one.
   */
  lifetimeHandedOver(sandboxId: string): void;
}

/**
 * The sandbox and agent process of one session: created on demand with the
 * profile, workspace files and transcript restored into it, started, sent
 * commands, interrupted, hibernated when idle, stopped. When the agent exits
 * on its own, what its sandbox holds is saved before the sandbox goes. It
 * owns the agent's output parser, which lives as long as one agent process.
 */
export class AgentProcess {
  private sandboxValue: Sandbox | undefined;
  private runner: RunnerConnection | undefined;
  private parser: AgentOutputParser | undefined;
  private starting: Promise<void> | undefined;
  private interruptTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Fires shortly before the sandbox's `expiresAt`, to hand the session over. */
  private lifetimeTimer: NodeJS.Timeout | undefined;
  /** The sandbox nears its `expiresAt`: hand over as soon as no turn runs. */
  private lifetimeEnding = false;
  private closed = false;
  /** Every teardown `stop` started, together: a later `stop` waits for them all. */
  private teardowns: Promise<void> = Promise.resolve();
  /** The session's options changed since the agent started: restart it before the next message. */
  private optionsChanged = false;
  private readonly suspension: IdleSuspension;

  constructor(
    private readonly options: AgentProcessOptions,
    private readonly handlers: AgentProcessHandlers,
  ) {
    this.suspension = new IdleSuspension({
      afterMs: options.suspendAfterMs,
      logger: options.logger,
      onSuspended: () => this.handlers.status({ sandboxStatus: "suspended" }),
      onResumed: () => this.handlers.status({ sandboxStatus: "running" }),
    });
  }

  get sandbox(): Sandbox | undefined {
    return this.sandboxValue;
  }

  /**
   * Sends a user message, starting the sandbox and agent first when they do
   * not run. A message that starts the agent is sent as soon as its process
   * is spawned, so the agent's start-up and its first message overlap;
   * `wanted()` is asked right before sending (false: the turn was
   * interrupted meanwhile). Resolves whether it was sent; rejects when the
   * agent could not start (`SANDBOX_FAILED`, `AGENT_FAILED`, `RUNNER_PROTOCOL`).
   */
  async sendMessage(
    message: { turnId: string; content: string; images?: MessageImage[] },
    wanted: () => boolean,
  ): Promise<boolean> {
    const command: RunnerCommand = { type: "message", ...message };
    await this.resumeSuspended();
    if (this.optionsChanged) {
      this.optionsChanged = false;
      await this.stopAgent();
    }
    // A message queued behind the turn that outlived the hand-over point starts in a new sandbox.
    if (this.lifetimeEnding && this.sandboxValue && !this.starting) await this.replaceSandbox();
    let sent = false;
    await this.ensureStarted("message", (runner) => {
      sent = wanted() && runner.send(command);
    });
    return sent || (wanted() && this.send(command));
  }

  /**
   * Starts the sandbox and agent without a message, so the workspace its
   * provider kept is re-scanned and stored (after a crash); then idles until
   * a message comes or the idle timer tears it down. Never rejects: a failed
   * start shows in the status.
   */
  async recover(): Promise<void> {
    if (
      !(await this.ensureStarted("background", () => undefined).then(
        () => true,
        () => false,
      ))
    )
      return;
    await this.options.sync.sync().catch(() => undefined);
    if (!this.options.busy()) this.armIdleTimer();
  }

  /** Starts the agent unless it runs (one start at a time; `onSpawned` only when this call starts it). */
  private async ensureStarted(
    priority: StartPriority,
    onSpawned: (runner: RunnerConnection) => void,
  ): Promise<void> {
    if (this.runner && !this.runner.exited) return;
    this.starting ??= this.admittedStart(priority, onSpawned).finally(() => {
      this.starting = undefined;
    });
    await this.starting;
  }

  /**
   * The session's options changed: the next message starts the agent anew
   * with them, in the same sandbox, resuming its own transcript.
   */
  optionsUpdated(): void {
    if (this.runner) this.optionsChanged = true;
  }

  /** Stops the agent (asking first) and keeps the sandbox, whose next start reuses it. */
  private async stopAgent(): Promise<void> {
    const runner = this.runner;
    this.runner = undefined;
    this.parser = undefined;
    await runner?.stop().catch(() => undefined);
  }

  /** Sends a command to the running agent; false when none runs. A suspended agent reads it once resumed. */
  send(command: RunnerCommand): boolean {
    if (this.suspension.suspended) void this.resumeSuspended();
    return this.runner?.send(command) ?? false;
  }

  /** Thaws a suspended sandbox; one that cannot be thawed is stopped, so the next start makes a new one. */
  private async resumeSuspended(): Promise<void> {
    if (!this.suspension.suspended) return;
    await this.suspension.resume().catch(async () => {
      this.suspension.forget();
      await this.stop();
      if (!this.closed) this.terminated();
    });
  }

  /**
   * Asks the agent to stop its turn; when `stillRunning()` is true after
   * `interruptGraceMs`, kills it. False when no agent runs.
   */
  interrupt(stillRunning: () => boolean): boolean {
    if (!this.send({ type: "interrupt" })) return false;
    clearTimeout(this.interruptTimer);
    this.interruptTimer = setTimeout(() => {
      if (!stillRunning()) return;
      this.options.logger.warn("agent did not stop after interrupt; killing its process");
      this.runner?.kill();
    }, this.options.interruptGraceMs);
    return true;
  }

  /** The turn ended: no kill is pending any more, and every block still open is completed. */
  turnEnded(): AgentEvent[] {
    clearTimeout(this.interruptTimer);
    return this.parser?.flush() ?? [];
  }

  /**
   * Suspends the sandbox after `suspendAfterMs` and tears it down after
   * `idleTimeoutMs`, unless a turn starts first.
   */
  armIdleTimer(): void {
    this.clearIdleTimer();
    if (this.lifetimeEnding && this.sandboxValue && !this.closed) {
      void this.handOver();
      return;
    }
    if (this.sandboxValue && this.runner && !this.closed)
      this.suspension.arm(this.sandboxValue, this.options.sandboxProvider.capabilities.suspend === true);
    if (this.options.idleTimeoutMs <= 0 || !this.sandboxValue || this.closed) return;
    this.idleTimer = setTimeout(() => {
      this.options.logger.info("idle timeout: tearing down the sandbox");
      void this.hibernate();
    }, this.options.idleTimeoutMs);
    this.idleTimer.unref();
  }

  /** Drops the pending suspension and teardown; a sandbox suspended already stays so until it is needed. */
  clearIdleTimer(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.suspension.cancel();
  }

  /**
   * Syncs, stops the agent and terminates the sandbox; the next message
   * brings it back restored. No-op while a turn runs.
   */
  async hibernate(): Promise<void> {
    if (this.options.busy() || !this.sandboxValue) return;
    this.clearIdleTimer();
    await this.options.sync.sync().catch(() => undefined);
    if (this.options.busy()) return; // A message arrived meanwhile: its turn keeps the agent.
    await this.stop();
    if (!this.closed) this.terminated();
  }

  /**
   * The sandbox nears the end of its lifetime (`Sandbox.expiresAt`) and no
   * turn runs: saves the session and stops the sandbox, as `hibernate`
   * does, and tells the session; the next message starts a new sandbox
   * restored, the agent resuming its conversation. No-op while a turn runs
   * or the agent starts (the turn's end, or the start's, calls it again
   * through `armIdleTimer`).
   */
  private async handOver(): Promise<void> {
    const sandbox = this.sandboxValue;
    if (this.options.busy() || !sandbox || this.starting) return;
    await this.hibernate();
    if (this.sandboxValue === undefined && !this.closed) this.handlers.lifetimeHandedOver(sandbox.id);
  }

  /**
   * Hands the session over now, whether or not a turn is marked as running
   * (the turn about to be sent): saves the session, stops the agent and the
   * sandbox, tells the session. The caller starts the next sandbox.
   */
  private async replaceSandbox(): Promise<void> {
    const sandbox = this.sandboxValue;
    if (!sandbox) return;
    this.clearIdleTimer();
    await this.options.sync.sync().catch(() => undefined);
    await this.stop();
    if (this.closed) return;
    this.terminated();
    this.handlers.lifetimeHandedOver(sandbox.id);
  }

  /** Arms the hand-over before `sandbox.expiresAt`: a quarter of the time left, at most `LIFETIME_MARGIN_MS`, before it. */
  private armLifetimeTimer(sandbox: Sandbox): void {
    clearTimeout(this.lifetimeTimer);
    this.lifetimeEnding = false;
    if (sandbox.expiresAt === undefined) return;
    const left = sandbox.expiresAt - Date.now();
    const delay = Math.max(0, left - Math.min(LIFETIME_MARGIN_MS, left / 4));
    const ending = () => {
      if (sandbox !== this.sandboxValue) return;
      this.options.logger.info({ sandboxId: sandbox.id }, "the sandbox nears the end of its lifetime");
      this.lifetimeEnding = true;
      // Saved now (unless the agent is starting): a turn still running at the end then loses as little as possible.
      if (!this.options.busy()) void this.handOver();
      else if (!this.starting) void this.options.sync.sync().catch(() => undefined);
    };
    this.lifetimeTimer = setTimeout(ending, Math.min(delay, MAX_TIMER_MS));
    this.lifetimeTimer.unref();
  }

  /**
   * Stops the agent (asking first) and terminates the sandbox for good; a
   * start under way is waited for (it stops at its next step) and what it
   * made is stopped too, so no sandbox outlives the close.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.clearIdleTimer();
    await this.stop();
    await this.starting?.catch(() => undefined);
    await this.stop();
    this.terminated();
  }

  /** Kills the agent at once and terminates the sandbox (and what a start under way makes, once it ends). */
  async kill(): Promise<void> {
    this.closed = true;
    this.clearIdleTimer();
    this.runner?.kill();
    const starting = this.starting;
    await this.stop();
    void starting?.catch(() => undefined).then(() => this.stop());
  }

  /** Throws when the process was closed meanwhile: a start under way stops at its next step. */
  private checkOpen(): void {
    if (this.closed)
      throw new RuntimeError("SHUTTING_DOWN", "The session was stopped while its agent started");
  }

  private terminated(): void {
    this.handlers.status({ sandboxStatus: "terminated", sandboxId: undefined, agentPid: undefined });
  }

  /**
   * Stops the agent (asking first) and terminates the sandbox. The process's
   * exit is not reported. Resolves once every teardown started so far (by
   * this call or an earlier one, e.g. an idle teardown) has ended, so a close
   * never returns while a sandbox is still being terminated.
   */
  private async stop(): Promise<void> {
    clearTimeout(this.interruptTimer);
    clearTimeout(this.lifetimeTimer);
    this.lifetimeEnding = false;
    // The runner is asked to stop, so it must run (a failed resume leaves it to the kill that follows).
    await this.suspension.resume(false).catch(() => this.suspension.forget());
    const { runner, sandboxValue: sandbox } = this;
    this.runner = undefined;
    this.sandboxValue = undefined;
    const teardown = (async () => {
      await runner?.stop().catch(() => undefined);
      await sandbox?.terminate().catch(() => undefined);
    })();
    this.teardowns = Promise.all([this.teardowns, teardown]).then(() => undefined);
    await this.teardowns;
  }

  /**
   * `start` once the runtime's admission control lets it run (see
   * `StartAdmission`); meanwhile the session shows `queued` with its place.
   */
  private async admittedStart(
    priority: StartPriority,
    onSpawned: (runner: RunnerConnection) => void,
  ): Promise<void> {
    // A warm sandbox starts nothing, so it does not wait for admission.
    if (!this.sandboxValue && (await this.startWarm(onSpawned))) return;
    const release = await this.options.startAdmission.admit(priority, (position) =>
      this.handlers.status({ sandboxStatus: "queued", queuePosition: position }),
    );
    try {
      this.checkOpen();
      await this.start(onSpawned);
    } finally {
      release();
    }
  }

  private async start(onSpawned: (runner: RunnerConnection) => void): Promise<void> {
    const { architecture, sandboxProvider, logger, sessionId } = this.options;
    this.clearIdleTimer();
    this.handlers.status({ sandboxStatus: "creating", error: undefined, queuePosition: undefined });
    // A running sync may still be saving what the previous sandbox left; restore from its result.
    await this.options.sync.settled();
    try {
      let sandbox = this.sandboxValue;
      if (!sandbox) {
        const layer = await this.prepareLayer();
        const egress = egressFor(this.options);
        let created: Sandbox | undefined;
        created = await this.timed("sandbox.create", () =>
          sandboxProvider.create({
            name: sandboxNameFor(sessionId),
            ...(egress ? { network: { ...egress.network, ...this.stallWatch(() => created) } } : {}),
            ...(layer === undefined ? {} : { layer }),
          }),
        );
        // Any process of the sandbox, a tool of the agent as much as the agent, may hit a limit.
        created.onLimit?.((limit) => {
          if (created === this.sandboxValue) this.handlers.limit(limit);
        });
        sandbox = created;
        this.sandboxValue = sandbox;
        this.checkOpen();
        this.armLifetimeTimer(created);
      }
      this.sandboxValue = sandbox;
      const launch = await this.restoreInto(sandbox);
      const config = {
        ...architecture.runnerConfig(launch.input),
        watchIgnore: untrackedPaths(this.options.profile, architecture),
      };
      const tracked = launch.kept.filter((entry) => !isIgnoredWorkspacePath(entry.path, config.watchIgnore));
      if (launch.kept.length > 0) this.handlers.workspaceKept(tracked);
      const { input } = launch;
      const runner = this.connect(sandbox);
      this.runner = runner;
      this.parser = architecture.createParser();
      this.options.state.agentRestarted();
      await this.timed("agent.start", () =>
        runner.start(config, architecture.runnerEnv(input), {
          onSpawned: () => onSpawned(runner),
        }),
      );
      this.handlers.status({ sandboxStatus: "running", sandboxId: sandbox.id, agentPid: runner.pid });
      logger.info({ sandboxId: sandbox.id, agentPid: runner.pid }, "agent started");
    } catch (error) {
      await this.startFailed(error);
      throw error;
    }
  }

  /**
   * Starts a fresh session (no transcript, no stored file) on a sandbox of
   * the warm pool whose agent runs already, named for this session now: the
   * session's files and model are applied, and the message goes to the
   * runner at once. False when the pool has none that fits (or the one
   * taken died meanwhile): the caller starts one as usual. Rejects as
   * `start` does.
   */
  private async startWarm(onSpawned: (runner: RunnerConnection) => void): Promise<boolean> {
    const { warmPool, architecture, profile, sessionId, logger } = this.options;
    const { sessionOptions, nativeSessionId } = this.options.state.record;
    if (!warmPool || nativeSessionId !== undefined || this.options.state.storedFiles.size > 0) return false;
    const warm = await warmPool.take({
      profile,
      architecture: architecture.id,
      sessionOptions,
      sandboxName: sandboxNameFor(sessionId),
    });
    if (!warm) return false;
    const { sandbox, runner } = warm;
    if (this.closed) {
      await runner.stop().catch(() => undefined);
      await sandbox.terminate().catch(() => undefined);
      this.checkOpen();
    }
    this.clearIdleTimer();
    this.handlers.status({ sandboxStatus: "creating", error: undefined, queuePosition: undefined });
    try {
      sandbox.onLimit?.((limit) => {
        if (sandbox === this.sandboxValue) this.handlers.limit(limit);
      });
      this.sandboxValue = sandbox;
      this.armLifetimeTimer(sandbox);
      const launch = await this.restoreInto(sandbox);
      this.runner = runner;
      this.parser = architecture.createParser();
      this.options.state.agentRestarted();
      warm.assign(
        this.runnerHandlers(() => runner),
        this.stallWatch(() => sandbox).stallWatch?.onStall,
      );
      if (runner.exited) {
        this.runner = undefined;
        this.sandboxValue = undefined;
        await sandbox.terminate().catch(() => undefined);
        return false;
      }
      const model = architecture.runnerConfig(launch.input).model;
      if (model !== undefined && model !== warm.model) runner.send({ type: "set_model", model });
      onSpawned(runner);
      this.handlers.status({ sandboxStatus: "running", sandboxId: sandbox.id, agentPid: runner.pid });
      logger.info({ sandboxId: sandbox.id, agentPid: runner.pid }, "agent started (warm pool)");
      return true;
    } catch (error) {
      await this.startFailed(error);
      throw error;
    }
  }

  /** Writes the session's files, workspace and transcript into `sandbox` (see `prepareLaunch`). */
  private async restoreInto(sandbox: Sandbox) {
    const { sessionOptions, nativeSessionId } = this.options.state.record;
    const launch = await this.timed("workspace.restore", async () => {
      const prepared = await prepareLaunch(this.options, { sandbox, sessionOptions, nativeSessionId });
      // The marker goes first and comes back last: a start that fails in between leaves a workspace not to trust.
      await sandbox.deleteFile(prepared.marker.path);
      await sandbox.writeFiles(prepared.files);
      await sandbox.writeFiles([prepared.marker]);
      return prepared;
    });
    if (launch.transcript !== undefined) this.options.sync.transcriptRestored(launch.transcript);
    return launch;
  }

  /** A start failed: its sandbox goes, the status says why. */
  private async startFailed(error: unknown): Promise<void> {
    this.runner = undefined;
    const failed = this.sandboxValue;
    this.sandboxValue = undefined;
    await failed?.terminate().catch(() => undefined);
    // A closed process reports nothing more: its session said how it ended.
    if (this.closed) return;
    this.handlers.status({
      sandboxStatus: "error",
      sandboxId: undefined,
      agentPid: undefined,
      error: { code: RuntimeError.is(error) ? error.code : "SANDBOX_FAILED", message: errorMessage(error) },
    });
  }

  /** `work`, reported to the runtime's probes as the phase `name` of this session. */
  private timed<T>(name: "sandbox.create" | "workspace.restore" | "agent.start", work: () => Promise<T>) {
    const { probes, sessionId } = this.options;
    return probes ? probes.timed(sessionId, name, work) : work();
  }

  /**
   * The layer of the profile's dependencies, installed first when it is not
   * yet (the session shows `preparing` with the installer's last line meanwhile).
   */
  private async prepareLayer(): Promise<string | undefined> {
    const { dependencyLayers, profile, sandboxProvider, logger } = this.options;
    let lastReport = 0;
    const layer = await dependencyLayers.prepare(profile, sandboxProvider, {
      building: () => {
        logger.info({ profile: profile.id }, "installing the profile's dependencies");
        this.handlers.status({ sandboxStatus: "preparing", progress: undefined });
      },
      output: (line) => {
        const now = Date.now();
        if (now - lastReport < PROGRESS_INTERVAL_MS) return;
        lastReport = now;
        this.handlers.status({ sandboxStatus: "preparing", progress: line });
      },
    });
    this.handlers.status({ sandboxStatus: "creating", progress: undefined });
    return layer;
  }

  /** The model stall watch of a sandbox's egress: it reports while that sandbox is this session's. */
  private stallWatch(sandbox: () => Sandbox | undefined): Pick<SandboxNetworkPolicy, "stallWatch"> {
    const timeoutMs = this.options.modelStallTimeoutMs;
    if (timeoutMs <= 0) return {};
    const onStall = (stall: EgressStall) => {
      const current = sandbox();
      if (current && current === this.sandboxValue) this.handlers.modelStalled(stall);
    };
    return { stallWatch: { timeoutMs, onStall } };
  }

  /** What the parser makes of a native message, without a native session id that names no transcript. */
  private parse(message: unknown): AgentEvent[] {
    const { architecture, logger } = this.options;
    return (this.parser?.parse(message) ?? []).filter((event) => {
      if (event.kind !== "native_session" || namesTranscript(architecture, event.nativeSessionId))
        return true;
      logger.warn("ignored a native session id that names no valid transcript");
      return false;
    });
  }

  private connect(sandbox: Sandbox): RunnerConnection {
    const runner: RunnerConnection = new RunnerConnection(
      sandbox,
      this.runnerHandlers(() => runner),
      this.options.runnerLimits,
    );
    return runner;
  }

  /** What this session does with the output of `current()`, while it is its runner. */
  private runnerHandlers(current: () => RunnerConnection): RunnerHandlers {
    const { logger } = this.options;
    return {
      onOutput: (output) => {
        if (current() !== this.runner) return;
        if (output.type === "agent") this.handlers.agentEvents(this.parse(output.message));
        else if (output.type === "log") logger[output.level]({ source: "runner" }, output.message);
        else if (output.type !== "ready") this.handlers.output(output);
      },
      onInvalidLine: (line) => logger.warn({ line: line.slice(0, 200) }, "invalid runner output line"),
      onDropped: (dropped) => logger.warn(dropped, "runner lines dropped"),
      onViolation: (message) => {
        if (current() === this.runner) this.handlers.violation(message);
      },
      onStderr: (text) => logger.debug({ stderr: text.slice(0, 2000) }, "runner stderr"),
      onExit: (status) => {
        if (current() !== this.runner) return;
        clearTimeout(this.interruptTimer);
        this.runner = undefined;
        const exited = this.sandboxValue;
        this.sandboxValue = undefined;
        // The dead sandbox still holds the transcript and files of the last turn: save them, then
        // terminate it. Queued before a next start (which waits for syncs), so that start restores them.
        void this.options.sync
          .syncFrom(exited, async () => {
            await exited?.terminate().catch(() => undefined);
          })
          .catch(() => undefined);
        // Before the turn ends: ending it may start the next turn, whose status must win.
        if (!this.closed) this.terminated();
        const expiresAt = exited?.expiresAt;
        this.handlers.exited({
          status,
          ...(current().violation === undefined ? {} : { violation: current().violation }),
          ...(expiresAt !== undefined && Date.now() >= expiresAt ? { lifetimeEnded: true as const } : {}),
        });
      },
    };
  }
}
